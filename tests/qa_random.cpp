// qa_random: RandomStream and derive_seed (sim/random.hpp), and the portable and AVX2 kernels
// (sim/random*.cpp, sim/kernels*.cpp) giving the same bits.
// Statistical checks use kZ-sigma tolerances derived from the sample size and the known moments of
// the target distribution; determinism checks are exact. Both Gaussian generators (fill_normal:
// 64-bit words; add_normal: the single-word ziggurat, 32 bits per sample) go through every
// statistical check.
#define BOOST_TEST_MODULE qa_random
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>
#include <span>
#include <vector>

#include "qa_common.hpp"
#include "sim/cpu.hpp"
#include "sim/kernels.hpp"
#include "sim/random.hpp"

using linksim::RandomStream;
using qa::kZ;

namespace {

/// The two Gaussian generators of RandomStream.
enum class Gen { FillNormal, AddNormal };
constexpr Gen kGens[] = {Gen::FillNormal, Gen::AddNormal};
const char* name(Gen g) {
  return g == Gen::FillNormal ? "fill_normal" : "add_normal";
}

/// Fills `out` with N(0, stddev^2) samples (add_normal adds them to zeros).
void draw(RandomStream& rng, Gen g, std::span<double> out, double stddev) {
  if (g == Gen::FillNormal) {
    rng.fill_normal(out, stddev);
    return;
  }
  const std::vector<double> zeros(out.size(), 0.0);
  rng.add_normal(out, zeros, stddev);
}

std::vector<double> normals(std::uint64_t seed, std::size_t n, double stddev = 1.0,
                            Gen g = Gen::FillNormal) {
  RandomStream rng(seed);
  std::vector<double> v(n);
  draw(rng, g, v, stddev);
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
    const std::vector<double> x(5003, 0.25);
    a.add_normal(std::span(na.data(), x.size()), x, 0.3);
    b.add_normal(std::span(nb.data(), x.size()), x, 0.3);
    BOOST_TEST(std::memcmp(na.data(), nb.data(), 5003 * sizeof(double)) == 0);
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

BOOST_AUTO_TEST_CASE(moments) {
  for (Gen g : kGens) {
    BOOST_TEST_CONTEXT(name(g)) {
      check_standard_normal_moments(normals(20240601, 4000000, 1.0, g));
    }
  }
}

BOOST_AUTO_TEST_CASE(scales_by_stddev) {
  const double sd = 0.37;
  for (Gen g : kGens) {
    BOOST_TEST_CONTEXT(name(g)) {
      check_standard_normal_moments(normals(99, 2000000, sd, g), sd);
    }
  }
}

BOOST_AUTO_TEST_CASE(tail_probabilities) {
  const std::size_t n = 4000000;
  for (Gen g : kGens) {
    BOOST_TEST_CONTEXT(name(g)) {
      const auto v = normals(424242, n, 1.0, g);
      // 3.654 is where the 256-layer ziggurat's tail algorithm takes over; beyond 5.0 the
      // expected count is about 2, still a check that the tail is there and not too heavy.
      for (double t : {1.0, 2.0, 3.0, 3.5, 3.65, 4.0, 4.5, 5.0}) {
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
  }
}

BOOST_AUTO_TEST_CASE(tail_is_not_truncated) {
  // P(|z| > 5) = 5.7e-7: 40M samples give 23 on average; a generator that stops near 5 (e.g. an
  // inversion of a 24-bit uniform) gives none. Counted in pieces to keep the memory small.
  for (Gen g : kGens) {
    BOOST_TEST_CONTEXT(name(g)) {
      RandomStream rng(5150);
      std::vector<double> buf(1000000);
      std::size_t beyond = 0;
      double largest = 0;
      for (int k = 0; k < 40; ++k) {
        draw(rng, g, buf, 1.0);
        for (double x : buf) {
          beyond += std::abs(x) > 5.0 ? 1 : 0;
          largest = std::max(largest, std::abs(x));
        }
      }
      const double p = std::erfc(5.0 / std::sqrt(2.0)), n = 4e7;
      BOOST_TEST(std::abs(static_cast<double>(beyond) / n - p) <= qa::binomial_tolerance(p, n),
                 beyond << " samples beyond 5, largest " << largest);
      BOOST_TEST(beyond >= 3U, "largest " << largest);  // P(Poisson(22.9) <= 2) = 3e-8
    }
  }
}

BOOST_AUTO_TEST_CASE(kolmogorov_smirnov) {
  // KS statistic D_n against Phi; P(sqrt(n) D_n > c) <= 2 exp(-2 c^2) (DKW), so with
  // c = sqrt(ln(2/alpha)/2), alpha = 1e-6, a correct generator fails once in a million.
  const std::size_t n = 1000000;
  for (Gen g : kGens) {
    BOOST_TEST_CONTEXT(name(g)) {
      auto v = normals(777, n, 1.0, g);
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
  }
}

BOOST_AUTO_TEST_CASE(chi_square_on_equiprobable_bins) {
  // B bins of probability 1/B each (by Phi); Pearson's statistic is chi-square with B - 1 degrees
  // of freedom. Threshold: its 1 - 1e-6 quantile by the Wilson-Hilferty approximation
  // (z = 4.753). Fine bins catch density errors a KS test misses (e.g. in single ziggurat wedges).
  const std::size_t n = 4000000, bins = 400;
  for (Gen g : kGens) {
    BOOST_TEST_CONTEXT(name(g)) {
      const auto v = normals(8642, n, 1.0, g);
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
  }
}

BOOST_AUTO_TEST_CASE(samples_are_uncorrelated) {
  // Lags that cover neighbours, the SIMD lanes, the 16 samples of one generator round and the
  // 256-sample chunks of add_normal. For independent N(0,1): E[z_i z_j] = 0 with variance 1/n;
  // E[(z_i^2-1)(z_j^2-1)] = 0 with variance 4/n.
  const std::size_t n = 2000000;
  for (Gen g : kGens) {
    BOOST_TEST_CONTEXT(name(g)) {
      const auto v = normals(31337, n + 1024, 1.0, g);
      for (std::size_t lag : {1U, 2U, 3U, 4U, 8U, 16U, 32U, 64U, 256U, 512U}) {
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
  }
}

BOOST_AUTO_TEST_CASE(in_odd_sized_pieces) {
  // Remainders of every size go through the tail paths of the fill: all samples must be finite
  // and standard normal, and nothing may be written past the end of the span.
  const std::size_t sizes[] = {1,  2,  3,   5,   7,   9,   15,  17,   31,   33,
                               63, 65, 127, 255, 257, 511, 513, 1023, 1025, 4099};
  for (Gen g : kGens) {
    BOOST_TEST_CONTEXT(name(g)) {
      RandomStream rng(555);
      std::vector<double> all;
      while (all.size() < 2000000) {
        for (std::size_t s : sizes) {
          std::vector<double> buf(s + 8, 12345.0);
          draw(rng, g, std::span(buf.data(), s), 1.0);
          for (std::size_t i = s; i < buf.size(); ++i) BOOST_REQUIRE_EQUAL(buf[i], 12345.0);
          all.insert(all.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(s));
        }
      }
      check_standard_normal_moments(all);
    }
  }
}

BOOST_AUTO_TEST_CASE(add_normal_adds_to_its_input) {
  // y = x + stddev z: with the same stream, y - x is the noise add_normal gives on zeros (up to
  // the rounding of the sum), and x is read, not assumed.
  const std::size_t n = 100003;
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = (i % 3 == 0 ? -1.0 : 1.0) * (1.0 + 0.001 * (i % 7));
  std::vector<double> y(n), w(n);
  const std::vector<double> zeros(n, 0.0);
  RandomStream a(42), b(42);
  a.add_normal(y, x, 0.8);
  b.add_normal(w, zeros, 0.8);
  for (std::size_t i = 0; i < n; ++i) {
    BOOST_REQUIRE_EQUAL(y[i], x[i] + w[i]);
  }
  BOOST_CHECK_THROW(a.add_normal(std::span(y.data(), n - 1), x, 1.0), std::invalid_argument);
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

BOOST_AUTO_TEST_CASE(mixed_with_other_draws) {
  // Interleaving the normal fills with next_u64/uniform/fill_bits (which share the generator
  // state and its word buffer) keeps every kind of output correct.
  for (Gen g : kGens) {
    BOOST_TEST_CONTEXT(name(g)) {
      RandomStream rng(97);
      std::vector<double> all;
      std::vector<double> buf(1000);
      std::vector<std::uint8_t> bits(77);
      double u = 0;
      while (all.size() < 1000000) {
        draw(rng, g, buf, 1.0);
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
  }
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

BOOST_AUTO_TEST_SUITE(simd)

namespace {

/// Switches the dispatchers to the portable kernels for its lifetime.
class PortableKernels {
 public:
  PortableKernels() { linksim::force_portable_kernels(true); }
  ~PortableKernels() { linksim::force_portable_kernels(false); }
  PortableKernels(const PortableKernels&) = delete;
  PortableKernels& operator=(const PortableKernels&) = delete;
};

/// Everything a stream can draw, in odd sizes (remainders, chunk edges) and interleaved, as bytes.
std::vector<std::uint8_t> draw_everything(std::uint64_t seed) {
  RandomStream rng(seed);
  std::vector<std::uint8_t> out;
  const auto append = [&out](const void* p, std::size_t bytes) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    out.insert(out.end(), b, b + bytes);
  };
  for (std::size_t s :
       {1U, 7U, 8U, 9U, 15U, 16U, 17U, 63U, 255U, 256U, 257U, 1000U, 4099U, 8192U}) {
    std::vector<std::uint8_t> bits(s);
    rng.fill_bits(bits);
    append(bits.data(), bits.size());
    std::vector<double> v(s), x(s);
    rng.fill_normal(v, 0.9);
    append(v.data(), v.size() * sizeof(double));
    for (std::size_t i = 0; i < s; ++i) x[i] = i % 2 == 0 ? 1.0 : -1.0;
    rng.add_normal(v, x, 0.7);
    append(v.data(), v.size() * sizeof(double));
    rng.fill_uniform(v);
    append(v.data(), v.size() * sizeof(double));
    const double z = rng.normal(), u = rng.uniform();
    const std::uint64_t w = rng.next_u64();
    append(&z, sizeof z);
    append(&u, sizeof u);
    append(&w, sizeof w);
  }
  // Enough add_normal samples to go through every slow path (wedges, tail, retries) many times.
  std::vector<double> big(300000), zeros(300000, 0.0);
  rng.add_normal(big, zeros, 1.0);
  append(big.data(), big.size() * sizeof(double));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(portable_and_avx2_streams_agree) {
  if (!linksim::cpu_has_avx2()) BOOST_TEST_MESSAGE("no AVX2 here: both runs are portable");
  for (std::uint64_t seed : {1ULL, 2ULL, 0xdeadbeefULL}) {
    const std::vector<std::uint8_t> fast = draw_everything(seed);
    std::vector<std::uint8_t> portable;
    {
      const PortableKernels p;
      BOOST_TEST(!linksim::has_avx2());
      portable = draw_everything(seed);
    }
    BOOST_REQUIRE_EQUAL(fast.size(), portable.size());
    BOOST_TEST(std::memcmp(fast.data(), portable.data(), fast.size()) == 0, "seed " << seed);
  }
}

BOOST_AUTO_TEST_CASE(portable_avx2_and_avx512_block_kernels_agree) {
  namespace k = linksim::kernels;
  RandomStream rng(77);
  for (std::size_t n : {0U, 1U, 3U, 4U, 5U, 31U, 32U, 33U, 63U, 64U, 65U, 100U, 1000U, 4097U}) {
    BOOST_TEST_CONTEXT("n = " << n) {
      // Bytes of every value (the mapper uses bit 0), samples with signed zeros, subnormals.
      std::vector<std::uint8_t> a(n), b(n);
      std::vector<double> y(n);
      for (std::size_t i = 0; i < n; ++i) {
        a[i] = static_cast<std::uint8_t>(rng.next_u64());
        b[i] = i % 5 == 0 ? static_cast<std::uint8_t>(rng.next_u64()) : a[i];
        const double specials[] = {0.0, -0.0, 4.9e-324, -4.9e-324, 1e300, -1e300};
        y[i] = i % 7 == 0 ? specials[i / 7 % 6] : rng.uniform() - 0.5;
      }
      std::vector<double> x1(n), x2(n);
      std::vector<std::uint8_t> d1(n), d2(n);
      k::bpsk_map(a.data(), x1.data(), n);
      k::sign_decisions(y.data(), d1.data(), n);
      const std::uint64_t m1 = k::count_mismatches(a.data(), b.data(), n);
      const bool f1 = k::all_finite(y.data(), n);
      // The best kernels this CPU has (AVX-512 BW here), the AVX2 ones and the portable loops.
      for (const bool portable : {false, true}) {
        linksim::cap_kernels_at_avx2(!portable);
        linksim::force_portable_kernels(portable);
        k::bpsk_map(a.data(), x2.data(), n);
        k::sign_decisions(y.data(), d2.data(), n);
        BOOST_TEST(k::count_mismatches(a.data(), b.data(), n) == m1);
        BOOST_TEST(k::all_finite(y.data(), n) == f1);
        linksim::cap_kernels_at_avx2(false);
        linksim::force_portable_kernels(false);
        BOOST_TEST(std::memcmp(x1.data(), x2.data(), n * sizeof(double)) == 0);
        BOOST_TEST(d1 == d2);
      }
      BOOST_TEST(f1);
      std::uint64_t expect = 0;
      for (std::size_t i = 0; i < n; ++i) {
        BOOST_REQUIRE_EQUAL(x1[i], 1.0 - 2.0 * (a[i] & 1));
        BOOST_REQUIRE_EQUAL(d1[i], y[i] < 0.0 ? 1 : 0);
        expect += a[i] != b[i] ? 1 : 0;
      }
      BOOST_TEST(m1 == expect);
      // A NaN or an infinity anywhere is found by both.
      for (double bad : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
        for (std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
          if (n == 0) continue;
          std::vector<double> v = y;
          v[at] = bad;
          BOOST_TEST(!k::all_finite(v.data(), n));
          linksim::cap_kernels_at_avx2(true);
          BOOST_TEST(!k::all_finite(v.data(), n));
          linksim::cap_kernels_at_avx2(false);
          const PortableKernels p;
          BOOST_TEST(!k::all_finite(v.data(), n));
        }
      }
      // Finite samples whose sum overflows are still finite (the AVX-512 kernel's first test
      // is the plain sum); +Inf and -Inf together (their sum NaN) are not.
      if (n >= 2) {
        std::vector<double> big(n, std::numeric_limits<double>::max());
        big[n / 2] = -std::numeric_limits<double>::max();
        BOOST_TEST(k::all_finite(big.data(), n));
        linksim::cap_kernels_at_avx2(true);
        BOOST_TEST(k::all_finite(big.data(), n));
        linksim::cap_kernels_at_avx2(false);
        big[0] = HUGE_VAL;
        big[n - 1] = -HUGE_VAL;
        BOOST_TEST(!k::all_finite(big.data(), n));
        {
          const PortableKernels p;
          BOOST_TEST(!k::all_finite(big.data(), n));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
