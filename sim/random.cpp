#include "sim/random.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
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
void zig32_add_avx2(std::array<std::array<std::uint64_t, RandomStream::kLanes>, 4>& s,
                    std::uint64_t* words, const double* x, double* y, std::size_t n_blocks,
                    const Zig32Entry* table, std::uint64_t* misses);
/// The AVX-512 F fast path (random_avx512.cpp): sixteen samples per step, the same results.
void zig32_add_avx512(std::array<std::array<std::uint64_t, RandomStream::kLanes>, 4>& s,
                      std::uint64_t* words, const double* x, double* y, std::size_t n_blocks,
                      const Zig32Entry* table, std::uint64_t* misses);
void zig32_verdicts_avx2(const std::uint32_t* word, const std::uint64_t* heights, std::size_t m,
                         const ZigLayer* layers, std::uint8_t* verdict);
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
  using Layer = ZigLayer;                       ///< (random_kernels.hpp)
  std::array<Layer, kZigguratLayers> layer{};
};

/// z with its sign bit flipped when bit 63 of `sign` is set (no branch).
inline double with_sign(double z, std::uint64_t sign) {
  return std::bit_cast<double>(std::bit_cast<std::uint64_t>(z) ^ (sign & 0x8000000000000000ULL));
}

/// Hides v's value from the optimiser (no code): keeps branch-free code branch-free.
template <class T>
inline void opaque(T& v) {
#if defined(__GNUC__)
  asm("" : "+r"(v));
#endif
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
    // Wedge squeezes: q interpolates f - f[i] at the three Chebyshev nodes of the wedge; its
    // largest error on a grid of step h, plus the most the error can grow between grid points
    // (|f'' - q''| h^2 / 8, with |f''(x)| = |x^2 - 1| exp(-x^2 / 2) bounded on the wedge by its
    // endpoint values of |x^2 - 1| times exp(-lo^2 / 2)), plus slack.
    constexpr int kGrid = 256;
    constexpr double kPi = 3.14159265358979323846;
    for (std::size_t i = 0; i < kZigguratLayers; ++i) {
      t.layer[i] = {t.x[i], t.x[i + 1], t.ratio[i], t.f[i + 1] - t.f[i], 0.0, 0.0, 0.0, 0.0};
    }
    for (std::size_t i = 1; i < kZigguratLayers; ++i) {
      const double lo = t.x[i + 1], hi = t.x[i], width = hi - lo;
      std::array<double, 3> node{}, value{};
      for (int k = 0; k < 3; ++k) {
        node[k] = 0.5 * width * (1.0 + std::cos((2 * k + 1) * kPi / 6.0));
        value[k] = f(lo + node[k]) - t.f[i];
      }
      const double d01 = (value[1] - value[0]) / (node[1] - node[0]);
      const double d12 = (value[2] - value[1]) / (node[2] - node[1]);
      const double d012 = (d12 - d01) / (node[2] - node[0]);
      Ziggurat::Layer& l = t.layer[i];
      l.c2 = d012;
      l.c1 = d01 - d012 * (node[0] + node[1]);
      l.c0 = value[0] - d01 * node[0] + d012 * node[0] * node[1];
      double worst = 0.0;
      for (int k = 0; k <= kGrid; ++k) {
        const double s = width * static_cast<double>(k) / kGrid;
        worst = std::max(worst, std::abs(f(lo + s) - t.f[i] - (l.c0 + s * (l.c1 + s * l.c2))));
      }
      const double f2 = std::max(std::abs(lo * lo - 1.0), std::abs(hi * hi - 1.0)) * f(lo);
      const double h = width / kGrid;
      l.band = worst + (f2 + 2.0 * std::abs(l.c2)) * h * h / 8.0 + 1e-12;
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

/// The single-word ziggurat's fast-path table for `stddev` (see detail::Zig32Entry), built on
/// first use and kept per thread until a call with another stddev.
const detail::Zig32Entry* zig32_table(double stddev) {
  struct Cache {
    bool valid = false;
    double stddev = 0.0;
    std::array<detail::Zig32Entry, kZig32Entries> entry;
  };
  thread_local Cache cache;
  if (!cache.valid ||
      std::bit_cast<std::uint64_t>(cache.stddev) != std::bit_cast<std::uint64_t>(stddev)) {
    const Ziggurat& z = ziggurat();
    for (std::size_t k = 0; k < kZig32Entries; ++k) {
      const std::size_t i = k % kZigguratLayers;
      const double x = 0x1.0p-23 * stddev * z.x[i];
      // Every ratio is below 0.996 (at most 0.99577), so T fits its 23 bits.
      const auto threshold = static_cast<std::uint64_t>(std::ceil(z.ratio[i] * 0x1.0p23));
      cache.entry[k] = {(std::bit_cast<std::uint64_t>(k >= kZigguratLayers ? -x : x) &
                         ~detail::kZig32ThresholdMask) |
                        threshold};
    }
    cache.valid = true;
    cache.stddev = stddev;
  }
  return cache.entry.data();
}

/// Fast path of add_normal over the samples [0, n): draws their ceil(n / 16) rounds of words
/// from the lanes s into `words` and adds the noise (see zig32_add_scalar); sets the miss bits
/// misses[0 .. ceil(n / 64)).
void zig32_add(LaneState& s, std::uint64_t* words, const double* x, double* y, std::size_t n,
               const detail::Zig32Entry* table, std::uint64_t* misses) {
  std::size_t done = 0;
  if (has_avx2()) {  // whole blocks of 64
    (has_avx512vl() ? detail::zig32_add_avx512 : detail::zig32_add_avx2)(s, words, x, y, n / 64,
                                                                         table, misses);
    done = n - n % 64;
  }
  constexpr std::size_t kSamplesPerRound = 2 * RandomStream::kLanes;
  xoshiro_lanes(s, words + done / 2, (n - done + kSamplesPerRound - 1) / kSamplesPerRound);
  std::fill(misses + done / 64, misses + (n + 63) / 64, std::uint64_t{0});
  zig32_add_scalar(words, x, y, done, n, table, misses);
}

/// zig32_verdict for misses [0, m).
void zig32_verdicts(const std::uint32_t* word, const std::uint64_t* heights, std::size_t m,
                    const ZigLayer* layers, std::uint8_t* verdict) {
  std::size_t done = 0;
  if (has_avx2()) {
    detail::zig32_verdicts_avx2(word, heights, m, layers, verdict);
    done = m - m % 4;
  }
  for (std::size_t k = done; k < m; ++k) verdict[k] = zig32_verdict(word[k], heights[k], layers);
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
  // Builds the ziggurat tables (about 0.5 ms, once per process) here rather than inside the
  // first timed block call that needs them.
  static_cast<void>(ziggurat());
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
  // all but a fraction of a per cent of the cases without exp, with the exact test's answer.
  const Ziggurat& t = ziggurat();
  const Ziggurat::Layer& l = t.layer[i];
  const double h = uniform();
  const double s = z - l.x_next;
  const double d = h * l.df - (l.c0 + s * (l.c1 + s * l.c2));
  if (d < -l.band) return true;
  if (d > l.band) return false;
  return t.f[i] + h * (t.f[i + 1] - t.f[i]) < std::exp(-0.5 * z * z);
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

void RandomStream::fill_bits(std::span<std::uint8_t> bits) {
  alignas(64) std::array<std::uint64_t, kChunkWords> words;
  alignas(64) std::array<std::uint8_t, 64> unpacked;
  std::size_t done = 0;
  while (done < bits.size()) {
    const std::size_t remaining = bits.size() - done;
    const std::size_t n_words = std::min(kChunkWords, (remaining + 63) / 64);
    const std::size_t rounds = (n_words + kLanes - 1) / kLanes;
    xoshiro_lanes(s_, words.data(), rounds);
    // Whole words straight into the output; a last, partial word through a small buffer.
    const std::size_t whole = std::min(n_words, remaining / 64);
    unpack_bits(words.data(), bits.data() + done, whole);
    done += 64 * whole;
    if (whole < n_words) {
      unpack_bits(words.data() + whole, unpacked.data(), 1);
      std::memcpy(bits.data() + done, unpacked.data(), remaining - 64 * whole);
      done += remaining - 64 * whole;
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
  // Chunks of kSamples samples (one xoshiro round gives 16 words of 32 bits) on the fast path;
  // the 1.5% of draws that missed it are listed, in order (the same order on every instruction
  // set), and finished together, with few mispredicted branches, when the list could not take
  // another chunk's or at the end: usually once per call.
  constexpr std::size_t kSamples = 512;
  constexpr std::size_t kMaxSpan = std::size_t{1} << 31;  // samples a list may span (32-bit index)
  alignas(64) std::array<std::uint64_t, kSamples / 2> words;
  std::array<std::uint64_t, kSamples / 64> miss_bits;
  std::array<std::uint32_t, kMaxMisses> miss_index, miss_word;
  const detail::Zig32Entry* table = zig32_table(stddev);
  std::size_t done = 0, base = 0, n_misses = 0;  // the list's samples start at `base`
  while (done < y.size()) {
    const std::size_t n = std::min(kSamples, y.size() - done);
    zig32_add(s_, words.data(), x.data() + done, y.data() + done, n, table, miss_bits.data());
    // Miss bits to the list: first the blocks that have misses (61% do), without branches, then
    // their bits (40% of those blocks have a second).
    std::array<std::uint8_t, kSamples / 64> hit;
    std::size_t n_hit = 0;
    for (std::size_t b = 0; b * 64 < n; ++b) {
      hit[n_hit] = static_cast<std::uint8_t>(b);
      n_hit += miss_bits[b] != 0 ? 1 : 0;
    }
    const auto offset = static_cast<std::uint32_t>(done - base);
    for (std::size_t h = 0; h < n_hit; ++h) {
      const std::size_t b = hit[h];
      std::uint64_t m = miss_bits[b];
      do {
        const auto j = static_cast<std::uint32_t>(64 * b + std::countr_zero(m));
        miss_index[n_misses] = offset + j;
        miss_word[n_misses++] = word32(words.data(), j);
        m &= m - 1;
      } while (m != 0);
    }
    done += n;
    if (done == y.size() || n_misses > kMaxMisses - kSamples || done - base >= kMaxSpan) {
      finish_misses(y.subspan(base, done - base), x.subspan(base, done - base), stddev, table,
                    miss_index.data(), miss_word.data(), n_misses);
      base = done;
      n_misses = 0;
    }
  }
}

void RandomStream::finish_misses(std::span<double> y, std::span<const double> x, double stddev,
                                 const detail::Zig32Entry* table, std::uint32_t* index,
                                 std::uint32_t* word, std::size_t m) {
  // The slow path of the single-word ziggurat, for a batch of misses at once and without
  // unpredictable branches. Every miss gets a height word (drawn in bulk, in order) and is
  // classified as accepted (below the wedge's squeeze: most), rejected (above it: start again with
  // a fresh draw), or special (the tail beyond r, or a height within the squeeze band: exact test,
  // in order). An accepted draw keeps the value the fast path already wrote (x + u stddev x[layer],
  // as every fast-path draw). The rejected ones, in order, get a fresh single-word draw each; those
  // that miss the fast path again form the next, much smaller batch.
  const Ziggurat& t = ziggurat();
  alignas(64) std::array<std::uint64_t, kMaxMisses> heights;
  std::array<std::uint32_t, kMaxMisses> retry, special;
  std::array<std::uint8_t, kMaxMisses> verdict;  // 0 accepted, 1 rejected, 2 special
  while (m > 0) {
    xoshiro_lanes(s_, heights.data(), (m + kLanes - 1) / kLanes);
    // First the verdicts, with no dependence between misses (so they overlap), then the lists.
    zig32_verdicts(word, heights.data(), m, t.layer.data(), verdict.data());
    std::size_t n_retry = 0, n_special = 0;
    for (std::size_t k = 0; k < m; ++k) {
      retry[n_retry] = index[k];
      n_retry += verdict[k] & 1U;
      special[n_special] = static_cast<std::uint32_t>(k);
      n_special += verdict[k] >> 1;
    }
    for (std::size_t s = 0; s < n_special; ++s) {
      const std::uint32_t j = index[special[s]], w = word[special[s]];
      const std::size_t i = zig32_layer(w);
      if (i == 0) {
        y[j] = x[j] + stddev * with_sign(normal_tail(), zig32_sign(w));
        continue;
      }
      const double zu = zig32_uniform(w) * t.x[i];
      const double h = uniform52(heights[special[s]]);
      if (!(t.f[i] + h * (t.f[i + 1] - t.f[i]) < std::exp(-0.5 * zu * zu))) retry[n_retry++] = j;
    }
    // Fresh draws for the rejected ones: the fast path, one word each.
    xoshiro_lanes(s_, heights.data(), (n_retry + 2 * kLanes - 1) / (2 * kLanes));
    m = 0;
    for (std::size_t r = 0; r < n_retry; ++r) {
      const std::uint32_t j = retry[r], w = word32(heights.data(), r);
      const bool miss = zig32_draw(w, x[j], y[j], table);
      index[m] = j;
      word[m] = w;
      m += miss ? 1 : 0;
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
