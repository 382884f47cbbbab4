// qa_demapper: LLR sign and scale of the soft demappers (blocks/demapper.cpp) against the exact
// formulas. Convention (sim/block.hpp): llr = ln P(b=0|y) / P(b=1|y), y = x + CN(0, n0).
#define BOOST_TEST_MODULE qa_demapper
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <span>
#include <vector>

#include "blocks/blocks.hpp"
#include "channels/channels.hpp"
#include "qa_common.hpp"
#include "sim/random.hpp"

using namespace linksim;

namespace {

struct Soft {
  Bits hat;
  arma::vec llr;
};

Soft demap(DemapperKind kind, Modulation m, const Signal& y, const arma::vec& n0) {
  const Constellation c(m);
  const auto d = make_demapper(kind, c);
  Soft out;
  d->demap(Equalized{y, n0}, out.hat, out.llr);
  return out;
}

/// Noisy complex samples around uniformly chosen points of `m`, noise CN(0, n0) drawn here.
arma::cx_vec noisy_samples(Modulation m, std::size_t n, double n0, std::uint64_t seed) {
  const Constellation c(m);
  RandomStream rng(seed);
  std::vector<double> w(2 * n);
  rng.fill_normal(w, std::sqrt(n0 / 2));
  arma::cx_vec y(n);
  for (std::size_t i = 0; i < n; ++i) {
    const arma::uword label = rng.next_u64() % c.points().n_elem;
    y(i) = c.points()(label) + std::complex<double>(w[2 * i], w[2 * i + 1]);
  }
  return y;
}

/// Brute force, in long double: log sum_{s: bit b of s == v} exp(-|y - s|^2 / n0), or the max.
long double log_sum(const Constellation& c, std::complex<double> y, double n0, unsigned b,
                    unsigned v, bool max_only) {
  const unsigned k = c.bits_per_symbol();
  std::vector<long double> terms;
  for (unsigned s = 0; s < c.points().n_elem; ++s) {
    if (((s >> (k - 1 - b)) & 1U) != v) continue;  // label bits MSB first
    const std::complex<long double> d(static_cast<long double>(y.real()) - c.points()(s).real(),
                                      static_cast<long double>(y.imag()) - c.points()(s).imag());
    terms.push_back(-std::norm(d) / n0);
  }
  const long double mx = *std::max_element(terms.begin(), terms.end());
  if (max_only) return mx;
  long double sum = 0;
  for (long double t : terms) sum += std::exp(t - mx);
  return mx + std::log(sum);
}

double brute_llr(const Constellation& c, std::complex<double> y, double n0, unsigned b,
                 bool max_log) {
  return static_cast<double>(log_sum(c, y, n0, b, 0, max_log) - log_sum(c, y, n0, b, 1, max_log));
}

const Modulation kAll[] = {Modulation::Bpsk, Modulation::Qpsk, Modulation::Qam16};

}  // namespace

BOOST_AUTO_TEST_SUITE(closed_forms)

