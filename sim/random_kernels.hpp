// Random-number kernels written once as templates over a "lane" type (internal to sim/random*.cpp).
// Everything is in an unnamed namespace: each translation unit (portable, AVX2) gets its own copy
// compiled for its own instruction set. Both perform the same IEEE operations in the same order
// (no FMA contraction), so they give bit-identical results.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "sim/random.hpp"

namespace linksim {
namespace detail {

/// What the slow path needs of one ziggurat layer i, in one cache line (plain data, shared by
/// both builds). Wedge test (i >= 1): a draw (z, y = f[i] + h (f[i+1] - f[i])) is accepted when
/// y < f(z). A quadratic in s = z - x[i+1] fitted to the density, q(s) = c0 + s (c1 + s c2)
/// ~ f(z) - f[i], is within `band` of it on the whole wedge (a rigorous bound plus slack far
/// above rounding errors), so d = h df - q(s) decides without exp unless |d| <= band.
struct alignas(64) ZigLayer {
  double x, x_next, ratio;
  double df;  ///< f[i+1] - f[i]
  double c0, c1, c2, band;
};

/// Fast-path table entry of the single-word ziggurat (RandomStream::add_normal) for one call's
/// stddev, indexed by zig32_index = (sign << 8) | layer, in one 64-bit word (so an AVX-512
/// kernel fetches eight entries with one gather): the bits of the double s = 2^-23 stddev
/// x[layer] (negated for sign 1) with its 23 lowest mantissa bits replaced by the integer
/// threshold T = ceil(2^23 x[layer+1] / x[layer]). A draw's 23-bit uniform integer m (u = m 2^-23)
/// lies inside the layer's rectangle exactly when m < T, i.e. u < x[layer+1] / x[layer], and its
/// noise value is m * s (= u * stddev x[layer], as 2^-23 scales exactly), with s as it stands:
/// stddev x[layer] 2^-23 within a relative 2^-29, far under the 2^-23 grid of u.
struct Zig32Entry {
  std::uint64_t bits;
};
inline constexpr std::uint64_t kZig32ThresholdMask = (std::uint64_t{1} << 23) - 1;

}  // namespace detail

namespace {

using LaneState = std::array<std::array<std::uint64_t, RandomStream::kLanes>, 4>;

/// Scalar lanes.
struct Scalar {
  using I = std::uint64_t;
  using D = double;
  static constexpr std::size_t width = 1;
  static I load(const std::uint64_t* p) { return *p; }
  static void store(double* p, D v) { *p = v; }
  static void store_i(std::uint64_t* p, I v) { *p = v; }
  static I splat_i(std::uint64_t v) { return v; }
  static D splat(double v) { return v; }
  static D as_d(I v) { return std::bit_cast<double>(v); }
  static I as_i(D v) { return std::bit_cast<std::uint64_t>(v); }
  static I band(I a, I b) { return a & b; }
  static I bor(I a, I b) { return a | b; }
  static I bxor(I a, I b) { return a ^ b; }
  static I add_i(I a, I b) { return a + b; }
  static I sub_i(I a, I b) { return a - b; }
  template <int K>
  static I shl(I a) {
    return a << K;
  }
  template <int K>
  static I shr(I a) {
    return a >> K;
  }
  static I gt_mask(D a, D b) { return a > b ? ~I{0} : I{0}; }
  static D gather(const double* base, I index) { return base[index]; }
  static D add(D a, D b) { return a + b; }
  static D sub(D a, D b) { return a - b; }
  static D mul(D a, D b) { return a * b; }
};

template <class V, int K>
inline typename V::I rotl_v(typename V::I x) {
  if constexpr (requires { V::template rotl<K>(x); }) {
    return V::template rotl<K>(x);  // one instruction where the vector unit has it
  } else {
    return V::bor(V::template shl<K>(x), V::template shr<64 - K>(x));
  }
}

/// One xoshiro256++ step on the lanes of (s0, s1, s2, s3): advances them and returns their output.
template <class V>
inline typename V::I xoshiro_next(typename V::I& s0, typename V::I& s1, typename V::I& s2,
                                  typename V::I& s3) {
  const typename V::I out = V::add_i(rotl_v<V, 23>(V::add_i(s0, s3)), s0);
  const typename V::I t = V::template shl<17>(s1);
  s2 = V::bxor(s2, s0);
  s3 = V::bxor(s3, s1);
  s1 = V::bxor(s1, s2);
  s0 = V::bxor(s0, s3);
  s2 = V::bxor(s2, t);
  s3 = rotl_v<V, 45>(s3);
  return out;
}

/// The state of the lanes [g * V::width, (g + 1) * V::width) held in vectors (registers).
template <class V>
struct LaneVectors {
  typename V::I s0{}, s1{}, s2{}, s3{};
  void load(const LaneState& state, std::size_t g) {
    s0 = V::load(&state[0][g * V::width]);
    s1 = V::load(&state[1][g * V::width]);
    s2 = V::load(&state[2][g * V::width]);
    s3 = V::load(&state[3][g * V::width]);
  }
  /// Advances the lanes one step and returns their output words.
  typename V::I next() { return xoshiro_next<V>(s0, s1, s2, s3); }
  void store(LaneState& state, std::size_t g) const {
    V::store_i(&state[0][g * V::width], s0);
    V::store_i(&state[1][g * V::width], s1);
    V::store_i(&state[2][g * V::width], s2);
    V::store_i(&state[3][g * V::width], s3);
  }
};

/// xoshiro256++ on RandomStream::kLanes interleaved lanes: advances every lane `rounds` times and
/// writes word r * kLanes + l of lane l.
template <class V>
inline void xoshiro_kernel(LaneState& state, std::uint64_t* out, std::size_t rounds) {
  constexpr std::size_t L = RandomStream::kLanes;
  constexpr std::size_t G = L / V::width;  // vectors per state word
  std::array<LaneVectors<V>, G> lanes;
  for (std::size_t g = 0; g < G; ++g) lanes[g].load(state, g);
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t g = 0; g < G; ++g) V::store_i(out + r * L + g * V::width, lanes[g].next());
  }
  for (std::size_t g = 0; g < G; ++g) lanes[g].store(state, g);
}

