// qa_random: RandomStream and derive_seed (sim/random.hpp).
// Statistical checks use kZ-sigma tolerances derived from the sample size and the known moments of
// the target distribution; determinism checks are exact.
#define BOOST_TEST_MODULE qa_random
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <set>
#include <span>
#include <vector>

#include "qa_common.hpp"
#include "sim/random.hpp"

using linksim::RandomStream;
using qa::kZ;

namespace {

std::vector<double> normals(std::uint64_t seed, std::size_t n, double stddev = 1.0) {
  RandomStream rng(seed);
  std::vector<double> v(n);
  rng.fill_normal(v, stddev);
  return v;
}

struct Moments {
  double mean = 0, m2 = 0, m4 = 0;  // raw moments about 0
  std::size_t non_finite = 0;
};

Moments moments(const std::vector<double>& v, double scale = 1.0) {
  Moments m;
  long double s1 = 0, s2 = 0, s4 = 0;
  for (double x : v) {
    if (!std::isfinite(x)) {
      ++m.non_finite;
      continue;
    }
    const long double z = x / scale;
    s1 += z;
    s2 += z * z;
    s4 += z * z * z * z;
  }
  const auto n = static_cast<long double>(v.size());
  m.mean = static_cast<double>(s1 / n);
  m.m2 = static_cast<double>(s2 / n);
  m.m4 = static_cast<double>(s4 / n);
  return m;
}

/// Checks the first, second and fourth moments of N(0, 1) samples (after dividing by `scale`):
/// the sample mean has variance 1/n, the mean of z^2 variance 2/n, the mean of z^4 variance
/// (E z^8 - (E z^4)^2)/n = (105 - 9)/n.
void check_standard_normal_moments(const std::vector<double>& v, double scale = 1.0) {
  const Moments m = moments(v, scale);
  const double n = static_cast<double>(v.size());
  BOOST_TEST(m.non_finite == 0U);
  BOOST_TEST(std::abs(m.mean) <= kZ * std::sqrt(1.0 / n), "mean " << m.mean);
  BOOST_TEST(std::abs(m.m2 - 1.0) <= kZ * std::sqrt(2.0 / n), "variance " << m.m2);
  BOOST_TEST(std::abs(m.m4 - 3.0) <= kZ * std::sqrt(96.0 / n), "E z^4 " << m.m4);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(determinism)

BOOST_AUTO_TEST_CASE(same_seed_gives_same_stream) {
  for (std::uint64_t seed : {0ULL, 1ULL, 12345ULL, 0xffffffffffffffffULL}) {
    RandomStream a(seed), b(seed);
    for (int i = 0; i < 1000; ++i) BOOST_REQUIRE_EQUAL(a.next_u64(), b.next_u64());
    std::vector<std::uint8_t> ba(10007), bb(10007);
    a.fill_bits(ba);
    b.fill_bits(bb);
    BOOST_TEST(ba == bb);
    std::vector<double> na(10007), nb(10007);
    a.fill_normal(na, 0.7);
    b.fill_normal(nb, 0.7);
    BOOST_TEST(std::memcmp(na.data(), nb.data(), na.size() * sizeof(double)) == 0);
    std::vector<double> ua(333), ub(333);
    a.fill_uniform(ua);
    b.fill_uniform(ub);
    BOOST_TEST(ua == ub);
    for (int i = 0; i < 101; ++i) {
      BOOST_REQUIRE_EQUAL(a.normal(), b.normal());
      BOOST_REQUIRE_EQUAL(a.uniform(), b.uniform());
    }
  }
}

BOOST_AUTO_TEST_CASE(different_seeds_give_different_streams) {
  const auto a = normals(1, 4096);
  const auto b = normals(2, 4096);
  std::size_t equal = 0;
  for (std::size_t i = 0; i < a.size(); ++i) equal += a[i] == b[i] ? 1 : 0;
  BOOST_TEST(equal == 0U);

  RandomStream r1(7), r2(8);
  std::size_t equal_words = 0;
  for (int i = 0; i < 1000; ++i) equal_words += r1.next_u64() == r2.next_u64() ? 1 : 0;
  BOOST_TEST(equal_words == 0U);

  // Streams of neighbouring seeds are uncorrelated: |corr| within kZ / sqrt(n).
  const std::size_t n = 200000;
  const auto x = normals(1000, n);
  const auto y = normals(1001, n);
  double sxy = 0;
  for (std::size_t i = 0; i < n; ++i) sxy += x[i] * y[i];
  BOOST_TEST(std::abs(sxy / static_cast<double>(n)) <= kZ / std::sqrt(static_cast<double>(n)));
}

BOOST_AUTO_TEST_CASE(derive_seed_is_a_function_of_all_three_indices) {
  std::set<std::uint64_t> seen;
  std::size_t count = 0;
  for (std::uint64_t s = 0; s < 4; ++s) {
    for (std::uint64_t p = 0; p < 50; ++p) {
      for (std::uint64_t f = 0; f < 1000; ++f) {
        seen.insert(linksim::derive_seed(s, p, f));
        ++count;
      }
    }
  }
  BOOST_TEST(seen.size() == count);  // no collisions among 200000 triples
  BOOST_TEST(linksim::derive_seed(1, 2, 3) == linksim::derive_seed(1, 2, 3));
  BOOST_TEST(linksim::derive_seed(1, 2, 3) != linksim::derive_seed(1, 3, 2));
  BOOST_TEST(linksim::derive_seed(1, 2, 3) != linksim::derive_seed(2, 1, 3));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(normal)

BOOST_AUTO_TEST_CASE(fill_normal_moments) {
  const auto v = normals(20240601, 4000000);
  check_standard_normal_moments(v);
}

BOOST_AUTO_TEST_CASE(fill_normal_scales_by_stddev) {
  const double sd = 0.37;
  const auto v = normals(99, 2000000, sd);
  check_standard_normal_moments(v, sd);
}

BOOST_AUTO_TEST_CASE(fill_normal_tail_probabilities) {
  const std::size_t n = 4000000;
  const auto v = normals(424242, n);
  // 3.44 is where the 128-layer ziggurat's tail algorithm takes over.
  for (double t : {1.0, 2.0, 3.0, 3.5, 4.0, 4.5}) {
    const double p = std::erfc(t / std::sqrt(2.0));  // P(|z| > t)
    const auto beyond =
        std::count_if(v.begin(), v.end(), [t](double x) { return std::abs(x) > t; });
    const double p_hat = static_cast<double>(beyond) / static_cast<double>(n);
    BOOST_TEST(std::abs(p_hat - p) <= qa::binomial_tolerance(p, static_cast<double>(n)),
               "P(|z| > " << t << "): " << p_hat << " vs " << p);
    // Both tails alike.
    const auto upper = std::count_if(v.begin(), v.end(), [t](double x) { return x > t; });
    const double pu = static_cast<double>(upper) / static_cast<double>(n);
    BOOST_TEST(std::abs(pu - p / 2) <= qa::binomial_tolerance(p / 2, static_cast<double>(n)),
               "P(z > " << t << "): " << pu << " vs " << p / 2);
  }
}

BOOST_AUTO_TEST_CASE(fill_normal_kolmogorov_smirnov) {
  // KS statistic D_n against Phi; P(sqrt(n) D_n > c) <= 2 exp(-2 c^2) (DKW), so with
  // c = sqrt(ln(2/alpha)/2), alpha = 1e-6, a correct generator fails once in a million.
  const std::size_t n = 1000000;
  auto v = normals(777, n);
  std::sort(v.begin(), v.end());
  double d = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double cdf = 0.5 * std::erfc(-v[i] / std::sqrt(2.0));
    d = std::max({d, std::abs(cdf - static_cast<double>(i) / n),
                  std::abs(static_cast<double>(i + 1) / n - cdf)});
  }
  const double c = std::sqrt(std::log(2.0 / 1e-6) / 2.0);
  BOOST_TEST(d <= c / std::sqrt(static_cast<double>(n)), "KS D = " << d);
}

BOOST_AUTO_TEST_CASE(fill_normal_chi_square_on_equiprobable_bins) {
  // B bins of probability 1/B each (by Phi); Pearson's statistic is chi-square with B - 1 degrees
  // of freedom. Threshold: its 1 - 1e-6 quantile by the Wilson-Hilferty approximation
  // (z = 4.753). Fine bins catch density errors a KS test misses (e.g. in single ziggurat wedges).
  const std::size_t n = 4000000, bins = 400;
  const auto v = normals(8642, n);
  std::vector<double> count(bins, 0.0);
  for (double x : v) {
    const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
    count[std::min(bins - 1, static_cast<std::size_t>(cdf * bins))] += 1;
  }
  const double e = static_cast<double>(n) / bins;
  double chi2 = 0;
  for (double c : count) chi2 += (c - e) * (c - e) / e;
  const double k = bins - 1.0;
  const double limit = k * std::pow(1 - 2 / (9 * k) + 4.753 * std::sqrt(2 / (9 * k)), 3);
  BOOST_TEST(chi2 <= limit, "chi-square " << chi2 << " with " << k << " dof, limit " << limit);
}

BOOST_AUTO_TEST_CASE(fill_normal_samples_are_uncorrelated) {
  // Lags that cover neighbours, the SIMD lanes and the two halves of a Box-Muller block.
  // For independent N(0,1): E[z_i z_j] = 0 with variance 1/n; E[(z_i^2-1)(z_j^2-1)] = 0 with
  // variance 4/n.
  const std::size_t n = 2000000;
  const auto v = normals(31337, n + 1024);
  for (std::size_t lag : {1U, 2U, 3U, 4U, 8U, 16U, 64U, 256U, 512U}) {
    long double c1 = 0, c2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
      c1 += v[i] * v[i + lag];
      c2 += (v[i] * v[i] - 1.0) * (v[i + lag] * v[i + lag] - 1.0);
    }
    const double r1 = static_cast<double>(c1 / n), r2 = static_cast<double>(c2 / n);
    BOOST_TEST(std::abs(r1) <= kZ * std::sqrt(1.0 / n), "lag " << lag << ": E[z z'] = " << r1);
    BOOST_TEST(std::abs(r2) <= kZ * std::sqrt(4.0 / n),
               "lag " << lag << ": E[(z^2-1)(z'^2-1)] = " << r2);
  }
}

BOOST_AUTO_TEST_CASE(fill_normal_in_odd_sized_pieces) {
  // Remainders of every size go through the tail paths of the fill: all samples must be finite
  // and standard normal, and nothing may be written past the end of the span.
  RandomStream rng(555);
  std::vector<double> all;
  const std::size_t sizes[] = {1,  2,  3,   5,   7,   9,   15,  17,   31,   33,
                               63, 65, 127, 255, 257, 511, 513, 1023, 1025, 4099};
  while (all.size() < 2000000) {
    for (std::size_t s : sizes) {
      std::vector<double> buf(s + 8, 12345.0);
      rng.fill_normal(std::span(buf.data(), s), 1.0);
      for (std::size_t i = s; i < buf.size(); ++i) BOOST_REQUIRE_EQUAL(buf[i], 12345.0);
      all.insert(all.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(s));
    }
  }
  check_standard_normal_moments(all);
}

BOOST_AUTO_TEST_CASE(scalar_normal_moments) {
  RandomStream rng(4711);
  std::vector<double> v(1000000);
  for (double& x : v) x = rng.normal();
  check_standard_normal_moments(v);
  const double p = std::erfc(3.5 / std::sqrt(2.0));
  const double tail = static_cast<double>(
      std::count_if(v.begin(), v.end(), [](double x) { return std::abs(x) > 3.5; }));
  BOOST_TEST(std::abs(tail / 1e6 - p) <= qa::binomial_tolerance(p, 1e6));
}

BOOST_AUTO_TEST_CASE(fill_normal_mixed_with_other_draws) {
  // Interleaving fill_normal with next_u64/uniform/fill_bits (which share the generator state and
  // its word buffer) keeps every kind of output correct.
  RandomStream rng(97);
  std::vector<double> all;
  std::vector<double> buf(1000);
  std::vector<std::uint8_t> bits(77);
  double u = 0;
  while (all.size() < 1000000) {
    rng.fill_normal(buf, 1.0);
    all.insert(all.end(), buf.begin(), buf.end());
    all.push_back(rng.normal());
    u += rng.uniform();
    rng.next_u64();
    rng.fill_bits(bits);
  }
  check_standard_normal_moments(all);
  const double m = static_cast<double>(all.size()) / 1001.0;
  BOOST_TEST(std::abs(u / m - 0.5) <= kZ * std::sqrt(1.0 / 12.0 / m));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bits_and_uniforms)

BOOST_AUTO_TEST_CASE(fill_bits_balance) {
  const std::size_t n = 4000000 + 13;  // not a multiple of 64
  RandomStream rng(2718);
  std::vector<std::uint8_t> b(n + 16, 0xAA);
  rng.fill_bits(std::span(b.data(), n));
  for (std::size_t i = n; i < b.size(); ++i) BOOST_REQUIRE_EQUAL(b[i], 0xAA);
  BOOST_TEST(std::all_of(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n),
                         [](std::uint8_t x) { return x <= 1; }));
  const double ones =
      static_cast<double>(std::count(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n), 1));
  const double dn = static_cast<double>(n);
  BOOST_TEST(std::abs(ones / dn - 0.5) <= qa::binomial_tolerance(0.5, dn),
             "fraction of ones " << ones / dn);

  // Every bit position of the underlying 64-bit words is balanced.
  for (std::size_t pos = 0; pos < 64; ++pos) {
    double k = 0, m = 0;
    for (std::size_t i = pos; i < n; i += 64, m += 1) k += b[i];
    BOOST_TEST(std::abs(k / m - 0.5) <= qa::binomial_tolerance(0.5, m),
               "position " << pos << ": " << k / m);
  }
  // Neighbours are independent: P(b_i == b_{i+1}) = 1/2.
  double same = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) same += b[i] == b[i + 1] ? 1 : 0;
  BOOST_TEST(std::abs(same / (dn - 1) - 0.5) <= qa::binomial_tolerance(0.5, dn - 1));
}