BOOST_AUTO_TEST_CASE(bpsk_llr_is_4y_over_n0) {
  arma::vec y = arma::linspace(-3.0, 3.0, 601);
  for (double n0 : {0.05, 0.3, 1.0, 4.0}) {
    for (DemapperKind kind : {DemapperKind::Exact, DemapperKind::MaxLog, DemapperKind::ItppLogMap,
                              DemapperKind::ItppMaxLog}) {
      // Real signal (AWGN) and complex signal with an arbitrary quadrature part (after fading):
      // the quadrature part carries no information about a BPSK bit.
      arma::cx_vec yc(y.n_elem);
      for (arma::uword i = 0; i < y.n_elem; ++i) yc(i) = {y(i), 0.37 * std::sin(7.0 * i)};
      for (const Signal& s : {Signal(y), Signal(yc)}) {
        const Soft out = demap(kind, Modulation::Bpsk, s, arma::vec{n0});
        BOOST_REQUIRE_EQUAL(out.llr.n_elem, y.n_elem);
        for (arma::uword i = 0; i < y.n_elem; ++i) {
          const double expect = 4.0 * y(i) / n0;
          BOOST_TEST(std::abs(out.llr(i) - expect) <= 1e-9 * std::max(1.0, std::abs(expect)),
                     "kind " << static_cast<int>(kind) << ", n0 " << n0 << ", y " << y(i) << ": "
                             << out.llr(i) << " vs " << expect);
          BOOST_TEST(out.hat(i) == (out.llr(i) < 0 ? 1 : 0));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(qpsk_llr_is_2sqrt2_y_over_n0) {
  for (double n0 : {0.05, 0.5, 2.0}) {
    const arma::cx_vec y = noisy_samples(Modulation::Qpsk, 5000, n0, 11);
    for (DemapperKind kind : {DemapperKind::Exact, DemapperKind::MaxLog, DemapperKind::ItppLogMap,
                              DemapperKind::ItppMaxLog}) {
      const Soft out = demap(kind, Modulation::Qpsk, Signal(y), arma::vec{n0});
      for (arma::uword i = 0; i < y.n_elem; ++i) {
        const double e0 = 2.0 * std::sqrt(2.0) * y(i).real() / n0;
        const double e1 = 2.0 * std::sqrt(2.0) * y(i).imag() / n0;
        BOOST_TEST(std::abs(out.llr(2 * i) - e0) <= 1e-9 * std::max(1.0, std::abs(e0)));
        BOOST_TEST(std::abs(out.llr(2 * i + 1) - e1) <= 1e-9 * std::max(1.0, std::abs(e1)));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(qam16_exact_llr_matches_brute_force_log_sum_exp) {
  const Constellation c(Modulation::Qam16);
  for (double n0 : {0.02, 0.1, 0.5, 2.0}) {
    const arma::cx_vec y = noisy_samples(Modulation::Qam16, 4000, n0, 12);
    const Soft exact = demap(DemapperKind::Exact, Modulation::Qam16, Signal(y), arma::vec{n0});
    const Soft maxlog = demap(DemapperKind::MaxLog, Modulation::Qam16, Signal(y), arma::vec{n0});
    for (arma::uword i = 0; i < y.n_elem; ++i) {
      for (unsigned b = 0; b < 4; ++b) {
        const double le = brute_llr(c, y(i), n0, b, false);
        const double lm = brute_llr(c, y(i), n0, b, true);
        BOOST_TEST(std::abs(exact.llr(4 * i + b) - le) <= 1e-9 * std::max(1.0, std::abs(le)),
                   "n0 " << n0 << " y " << y(i) << " bit " << b);
        BOOST_TEST(std::abs(maxlog.llr(4 * i + b) - lm) <= 1e-9 * std::max(1.0, std::abs(lm)));
        // Square Gray QAM separates into I and Q: each class sums 2 levels per dimension, so
        // max-log is within ln 2 of the exact LLR.
        BOOST_TEST(std::abs(maxlog.llr(4 * i + b) - exact.llr(4 * i + b)) <= std::log(2.0) + 1e-9);
        BOOST_TEST(exact.hat(4 * i + b) == (exact.llr(4 * i + b) < 0 ? 1 : 0));
      }
    }
  }
  // Far outside the constellation (log-sum-exp must not overflow or underflow).
  const arma::cx_vec far{{40.0, -40.0}, {-25.0, 0.1}, {0.0, 0.0}, {1e3, 1e3}};
  const Soft out = demap(DemapperKind::Exact, Modulation::Qam16, Signal(far), arma::vec{0.01});
  BOOST_TEST(out.llr.is_finite());
  for (arma::uword i = 0; i < far.n_elem; ++i) {
    for (unsigned b = 0; b < 4; ++b) {
      const double le = brute_llr(c, far(i), 0.01, b, false);
      BOOST_TEST(std::abs(out.llr(4 * i + b) - le) <= 1e-9 * std::max(1.0, std::abs(le)));
    }
  }
}

BOOST_AUTO_TEST_CASE(max_log_equals_exact_for_bpsk_and_qpsk) {
  for (Modulation m : {Modulation::Bpsk, Modulation::Qpsk}) {
    const arma::cx_vec y = noisy_samples(m, 3000, 0.7, 13);
    const Soft e = demap(DemapperKind::Exact, m, Signal(y), arma::vec{0.7});
    const Soft ml = demap(DemapperKind::MaxLog, m, Signal(y), arma::vec{0.7});
    BOOST_TEST(arma::abs(e.llr - ml.llr).max() <= 1e-9 * std::max(1.0, arma::abs(e.llr).max()));
  }
}

BOOST_AUTO_TEST_CASE(sign_convention_positive_favours_zero) {
  // At the point of label 0 every bit is 0: every LLR is positive; at the last label, negative.
  for (Modulation m : kAll) {
    const Constellation c(m);
    const arma::cx_vec y{c.points()(0), c.points()(c.points().n_elem - 1)};
    for (DemapperKind kind : {DemapperKind::Exact, DemapperKind::MaxLog, DemapperKind::ItppLogMap,
                              DemapperKind::ItppMaxLog}) {
      const Soft out = demap(kind, m, Signal(y), arma::vec{0.3});
      const unsigned k = c.bits_per_symbol();
      for (unsigned b = 0; b < k; ++b) {
        BOOST_TEST(out.llr(b) > 0.0, to_string(m)
                                         << " kind " << static_cast<int>(kind) << " bit " << b);
        BOOST_TEST(out.llr(k + b) < 0.0, to_string(m)
                                             << " kind " << static_cast<int>(kind) << " bit " << b);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(per_symbol_noise_variance) {
  // After a fading channel each symbol has its own n0 (n0 / |h|^2).
  for (Modulation m : kAll) {
    const Constellation c(m);
    const unsigned k = c.bits_per_symbol();
    const arma::cx_vec y = noisy_samples(m, 2000, 0.2, 14);
    arma::vec n0(y.n_elem);
    for (arma::uword i = 0; i < n0.n_elem; ++i) n0(i) = 0.02 + 0.002 * static_cast<double>(i % 997);
    for (DemapperKind kind : {DemapperKind::Exact, DemapperKind::MaxLog, DemapperKind::ItppLogMap,
                              DemapperKind::ItppMaxLog}) {
      const bool max_log = kind == DemapperKind::MaxLog || kind == DemapperKind::ItppMaxLog;
      const Soft out = demap(kind, m, Signal(y), n0);
      const double rel = (kind == DemapperKind::ItppLogMap) ? 1e-6 : 1e-9;
      for (arma::uword i = 0; i < y.n_elem; ++i) {
        for (unsigned b = 0; b < k; ++b) {
          const double expect = brute_llr(c, y(i), n0(i), b, max_log);
          BOOST_TEST(std::abs(out.llr(i * k + b) - expect) <= rel * std::max(1.0, std::abs(expect)),
                     to_string(m) << " kind " << static_cast<int>(kind) << " symbol " << i);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(itpp_reference)

BOOST_AUTO_TEST_CASE(itpp_logmap_matches_exact) {
  // IT++ sums exp() terms without rescaling, so compare where the LLRs are well inside the
  // double range (|y - s|^2 / n0 < 700 for the nearest point of each class).
  for (Modulation m : kAll) {
    for (double n0 : {0.05, 0.2, 1.0}) {
      const arma::cx_vec y = noisy_samples(m, 4000, n0, 15);
      const Soft e = demap(DemapperKind::Exact, m, Signal(y), arma::vec{n0});
      const Soft it = demap(DemapperKind::ItppLogMap, m, Signal(y), arma::vec{n0});
      BOOST_REQUIRE_EQUAL(e.llr.n_elem, it.llr.n_elem);
      const double worst = arma::abs(e.llr - it.llr).max();
      BOOST_TEST(worst <= 1e-6, to_string(m)
                                    << " n0 " << n0 << ": max |itpp_logmap - exact| = " << worst);
      BOOST_TEST(arma::accu(e.hat != it.hat) == 0U);
    }
  }
}

BOOST_AUTO_TEST_CASE(itpp_maxlog_matches_maxlog) {
  for (Modulation m : kAll) {
    for (double n0 : {0.01, 0.2, 1.0}) {
      const arma::cx_vec y = noisy_samples(m, 4000, n0, 16);
      const Soft ml = demap(DemapperKind::MaxLog, m, Signal(y), arma::vec{n0});
      const Soft it = demap(DemapperKind::ItppMaxLog, m, Signal(y), arma::vec{n0});
      const double worst = arma::max(arma::abs(ml.llr - it.llr) /
                                     arma::max(arma::ones(ml.llr.n_elem), arma::abs(ml.llr)));
      BOOST_TEST(worst <= 1e-9, to_string(m) << " n0 " << n0 << ": " << worst);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(calibration)

BOOST_AUTO_TEST_CASE(exact_llrs_are_calibrated_on_the_awgn_channel) {
  // End to end with the AWGN block: among bits whose exact LLR has magnitude near L, the fraction
  // decided wrongly is 1 / (1 + e^|L|). Per bin, errors are a sum of independent Bernoulli(p_i)
  // with p_i = 1/(1 + e^|L_i|): |errors - sum p_i| <= z sqrt(sum p_i (1 - p_i)). This ties the
  // channel's noise variance to the demapper's n0 convention.
  const double edges[] = {0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};
  const std::size_t n_bins = std::size(edges) - 1;
  for (Modulation m : kAll) {
    const auto mapper = make_mapper(m);
    const auto channel = make_awgn_channel();
    const auto demapper = make_demapper(DemapperKind::Exact, mapper->constellation());
    const unsigned k = mapper->constellation().bits_per_symbol();
    const double n0 = m == Modulation::Qam16 ? 0.1 : 0.5;
    std::vector<double> errors(n_bins, 0), expected(n_bins, 0), variance(n_bins, 0);
    RandomStream rng(77);
    for (int frame = 0; frame < 50; ++frame) {
      const std::size_t n_bits = 20000 * k;
      Bits bits(n_bits), hat;
      rng.fill_bits(std::span(bits.memptr(), n_bits));
      Signal x, y;
      ChannelState st;
      mapper->map(bits, x);
      channel->apply(x, n0, rng, y, st);
      arma::vec llr;
      demapper->demap(Equalized{y, arma::vec{n0}}, hat, llr);
      for (std::size_t i = 0; i < n_bits; ++i) {
        const double a = std::abs(llr(i));
        for (std::size_t j = 0; j < n_bins; ++j) {
          if (a >= edges[j] && a < edges[j + 1]) {
            const double p = 1.0 / (1.0 + std::exp(a));
            const bool wrong = (llr(i) < 0 ? 1 : 0) != bits(i);
            errors[j] += wrong ? 1 : 0;
            expected[j] += p;
            variance[j] += p * (1 - p);
            break;
          }
        }
      }
    }
    for (std::size_t j = 0; j < n_bins; ++j) {
      BOOST_TEST(variance[j] > 10.0);  // every bin is populated
      BOOST_TEST(std::abs(errors[j] - expected[j]) <= qa::kZ * std::sqrt(variance[j]),
                 to_string(m) << " |L| in [" << edges[j] << ", " << edges[j + 1]
                              << "): " << errors[j] << " errors, expected " << expected[j]);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
