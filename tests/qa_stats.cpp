// qa_stats: the Clopper-Pearson interval (sim/stats.hpp), checked against its defining equations
//   P(X >= k | p_low) = alpha/2,  P(X <= k | p_high) = alpha/2,  X ~ Binomial(n, p),
// evaluated here by direct summation of the binomial terms, and against the closed forms for
// k = 0 and k = n.
#define BOOST_TEST_MODULE qa_stats
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <utility>

#include "sim/stats.hpp"

using linksim::clopper_pearson;

namespace {

/// P(X = i) for X ~ Binomial(n, p), in long double via lgamma.
long double binom_pmf(std::uint64_t i, std::uint64_t n, long double p) {
  const long double ln =
      std::lgamma(static_cast<long double>(n) + 1) - std::lgamma(static_cast<long double>(i) + 1) -
      std::lgamma(static_cast<long double>(n - i) + 1) + i * std::log(p) + (n - i) * std::log1p(-p);
  return std::exp(ln);
}

/// P(X <= k).
long double binom_cdf(std::uint64_t k, std::uint64_t n, long double p) {
  long double s = 0;
  for (std::uint64_t i = 0; i <= k; ++i) s += binom_pmf(i, n, p);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(zero_errors_closed_form) {
  for (std::uint64_t n : {1ULL, 10ULL, 1000ULL, 1000000ULL, 10000000000ULL}) {
    const auto [lo, hi] = clopper_pearson(0, n);
    const double dn = static_cast<double>(n);
    BOOST_TEST(lo == 0.0);
    // 1 - 0.025^(1/n), as -expm1(ln(0.025)/n) to keep its digits for large n.
    const double expect = -std::expm1(std::log(0.025) / dn);
    BOOST_TEST(std::abs(hi - expect) <= 1e-9 * expect, "n " << n << ": " << hi << " vs " << expect);
    // 99%: 1 - 0.005^(1/n).
    const auto [lo99, hi99] = clopper_pearson(0, n, 0.99);
    BOOST_TEST(lo99 == 0.0);
    const double expect99 = -std::expm1(std::log(0.005) / dn);
    BOOST_TEST(std::abs(hi99 - expect99) <= 1e-9 * expect99,
               "n " << n << ": " << hi99 << " vs " << expect99);
  }
}

BOOST_AUTO_TEST_CASE(all_errors_closed_form) {
  for (std::uint64_t n : {1ULL, 7ULL, 500ULL}) {
    const auto [lo, hi] = clopper_pearson(n, n);
    BOOST_TEST(hi == 1.0);
    BOOST_TEST(std::abs(lo - std::pow(0.025, 1.0 / static_cast<double>(n))) <= 1e-9);
  }
}

BOOST_AUTO_TEST_CASE(no_trials) {
  const auto [lo, hi] = clopper_pearson(0, 0);
  BOOST_TEST(lo == 0.0);
  BOOST_TEST(hi == 1.0);
}

BOOST_AUTO_TEST_CASE(defining_equations) {
  const std::pair<std::uint64_t, std::uint64_t> cases[] = {
      {1, 10},    {5, 10},     {9, 10},        {3, 100},        {50, 100},
      {17, 1000}, {998, 1000}, {200, 1000000}, {10, 1000000000}};
  for (double conf : {0.95, 0.99, 0.6827}) {
    const long double half_alpha = (1.0L - conf) / 2;
    for (const auto& [k, n] : cases) {
      const auto [lo, hi] = clopper_pearson(k, n, conf);
      const double est = static_cast<double>(k) / static_cast<double>(n);
      BOOST_TEST((lo < est && est < hi), k << "/" << n << ": [" << lo << ", " << hi << "]");
      const long double upper_tail_at_lo = 1 - binom_cdf(k - 1, n, lo);  // P(X >= k | lo)
      const long double lower_tail_at_hi = binom_cdf(k, n, hi);          // P(X <= k | hi)
      BOOST_TEST(std::abs(static_cast<double>(upper_tail_at_lo / half_alpha - 1)) <= 1e-6,
                 k << "/" << n << " conf " << conf
                   << ": P(X >= k | low) = " << static_cast<double>(upper_tail_at_lo));
      BOOST_TEST(std::abs(static_cast<double>(lower_tail_at_hi / half_alpha - 1)) <= 1e-6,
                 k << "/" << n << " conf " << conf
                   << ": P(X <= k | high) = " << static_cast<double>(lower_tail_at_hi));
    }
  }
}

BOOST_AUTO_TEST_CASE(known_values) {
  // Textbook 95% Clopper-Pearson intervals.
  const auto [lo1, hi1] = clopper_pearson(5, 10);
  BOOST_TEST(std::abs(lo1 - 0.187086) <= 1e-6);
  BOOST_TEST(std::abs(hi1 - 0.812914) <= 1e-6);
  const auto [lo2, hi2] = clopper_pearson(1, 10);
  BOOST_TEST(std::abs(lo2 - 0.002529) <= 1e-6);
  BOOST_TEST(std::abs(hi2 - 0.445016) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(wider_for_higher_confidence_narrower_for_more_trials) {
  const auto [a_lo, a_hi] = clopper_pearson(30, 1000, 0.95);
  const auto [b_lo, b_hi] = clopper_pearson(30, 1000, 0.99);
  BOOST_TEST(b_lo < a_lo);
  BOOST_TEST(b_hi > a_hi);
  const auto [c_lo, c_hi] = clopper_pearson(300, 10000, 0.95);
  BOOST_TEST(c_hi - c_lo < a_hi - a_lo);
}

// ---- ber_interval95: Clopper-Pearson on bits, widened to the frame-level interval ----

namespace {

struct FrameErrors {
  std::uint64_t bits = 0, errors = 0, frames = 0;
  double sumsq = 0;
  void add(std::uint64_t frame_bits, std::uint64_t e) {
    bits += frame_bits;
    errors += e;
    ++frames;
    sumsq += static_cast<double>(e) * static_cast<double>(e);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(ber_interval_definition) {
  // frames < 2: the Clopper-Pearson interval.
  BOOST_TEST((linksim::ber_interval95(7, 1000, 1, 49.0) == clopper_pearson(7, 1000)));
  BOOST_TEST((linksim::ber_interval95(0, 0, 0, 0.0) == clopper_pearson(0, 0)));
  // Errors concentrated in few frames: 10 frames of 100 bits, all 50 errors in one frame.
  // Frame-level: mean 5 errors/frame, s^2 = (2500 - 10 * 25) / 9 = 250, half width
  // 1.96 * sqrt(250 / 10) / 100 = 0.098, around ber 0.05.
  const auto [lo, hi] = linksim::ber_interval95(50, 1000, 10, 2500.0);
  const auto [cp_lo, cp_hi] = clopper_pearson(50, 1000);
  const double half = 1.959963984540054 * std::sqrt(250.0 / 10.0) / 100.0;
  BOOST_TEST(lo == 0.0);  // 0.05 - 0.098 < 0, clamped
  BOOST_TEST(std::abs(hi - (0.05 + half)) <= 1e-12);
  BOOST_TEST(hi > cp_hi);
  BOOST_TEST(cp_lo > 0.0);
  // Never narrower than Clopper-Pearson; equal errors in every frame give zero frame variance.
  const auto [e_lo, e_hi] = linksim::ber_interval95(100, 10000, 100, 100.0);
  BOOST_TEST((std::make_pair(e_lo, e_hi) == clopper_pearson(100, 10000)));
}

BOOST_AUTO_TEST_CASE(ber_interval_for_iid_errors_is_about_clopper_pearson) {
  // Binomial errors per frame: the frame-level interval has the same width to first order.
  std::mt19937_64 gen(5);
  std::binomial_distribution<std::uint64_t> frame_errors(1000, 0.01);
  FrameErrors c;
  for (int f = 0; f < 2000; ++f) c.add(1000, frame_errors(gen));
  const auto [lo, hi] = linksim::ber_interval95(c.errors, c.bits, c.frames, c.sumsq);
  const auto [cp_lo, cp_hi] = clopper_pearson(c.errors, c.bits);
  BOOST_TEST(lo <= cp_lo);
  BOOST_TEST(hi >= cp_hi);
  BOOST_TEST((hi - lo) / (cp_hi - cp_lo) <= 1.15);
}

BOOST_AUTO_TEST_CASE(ber_interval_covers_clustered_errors) {
  // Fading-like errors: a frame is in a deep fade with probability q (error rate 0.2), else
  // nearly clean (0.001). True BER p = 0.2 q + 0.001 (1 - q). Over R independent runs of
  // `frames` frames, the 95% interval must cover p in about 95% of the runs; plain
  // Clopper-Pearson on bits, which assumes independent bits, covers far less.
  const int runs = 2000, frames = 1000;
  const std::uint64_t frame_bits = 1000;
  const double q = 0.05, p = 0.2 * q + 0.001 * (1 - q);
  std::mt19937_64 gen(11);
  std::bernoulli_distribution fade(q);
  std::binomial_distribution<std::uint64_t> bad(frame_bits, 0.2), good(frame_bits, 0.001);
  int covered = 0, cp_covered = 0;
  for (int r = 0; r < runs; ++r) {
    FrameErrors c;
    for (int f = 0; f < frames; ++f) c.add(frame_bits, fade(gen) ? bad(gen) : good(gen));
    const auto [lo, hi] = linksim::ber_interval95(c.errors, c.bits, c.frames, c.sumsq);
    const auto [cp_lo, cp_hi] = clopper_pearson(c.errors, c.bits);
    covered += (lo <= p && p <= hi) ? 1 : 0;
    cp_covered += (cp_lo <= p && p <= cp_hi) ? 1 : 0;
  }
  const double coverage = static_cast<double>(covered) / runs;
  const double cp_coverage = static_cast<double>(cp_covered) / runs;
  // Allowed: the 5-sigma binomial spread of the coverage estimate plus 0.01 for the normal
  // approximation of a mean over 1000 skewed frames.
  BOOST_TEST(coverage >= 0.95 - 0.01 - 5 * std::sqrt(0.95 * 0.05 / runs), "coverage " << coverage);
  BOOST_TEST(cp_coverage < 0.8,
             "Clopper-Pearson coverage " << cp_coverage << " (the errors are not clustered?)");
}
