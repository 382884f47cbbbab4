#include "sim/random.hpp"

#include <bit>
#include <cmath>
#include <cstring>

namespace linksim {
namespace {

constexpr std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

using LaneState = std::array<std::array<std::uint64_t, RandomStream::kLanes>, 4>;

// The hot kernels are compiled for AVX2 and for baseline x86-64 and picked at load time.
// Floating-point contraction is off for this file, so both versions give bit-identical results.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define LINKSIM_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LINKSIM_MULTIVERSION
#endif

/// Advances all lanes `rounds` times, writing kLanes words per round to `out`.
LINKSIM_MULTIVERSION void xoshiro_lanes(LaneState& s, std::uint64_t* out, std::size_t rounds) {
  constexpr std::size_t L = RandomStream::kLanes;
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t l = 0; l < L; ++l) {
      const std::uint64_t s0 = s[0][l], s1 = s[1][l], s2 = s[2][l], s3 = s[3][l];
      out[r * L + l] = rotl(s0 + s3, 23) + s0;
      const std::uint64_t t = s1 << 17;
      const std::uint64_t n2 = s2 ^ s0, n3 = s3 ^ s1;
      s[1][l] = s1 ^ n2;
      s[0][l] = s0 ^ n3;
      s[2][l] = n2 ^ t;
      s[3][l] = rotl(n3, 45);
    }
  }
}

inline double bits_to_double(std::uint64_t b) { return std::bit_cast<double>(b); }
inline std::uint64_t double_to_bits(double d) { return std::bit_cast<std::uint64_t>(d); }

/// Box-Muller on `n_pairs` pairs of words: writes cos outputs to out[0..n) and sin outputs to
/// out[n..2n). Branch-free polynomial log/sin/cos so that the loop vectorises.
LINKSIM_MULTIVERSION void box_muller(const std::uint64_t* words, double* out, std::size_t n_pairs,
                                     double stddev) {
  constexpr double kLn2 = 0.6931471805599453094;
  constexpr double kSqrt2 = 1.4142135623730950488;
  constexpr double kHalfPi = 1.5707963267948966192;
  constexpr double kTwoPow52 = 4503599627370496.0;
  constexpr double kRoundMagic = 6755399441055744.0;  // 2^52 + 2^51
  for (std::size_t i = 0; i < n_pairs; ++i) {
    // u1 in (0, 1] with 53 bits; u2 in [0, 1).
    const double u1 = static_cast<double>((words[2 * i] >> 11) + 1) * 0x1.0p-53;
    const double u2 = static_cast<double>(words[2 * i + 1] >> 11) * 0x1.0p-53;

    // log(u1) = e ln2 + log(m), m in [sqrt(1/2), sqrt(2)).
    const std::uint64_t b = double_to_bits(u1);
    double m = bits_to_double((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    double e = bits_to_double(0x4330000000000000ULL | (b >> 52)) - kTwoPow52 - 1023.0;
    const bool big = m > kSqrt2;
    m = big ? 0.5 * m : m;
    e = big ? e + 1.0 : e;
    const double f = (m - 1.0) / (m + 1.0);
    const double f2 = f * f;
    double p = 1.0 / 21.0;
    p = p * f2 + 1.0 / 19.0;
    p = p * f2 + 1.0 / 17.0;
    p = p * f2 + 1.0 / 15.0;
    p = p * f2 + 1.0 / 13.0;
    p = p * f2 + 1.0 / 11.0;
    p = p * f2 + 1.0 / 9.0;
    p = p * f2 + 1.0 / 7.0;
    p = p * f2 + 1.0 / 5.0;
    p = p * f2 + 1.0 / 3.0;
    p = p * f2 + 1.0;
    const double log_u1 = e * kLn2 + 2.0 * f * p;
    const double radius = stddev * std::sqrt(-2.0 * log_u1);

    // Angle 2 pi u2 = k pi/2 + a with k = round(4 u2), a in [-pi/4, pi/4].
    const double t = 4.0 * u2;
    const double rounded = t + kRoundMagic;
    const std::uint64_t k = double_to_bits(rounded);
    const double a = (t - (rounded - kRoundMagic)) * kHalfPi;
    const double a2 = a * a;
    double sp = -1.0 / 1307674368000.0;
    sp = sp * a2 + 1.0 / 6227020800.0;
    sp = sp * a2 - 1.0 / 39916800.0;
    sp = sp * a2 + 1.0 / 362880.0;
    sp = sp * a2 - 1.0 / 5040.0;
    sp = sp * a2 + 1.0 / 120.0;
    sp = sp * a2 - 1.0 / 6.0;
    const double sin_a = a + a * a2 * sp;
    double cp = 1.0 / 20922789888000.0;
    cp = cp * a2 - 1.0 / 87178291200.0;
    cp = cp * a2 + 1.0 / 479001600.0;
    cp = cp * a2 - 1.0 / 3628800.0;
    cp = cp * a2 + 1.0 / 40320.0;
    cp = cp * a2 - 1.0 / 720.0;
    cp = cp * a2 + 1.0 / 24.0;
    cp = cp * a2 - 0.5;
    const double cos_a = 1.0 + a2 * cp;
    const bool swap = (k & 1U) != 0;
    const double c1 = swap ? sin_a : cos_a;
    const double s1 = swap ? cos_a : sin_a;
    const double c = bits_to_double(double_to_bits(c1) ^ (((k + 1) & 2U) << 62));
    const double s = bits_to_double(double_to_bits(s1) ^ ((k & 2U) << 62));
    out[i] = radius * c;
    out[n_pairs + i] = radius * s;
  }
}

LINKSIM_MULTIVERSION void unpack_bits(const std::uint64_t* words, std::uint8_t* out,
                                      std::size_t n_words) {
  for (std::size_t w = 0; w < n_words; ++w) {
    for (std::size_t j = 0; j < 64; ++j) {
      out[64 * w + j] = static_cast<std::uint8_t>((words[w] >> j) & 1U);
    }
  }
}

constexpr std::size_t kChunkRounds = 64;  // words per chunk: kChunkRounds * kLanes
constexpr std::size_t kChunkWords = kChunkRounds * RandomStream::kLanes;

}  // namespace

std::uint64_t derive_seed(std::uint64_t master_seed, std::uint64_t point_index,
                          std::uint64_t frame_index) {
  std::uint64_t x = master_seed;
  std::uint64_t h = splitmix64(x);
  x = h ^ (point_index * 0xd1b54a32d192ed03ULL);
  h = splitmix64(x);
  x = h ^ (frame_index * 0x8cb92ba72f3d8dd7ULL);
  return splitmix64(x);
}

RandomStream::RandomStream(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (std::size_t l = 0; l < kLanes; ++l) {
    for (std::size_t w = 0; w < 4; ++w) s_[w][l] = splitmix64(x);
  }
}

void RandomStream::refill() {
  xoshiro_lanes(s_, buffer_.data(), 1);
  used_ = 0;
}

std::uint64_t RandomStream::next_u64() {
  if (used_ == kLanes) refill();
  return buffer_[used_++];
}

double RandomStream::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double RandomStream::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  const std::array<std::uint64_t, 2> w{next_u64(), next_u64()};
  std::array<double, 2> z{};
  box_muller(w.data(), z.data(), 1, 1.0);
  has_spare_normal_ = true;
  spare_normal_ = z[1];
  return z[0];
}