/// Ziggurat layers (Marsaglia & Tsang): layer 0 is the base strip with the tail.
inline constexpr std::size_t kZigguratLayers = 256;

/// The ziggurat's fast path for words [begin, n): word w picks layer i = w & 255, a sign from
/// bit 8 and u in [0, 1) from its top 52 bits; z = u x[i] is accepted when u < x[i+1] / x[i]
/// (98.5% of draws). Writes stddev * (+-z) to out[j] and an all-ones accept mask (or 0, and
/// the caller redoes that sample on the slow path) to accept[j].
template <class V>
inline void ziggurat_kernel(const std::uint64_t* words, double* out, std::uint64_t* accept,
                            std::size_t begin, std::size_t n, const double* x, const double* ratio,
                            double stddev) {
  using D = typename V::D;
  using I = typename V::I;
  const I one_bits = V::splat_i(0x3ff0000000000000ULL);
  const I layer_mask = V::splat_i(kZigguratLayers - 1);
  const I sign_bit = V::splat_i(0x8000000000000000ULL);
  const D one = V::splat(1.0), sd = V::splat(stddev);
  for (std::size_t j = begin; j + V::width <= n; j += V::width) {
    const I w = V::load(words + j);
    const I layer = V::band(w, layer_mask);
    const D u = V::sub(V::as_d(V::bor(V::template shr<12>(w), one_bits)), one);
    const I sign = V::band(V::template shl<55>(w), sign_bit);  // bit 8 -> sign bit
    const D z = V::mul(V::mul(u, V::gather(x, layer)), sd);
    V::store(out + j, V::as_d(V::bxor(V::as_i(z), sign)));
    V::store_i(accept + j, V::gt_mask(V::gather(ratio, layer), u));
  }
}

inline constexpr std::size_t kZig32Entries = 2 * kZigguratLayers;

/// The 32-bit word of sample j of add_normal in a buffer of 64-bit words: the low half of word
/// j / 2 for even j, the high half for odd j (the buffer read as 32-bit words, little-endian),
/// so that a vector of words holds its samples' words in order.
inline std::uint32_t word32(const std::uint64_t* words, std::size_t j) {
  return static_cast<std::uint32_t>(words[j >> 1] >> (32 * (j & 1)));
}