BOOST_AUTO_TEST_CASE(fill_bits_small_sizes) {
  RandomStream rng(3);
  std::size_t ones = 0, total = 0;
  for (std::size_t s = 1; s <= 200; ++s) {
    std::vector<std::uint8_t> b(s + 8, 7);
    rng.fill_bits(std::span(b.data(), s));
    for (std::size_t i = 0; i < s; ++i) BOOST_REQUIRE(b[i] <= 1);
    for (std::size_t i = s; i < b.size(); ++i) BOOST_REQUIRE_EQUAL(b[i], 7);
    ones += static_cast<std::size_t>(
        std::count(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(s), 1));
    total += s;
  }
  const double dn = static_cast<double>(total);
  BOOST_TEST(std::abs(static_cast<double>(ones) / dn - 0.5) <= qa::binomial_tolerance(0.5, dn));
}

BOOST_AUTO_TEST_CASE(uniforms) {
  const std::size_t n = 2000000;
  RandomStream rng(161803);
  std::vector<double> u(n);
  rng.fill_uniform(u);
  BOOST_TEST(std::all_of(u.begin(), u.end(), [](double x) { return x >= 0.0 && x < 1.0; }));
  const double mean = std::accumulate(u.begin(), u.end(), 0.0) / n;
  double m2 = 0;
  for (double x : u) m2 += (x - 0.5) * (x - 0.5);
  m2 /= n;
  // Var(U) = 1/12; Var((U - 1/2)^2) = 1/80 - 1/144.
  BOOST_TEST(std::abs(mean - 0.5) <= kZ * std::sqrt(1.0 / 12.0 / n));
  BOOST_TEST(std::abs(m2 - 1.0 / 12.0) <= kZ * std::sqrt((1.0 / 80.0 - 1.0 / 144.0) / n));
  // Deciles: each holds 1/10 of the samples.
  std::vector<double> count(10, 0.0);
  for (double x : u) count[static_cast<std::size_t>(x * 10)] += 1;
  for (double c : count) BOOST_TEST(std::abs(c / n - 0.1) <= qa::binomial_tolerance(0.1, n));

  double s = 0;
  for (std::size_t i = 0; i < n / 4; ++i) {
    const double x = rng.uniform();
    BOOST_REQUIRE(x >= 0.0 && x < 1.0);
    s += x;
  }
  BOOST_TEST(std::abs(s / (n / 4) - 0.5) <= kZ * std::sqrt(1.0 / 12.0 / (n / 4)));
}

BOOST_AUTO_TEST_SUITE_END()