void RandomStream::fill_bits(std::span<std::uint8_t> bits) {
  alignas(64) std::array<std::uint64_t, kChunkWords> words;
  alignas(64) std::array<std::uint8_t, 64 * kChunkWords> unpacked;
  std::size_t done = 0;
  while (done < bits.size()) {
    const std::size_t remaining = bits.size() - done;
    const std::size_t n_words = std::min(kChunkWords, (remaining + 63) / 64);
    const std::size_t rounds = (n_words + kLanes - 1) / kLanes;
    xoshiro_lanes(s_, words.data(), rounds);
    if (remaining >= 64 * n_words) {
      unpack_bits(words.data(), bits.data() + done, n_words);
      done += 64 * n_words;
    } else {
      unpack_bits(words.data(), unpacked.data(), n_words);
      std::memcpy(bits.data() + done, unpacked.data(), remaining);
      done += remaining;
    }
  }
}

void RandomStream::fill_normal(std::span<double> out, double stddev) {
  alignas(64) std::array<std::uint64_t, kChunkWords> words;
  alignas(64) std::array<double, kChunkWords> normals;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t remaining = out.size() - done;
    // Each normal consumes one word; pairs come from pairs of words.
    const std::size_t n_words = std::min(kChunkWords, (remaining + 1) & ~std::size_t{1});
    const std::size_t rounds = (n_words + kLanes - 1) / kLanes;
    xoshiro_lanes(s_, words.data(), rounds);
    const std::size_t n_pairs = n_words / 2;
    if (remaining >= n_words) {
      box_muller(words.data(), out.data() + done, n_pairs, stddev);
      done += n_words;
    } else {
      box_muller(words.data(), normals.data(), n_pairs, stddev);
      std::memcpy(out.data() + done, normals.data(), remaining * sizeof(double));
      done += remaining;
    }
  }
}

void RandomStream::fill_uniform(std::span<double> out) {
  alignas(64) std::array<std::uint64_t, kChunkWords> words;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min(kChunkWords, out.size() - done);
    xoshiro_lanes(s_, words.data(), (n + kLanes - 1) / kLanes);
    for (std::size_t i = 0; i < n; ++i) {
      out[done + i] = static_cast<double>(words[i] >> 11) * 0x1.0p-53;
    }
    done += n;
  }
}

}  // namespace linksim