/// Fields of a single-word ziggurat draw w: bits 0-7 the layer, bit 8 the sign, bits 9-31 the
/// uniform u in [0, 1) (exactly w >> 9 times 2^-23). zig32_index is the fast-path table index
/// (sign << 8) | layer.
inline std::size_t zig32_layer(std::uint32_t w) {
  return w & (kZigguratLayers - 1);
}
inline std::size_t zig32_index(std::uint32_t w) {
  return w & (kZig32Entries - 1);
}
inline double zig32_uniform(std::uint32_t w) {
  return static_cast<double>(w >> 9) * 0x1.0p-23;
}
/// The sign bit of w moved to bit 63.
inline std::uint64_t zig32_sign(std::uint32_t w) {
  return static_cast<std::uint64_t>(w) << 55;
}

/// The 23-bit uniform integer m = w >> 9 of a single-word draw (u = m 2^-23).
inline std::uint32_t zig32_m(std::uint32_t w) {
  return w >> 9;
}

/// One fast-path draw of the single-word ziggurat for the sample x: writes y = x + m * e.s, where
/// e = table[zig32_index(w)] (see Zig32Entry), and returns true when the draw missed (m >= e's
/// threshold, i.e. u >= x[layer+1] / x[layer]: the caller redoes it on the slow path). The vector
/// kernels do the same IEEE operations 4 or 8 samples at a time.
inline bool zig32_draw(std::uint32_t w, double x, double& y, const detail::Zig32Entry* table) {
  const std::uint64_t e = table[zig32_index(w)].bits;
  y = x + static_cast<double>(zig32_m(w)) * std::bit_cast<double>(e);
  return zig32_m(w) >= (e & detail::kZig32ThresholdMask);
}

/// Fast path of the single-word ziggurat for the samples [begin, n): y[j] = x[j] + noise
/// (zig32_draw with word32(words, j)). Every y[j] is written; a miss sets bit j % 64 of
/// misses[j / 64] (which the caller cleared; it redoes y[j] on the slow path).
inline void zig32_add_scalar(const std::uint64_t* words, const double* x, double* y,
                             std::size_t begin, std::size_t n, const detail::Zig32Entry* table,
                             std::uint64_t* misses) {
  for (std::size_t j = begin; j < n; ++j) {
    const bool miss = zig32_draw(word32(words, j), x[j], y[j], table);
    misses[j >> 6] |= static_cast<std::uint64_t>(miss ? 1 : 0) << (j & 63);
  }
}

using detail::ZigLayer;

/// A uniform double in [0, 1) from the top 52 bits of a word (exact; no integer conversion).
inline double uniform52(std::uint64_t word) {
  return std::bit_cast<double>(0x3ff0000000000000ULL | (word >> 12)) - 1.0;
}

/// Verdict on a single-word draw w that missed the fast path, given a height word: 0 accepted
/// (below the wedge's squeeze), 1 rejected (above it), 2 special (the tail beyond r, or a height
/// within the squeeze band). The AVX2 kernel gives the same verdicts (same IEEE operations) four
/// at a time.
inline std::uint8_t zig32_verdict(std::uint32_t w, std::uint64_t height, const ZigLayer* layers) {
  const std::size_t i = zig32_layer(w);
  const ZigLayer& l = layers[i];
  const double u = zig32_uniform(w);
  const double h = uniform52(height);
  const double sq = u * l.x - l.x_next;
  const double d = h * l.df - (l.c0 + sq * (l.c1 + sq * l.c2));
  const unsigned tail = i == 0 ? 1U : 0U;
  const unsigned below = d < -l.band ? 1U : 0U, above = d > l.band ? 1U : 0U;
  return static_cast<std::uint8_t>(((1U - tail) & above) | ((tail | (1U - below - above)) << 1));
}

/// Unpacks 64 bits per word, least significant first, into bytes that are 0 or 1.
inline void unpack_bits_kernel(const std::uint64_t* words, std::uint8_t* out, std::size_t n_words) {
  for (std::size_t w = 0; w < n_words; ++w) {
    for (std::size_t j = 0; j < 64; ++j) {
      out[64 * w + j] = static_cast<std::uint8_t>((words[w] >> j) & 1U);
    }
  }
}

}  // namespace
}  // namespace linksim
