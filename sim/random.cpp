#include "sim/random.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "sim/cpu.hpp"
#include "sim/random_kernels.hpp"

namespace linksim {
namespace detail {  // random_avx2.cpp (compiled with -mavx2)
void xoshiro_avx2(std::array<std::array<std::uint64_t, RandomStream::kLanes>, 4>& s,
                  std::uint64_t* out, std::size_t rounds);
void ziggurat_avx2(const std::uint64_t* words, double* out, std::uint64_t* accept, std::size_t n,
                   const double* x, const double* ratio, double stddev);
void unpack_bits_avx2(const std::uint64_t* words, std::uint8_t* out, std::size_t n_words);
std::size_t zig32_add_avx2(const std::uint64_t* words, const double* x, double* y, std::size_t n,
                           const Zig32Entry* table, double stddev, std::uint32_t* rejected);
constexpr std::size_t kAvx2Width = 4;
}  // namespace detail

namespace {

constexpr std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void xoshiro_lanes(LaneState& s, std::uint64_t* out, std::size_t rounds) {
  if (has_avx2()) {
    detail::xoshiro_avx2(s, out, rounds);
  } else {
    xoshiro_kernel<Scalar>(s, out, rounds);
  }
}

/// Ziggurat tables for 256 layers of equal area v, base strip plus tail beyond r.
struct Ziggurat {
  static constexpr double r = 3.6541528853610088;
  static constexpr double v = 0.00492867323399;
  std::array<double, kZigguratLayers + 1> x{};  ///< x[0] = v / f(r), x[1] = r > ... > x[256] = 0
  std::array<double, kZigguratLayers> ratio{};  ///< x[i+1] / x[i]: the fast-path bound on u
  std::array<double, kZigguratLayers + 1> f{};  ///< f(x[i]) = exp(-x[i]^2 / 2)
  /// What the slow path needs of layer i, in one cache line. Wedge squeeze (i >= 1): with
  /// t = (z - x[i+1]) / (x[i] - x[i+1]) in [0, 1] and the density rescaled to
  /// g(t) = (f(z) - f[i]) / (f[i+1] - f[i]) (1 at t = 0, 0 at t = 1), |g(t) - (1 - t)| <= band
  /// (a rigorous bound plus slack far above rounding errors).
  struct alignas(64) Layer {
    double x, x_next, ratio, f, f_next;
    double inv_width;  ///< 1 / (x[i] - x[i+1])
    double band;
  };
  std::array<Layer, kZigguratLayers> layer{};
  /// The single-word ziggurat's fast-path table (add_normal).
  alignas(64) std::array<Zig32Entry, kZig32Entries> zig32{};
};

/// z with its sign bit flipped when bit 63 of `sign` is set (no branch).
inline double with_sign(double z, std::uint64_t sign) {
  return std::bit_cast<double>(std::bit_cast<std::uint64_t>(z) ^ (sign & 0x8000000000000000ULL));
}

/// Largest float not above the double d (d > 0).
float float_at_most(double d) {
  float g = static_cast<float>(d);
  if (static_cast<double>(g) > d) g = std::nextafter(g, 0.0f);
  return g;
}

const Ziggurat& ziggurat() {
  static const Ziggurat z = [] {
    Ziggurat t;
    const auto f = [](double v) { return std::exp(-0.5 * v * v); };
    t.x[0] = Ziggurat::v / f(Ziggurat::r);
    t.x[1] = Ziggurat::r;
    for (std::size_t i = 1; i + 1 < kZigguratLayers; ++i) {
      t.x[i + 1] = std::sqrt(-2.0 * std::log(Ziggurat::v / t.x[i] + f(t.x[i])));
    }
    t.x[kZigguratLayers] = 0.0;
    for (std::size_t i = 0; i < kZigguratLayers; ++i) t.ratio[i] = t.x[i + 1] / t.x[i];
    for (std::size_t i = 0; i <= kZigguratLayers; ++i) t.f[i] = f(t.x[i]);
    // Wedge squeezes: the largest deviation from the chord on a grid of step h, plus the most it
    // can grow between grid points (|g''| h^2 / 8, with |f''(x)| = |x^2 - 1| exp(-x^2 / 2)
    // bounded on the layer by its endpoint values of |x^2 - 1| times exp(-lo^2 / 2)), plus slack.
    constexpr int kGrid = 256;
    for (std::size_t i = 0; i < kZigguratLayers; ++i) {
      t.layer[i] = {t.x[i], t.x[i + 1], t.ratio[i], t.f[i], t.f[i + 1], 0.0, 0.0};
    }
    for (std::size_t i = 1; i < kZigguratLayers; ++i) {
      const double lo = t.x[i + 1], hi = t.x[i], width = hi - lo, df = t.f[i + 1] - t.f[i];
      t.layer[i].inv_width = 1.0 / width;
      double worst = 0.0;
      for (int k = 0; k <= kGrid; ++k) {
        const double s = static_cast<double>(k) / kGrid;
        const double g = (f(lo + s * width) - t.f[i]) / df;
        worst = std::max(worst, std::abs(g - (1.0 - s)));
      }
      const double f2 = std::max(std::abs(lo * lo - 1.0), std::abs(hi * hi - 1.0)) * f(lo);
      const double h = 1.0 / kGrid;
      t.layer[i].band = worst + width * width * f2 / df * h * h / 8.0 + 1e-9;
    }
    for (std::size_t k = 0; k < kZig32Entries; ++k) {
      const std::size_t i = k % kZigguratLayers;
      const auto xf = static_cast<float>(t.x[i]);
      t.zig32[k].x = k >= kZigguratLayers ? -xf : xf;
      t.zig32[k].ratio = float_at_most(t.ratio[i]);
    }
    return t;
  }();
  return z;
}

/// Fast path over words[0, n) (see ziggurat_kernel).
void ziggurat_fast(const std::uint64_t* words, double* out, std::uint64_t* accept, std::size_t n,
                   double stddev) {
  const Ziggurat& z = ziggurat();
  std::size_t done = 0;
  if (has_avx2()) {
    detail::ziggurat_avx2(words, out, accept, n, z.x.data(), z.ratio.data(), stddev);
    done = n - n % detail::kAvx2Width;
  }
  ziggurat_kernel<Scalar>(words, out, accept, done, n, z.x.data(), z.ratio.data(), stddev);
}

/// Fast path of add_normal over the 32-bit words [0, n) (see zig32_add_scalar); returns the
/// number of entries written to `rejected`.
std::size_t zig32_add(const std::uint64_t* words, const double* x, double* y, std::size_t n,
                      double stddev, std::uint32_t* rejected) {
  const Zig32Entry* table = ziggurat().zig32.data();
  std::size_t done = 0, count = 0;
  if (has_avx2()) {
    count = detail::zig32_add_avx2(words, x, y, n, table, stddev, rejected);
    done = n - n % 8;
  }
  return zig32_add_scalar(words, x, y, done, n, table, stddev, rejected, count);
}

void unpack_bits(const std::uint64_t* words, std::uint8_t* out, std::size_t n_words) {
  if (has_avx2()) {
    detail::unpack_bits_avx2(words, out, n_words);
  } else {
    unpack_bits_kernel(words, out, n_words);
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

double RandomStream::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double RandomStream::normal() {
  // ziggurat_kernel<Scalar> for one word and stddev 1, inline.
  const std::uint64_t w = next_u64();
  const Ziggurat& t = ziggurat();
  const std::size_t i = w & (kZigguratLayers - 1);
  const double u = std::bit_cast<double>(0x3ff0000000000000ULL | (w >> 12)) - 1.0;
  if (!(t.ratio[i] > u)) return normal_slow(w);
  return with_sign(u * t.x[i], w << 55);
}

double RandomStream::normal_tail() {
  double a = 0.0, b = 0.0;
  do {
    a = -std::log(1.0 - uniform()) / Ziggurat::r;
    b = -std::log(1.0 - uniform());
  } while (b + b < a * a);
  return Ziggurat::r + a;
}

bool RandomStream::wedge_accepts(std::size_t i, double z) {
  // Accept when a uniform height under the layer falls below the density. The squeeze settles
  // all but a few per cent of the cases without exp, with the same answer as the exact test.
  const Ziggurat::Layer& l = ziggurat().layer[i];
  const double u = uniform();
  const double chord = 1.0 - (z - l.x_next) * l.inv_width;
  if (u < chord - l.band) return true;
  if (u > chord + l.band) return false;
  return l.f + u * (l.f_next - l.f) < std::exp(-0.5 * z * z);
}

double RandomStream::normal_slow(std::uint64_t w) {
  const Ziggurat& t = ziggurat();
  for (;;) {
    const std::size_t i = w & (kZigguratLayers - 1);
    const double u = std::bit_cast<double>(0x3ff0000000000000ULL | (w >> 12)) - 1.0;
    const double sign = ((w >> 8) & 1U) != 0 ? -1.0 : 1.0;
    const double z = u * t.x[i];
    if (u < t.ratio[i]) return sign * z;
    if (i == 0) return sign * normal_tail();
    if (wedge_accepts(i, z)) return sign * z;
    w = next_u64();
  }
}

bool RandomStream::normal32_slow(std::uint32_t w, double& z) {
  const Ziggurat& t = ziggurat();
  const std::size_t i = (w >> 23) & (kZigguratLayers - 1);
  const std::uint64_t sign = static_cast<std::uint64_t>(w) << 32;  // bit 31 -> bit 63
  const double u = static_cast<double>(w & 0x7fffffU) * 0x1.0p-23;
  const Ziggurat::Layer& l = t.layer[i];
  const double zu = u * l.x;  // unsigned
  z = with_sign(zu, sign);
  if (u < l.ratio || i == 0) [[unlikely]] {  // between the float and double bounds, or the tail
    if (!(u < l.ratio)) z = with_sign(normal_tail(), sign);
    return true;
  }
  // wedge_accepts, written so that the common outcomes need no (unpredictable) branch.
  const double h = uniform();
  const double chord = 1.0 - (zu - l.x_next) * l.inv_width;
  const bool below = h < chord - l.band;
  const bool in_band = static_cast<int>(!below) & static_cast<int>(!(h > chord + l.band));
  if (in_band) [[unlikely]] {
    return l.f + h * (l.f_next - l.f) < std::exp(-0.5 * zu * zu);
  }
  return below;
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
  alignas(64) std::array<std::uint64_t, kChunkWords> accepted;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min(kChunkWords, out.size() - done);
    xoshiro_lanes(s_, words.data(), (n + kLanes - 1) / kLanes);
    double* dst = out.data() + done;
    ziggurat_fast(words.data(), dst, accepted.data(), n, stddev);
    // The 1.5% of draws that miss the fast path, in order (the same on every instruction set).
    // Four masks at a time: most groups are all accepted.
    std::size_t j = 0;
    for (; j + 4 <= n; j += 4) {
      if ((accepted[j] & accepted[j + 1] & accepted[j + 2] & accepted[j + 3]) != 0) continue;
      for (std::size_t q = j; q < j + 4; ++q) {
        if (accepted[q] == 0) dst[q] = stddev * normal_slow(words[q]);
      }
    }
    for (; j < n; ++j) {
      if (accepted[j] == 0) dst[j] = stddev * normal_slow(words[j]);
    }
    done += n;
  }
}

void RandomStream::add_normal(std::span<double> y, std::span<const double> x, double stddev) {
  if (y.size() != x.size()) {
    throw std::invalid_argument("add_normal: " + std::to_string(y.size()) + " outputs for " +
                                std::to_string(x.size()) + " inputs");
  }
  // Chunks of 256 samples (one xoshiro round gives 16 words of 32 bits). The 1.5% of draws that
  // miss the fast path are collected, in order, and finished together when the list is nearly
  // full or at the end: the same order on every instruction set, and few mispredicted branches.
  constexpr std::size_t kSamples = 256;
  alignas(64) std::array<std::uint64_t, kSamples / 2> words;
  std::array<std::uint32_t, kSamples + 1> groups;
  std::array<Miss, kMaxMisses> misses;
  std::size_t n_misses = 0;
  std::size_t done = 0;
  while (done < y.size()) {
    const std::size_t n = std::min(kSamples, y.size() - done);
    xoshiro_lanes(s_, words.data(), (n + 2 * kLanes - 1) / (2 * kLanes));
    const std::size_t n_groups =
        zig32_add(words.data(), x.data() + done, y.data() + done, n, stddev, groups.data());
    for (std::size_t g = 0; g < n_groups; ++g) {
      const std::size_t base = groups[g] >> 8;
      for (std::uint32_t m = groups[g] & 0xffU; m != 0; m &= m - 1) {
        const std::size_t j = base + static_cast<std::size_t>(std::countr_zero(m));
        misses[n_misses++] = {static_cast<std::uint32_t>(done + j), word32(words.data(), j)};
      }
    }
    done += n;
    if (n_misses + kSamples > kMaxMisses || done == y.size()) {
      finish_misses(y, x, stddev, std::span(misses.data(), n_misses));
      n_misses = 0;
    }
  }
}

void RandomStream::finish_misses(std::span<double> y, std::span<const double> x, double stddev,
                                 std::span<const Miss> misses) {
  // Then, in order, the draws the wedge test rejected start again with a fresh draw.
  std::array<std::uint32_t, kMaxMisses> retry;
  std::size_t n_retry = 0;
  for (const Miss& m : misses) {
    double z = 0.0;
    const bool accepted = normal32_slow(m.word, z);
    y[m.index] = x[m.index] + stddev * z;
    retry[n_retry] = m.index;
    n_retry += accepted ? 0 : 1;
  }
  for (std::size_t k = 0; k < n_retry; ++k) y[retry[k]] = x[retry[k]] + stddev * normal();
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
