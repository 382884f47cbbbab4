// qa_theory: sim/theory.hpp and sim/snr.hpp against formulas derived independently here:
// Q from erfc, the 16-QAM Gray BER from the per-dimension 4-PAM decision regions, and the Rayleigh
// BER by numerically averaging the AWGN BER over the exponential distribution of |h|^2.
#define BOOST_TEST_MODULE qa_theory
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <bit>
#include <cmath>

#include "qa_common.hpp"
#include "sim/snr.hpp"
#include "sim/theory.hpp"

using namespace linksim;
using qa::q;

namespace {

/// Gray 4-PAM at levels {-3,-1,1,3} d with labels 00,01,11,10 (two bits, MSB first) in N(0, s^2)
/// noise and nearest-level decisions: the average bit error probability, summed region by region.
double pam4_gray_ber(double d, double s) {
  const double levels[4] = {-3, -1, 1, 3};
  const unsigned labels[4] = {0b00, 0b01, 0b11, 0b10};
  // Decision regions: (-inf,-2d), [-2d,0), [0,2d), [2d,inf).
  const double edges[5] = {-INFINITY, -2, 0, 2, INFINITY};
  double errors = 0;
  for (int t = 0; t < 4; ++t) {
    for (int r = 0; r < 4; ++r) {
      // P(sample in region r | level t)
      const double lo = edges[r] * d - levels[t] * d, hi = edges[r + 1] * d - levels[t] * d;
      // Probability of [lo, hi) under N(0, s^2), from the tail on the side away from 0 (no
      // cancellation against 1).
      const double p = lo >= 0   ? q(lo / s) - q(hi / s)
                       : hi <= 0 ? q(-hi / s) - q(-lo / s)
                                 : 1 - q(-lo / s) - q(hi / s);
      errors += p * std::popcount(labels[t] ^ labels[r]);
    }
  }
  return errors / (4 * 2);  // 4 equiprobable levels, 2 bits each
}

}  // namespace

BOOST_AUTO_TEST_CASE(q_function_from_erfc) {
  for (double x : {-3.0, -1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 7.0}) {
    const double expect = 0.5 * std::erfc(x / std::sqrt(2.0));
    BOOST_TEST(std::abs(q_function(x) - expect) <= 1e-15 * expect);
  }
  BOOST_TEST(q_function(0.0) == 0.5);
  BOOST_TEST(std::abs(q_function(1.0) - 0.15865525393145707) <= 1e-15);
  BOOST_TEST(std::abs(q_function(3.0) - 1.3498980316301e-3) <= 1e-15);
}

BOOST_AUTO_TEST_CASE(bpsk_and_qpsk_awgn) {
  for (double db = -5; db <= 12; db += 0.5) {
    const double g = qa::db_to_linear(db);
    const double expect = q(std::sqrt(2 * g));
    BOOST_TEST(std::abs(ber_awgn(Modulation::Bpsk, g) / expect - 1) <= 1e-12);
    BOOST_TEST(std::abs(ber_awgn(Modulation::Qpsk, g) / expect - 1) <= 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(qam16_awgn_from_decision_regions) {
  // Unit-energy 16-QAM: d = 1/sqrt(10) per dimension; Es = 4 Eb; noise N(0, N0/2) per dimension.
  for (double db = -2; db <= 16; db += 1) {
    const double g = qa::db_to_linear(db);
    const double n0 = 1.0 / (4 * g);
    const double expect = pam4_gray_ber(1.0 / std::sqrt(10.0), std::sqrt(n0 / 2));
    BOOST_TEST(std::abs(ber_awgn(Modulation::Qam16, g) / expect - 1) <= 1e-9,
               db << " dB: " << ber_awgn(Modulation::Qam16, g) << " vs " << expect);
  }
}

BOOST_AUTO_TEST_CASE(rayleigh_bpsk_by_numerical_average) {
  // E_{x ~ Exp(1)} Q(sqrt(2 g x)) with x = u^2 (smooth integrand 2u e^{-u^2} Q(sqrt(2g) u)),
  // midpoint rule on u in [0, sqrt(60)] (the Exp(1) tail beyond 60 is e^-60).
  for (double db : {0.0, 5.0, 10.0, 20.0, 30.0}) {
    const double g = qa::db_to_linear(db);
    const int n = 1000000;
    const double umax = std::sqrt(60.0), h = umax / n;
    long double sum = 0;
    for (int i = 0; i < n; ++i) {
      const double u = (i + 0.5) * h;
      sum += 2 * u * std::exp(-u * u) * q(std::sqrt(2 * g) * u) * h;
    }
    const double expect = static_cast<double>(sum);
    BOOST_TEST(std::abs(ber_rayleigh_bpsk(g) / expect - 1) <= 1e-6, db << " dB");
  }
}

BOOST_AUTO_TEST_CASE(snr_conventions) {
  for (unsigned k : {1U, 2U, 4U}) {
    for (double db : {-3.0, 0.0, 7.5}) {
      const SnrPoint eb = make_snr_point(SnrKind::EbN0, db, k);
      BOOST_TEST(eb.ebn0_db == db);
      BOOST_TEST(std::abs(eb.esn0_db - (db + 10 * std::log10(k))) <= 1e-12);
      // Es = 1 = k Eb, n0 = Es / (Es/N0) = 1 / (k Eb/N0).
      BOOST_TEST(std::abs(eb.n0 * k * qa::db_to_linear(db) - 1) <= 1e-12);
      const SnrPoint es = make_snr_point(SnrKind::EsN0, db, k);
      BOOST_TEST(es.esn0_db == db);
      BOOST_TEST(std::abs(es.ebn0_db - (db - 10 * std::log10(k))) <= 1e-12);
      BOOST_TEST(std::abs(es.n0 * qa::db_to_linear(db) - 1) <= 1e-12);
    }
  }
}
