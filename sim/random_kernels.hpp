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
namespace {

using LaneState = std::array<std::array<std::uint64_t, RandomStream::kLanes>, 4>;

/// Scalar lanes.
struct Scalar {
  using I = std::uint64_t;
  using D = double;
  static constexpr std::size_t width = 1;
  static I load(const std::uint64_t* p) { return *p; }
  static void store(double* p, D v) { *p = v; }
  static D load_d(const double* p) { return *p; }
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
  static I shl(I a) { return a << K; }
  template <int K>
  static I shr(I a) { return a >> K; }
  static I gt_mask(D a, D b) { return a > b ? ~I{0} : I{0}; }
  static D add(D a, D b) { return a + b; }
  static D sub(D a, D b) { return a - b; }
  static D mul(D a, D b) { return a * b; }
  /// Division and square root are carried out in single precision (correctly rounded, so the
  /// same on every CPU): double-precision ones dominate the kernel's time on AVX2 machines, and a
  /// 6e-8 relative error in a noise sample is far below what Monte Carlo counts can resolve.
  static D div_f32(D a, D b) { return static_cast<double>(static_cast<float>(a) / static_cast<float>(b)); }
  static D sqrt_f32(D a) { return static_cast<double>(std::sqrt(static_cast<float>(a))); }
};


template <class V, int K>
inline typename V::I rotl_v(typename V::I x) {
  return V::bor(V::template shl<K>(x), V::template shr<64 - K>(x));
}

/// xoshiro256++ on RandomStream::kLanes interleaved lanes: advances every lane `rounds` times and
/// writes word r * kLanes + l of lane l.
template <class V>
inline void xoshiro_kernel(LaneState& state, std::uint64_t* out, std::size_t rounds) {
  constexpr std::size_t L = RandomStream::kLanes;
  constexpr std::size_t G = L / V::width;  // vectors per state word
  typename V::I s0[G], s1[G], s2[G], s3[G];
  for (std::size_t g = 0; g < G; ++g) {
    s0[g] = V::load(&state[0][g * V::width]);
    s1[g] = V::load(&state[1][g * V::width]);
    s2[g] = V::load(&state[2][g * V::width]);
    s3[g] = V::load(&state[3][g * V::width]);
  }
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t g = 0; g < G; ++g) {
      V::store_i(out + r * L + g * V::width, V::add_i(rotl_v<V, 23>(V::add_i(s0[g], s3[g])), s0[g]));
      const typename V::I t = V::template shl<17>(s1[g]);
      s2[g] = V::bxor(s2[g], s0[g]);
      s3[g] = V::bxor(s3[g], s1[g]);
      s1[g] = V::bxor(s1[g], s2[g]);
      s0[g] = V::bxor(s0[g], s3[g]);
      s2[g] = V::bxor(s2[g], t);
      s3[g] = rotl_v<V, 45>(s3[g]);
    }
  }
  for (std::size_t g = 0; g < G; ++g) {
    V::store_i(&state[0][g * V::width], s0[g]);
    V::store_i(&state[1][g * V::width], s1[g]);
    V::store_i(&state[2][g * V::width], s2[g]);
    V::store_i(&state[3][g * V::width], s3[g]);
  }
}

/// Box-Muller for pairs i in [begin, n): u1 from words[i], u2 from words[n + i]; the cosine
/// output goes to out[i], the sine output to out[n + i]. Branch-free log/sin/cos polynomials.
template <class V>
inline void box_muller_kernel(const std::uint64_t* words, double* out, std::size_t begin,
                              std::size_t n, double stddev) {
  using D = typename V::D;
  using I = typename V::I;
  const I one_bits = V::splat_i(0x3ff0000000000000ULL);
  const I mantissa = V::splat_i(0x000fffffffffffffULL);
  const I exp_magic = V::splat_i(0x4330000000000000ULL);
  const I half_step = V::splat_i(0x0010000000000000ULL);
  const I one_i = V::splat_i(1), two_i = V::splat_i(2);
  const D one = V::splat(1.0), two = V::splat(2.0);
  const D bias = V::splat(4503599627370496.0 + 1023.0);  // 2^52 + exponent bias
  const D sqrt2 = V::splat(1.4142135623730950488), ln2 = V::splat(0.6931471805599453094);
  const D minus_two_var = V::splat(-2.0 * stddev * stddev);
  const D four = V::splat(4.0), half_pi = V::splat(1.5707963267948966192);
  const D round_magic = V::splat(6755399441055744.0);  // 2^52 + 2^51
  const D l3 = V::splat(1.0 / 3.0), l5 = V::splat(1.0 / 5.0), l7 = V::splat(1.0 / 7.0),
          l9 = V::splat(1.0 / 9.0), l11 = V::splat(1.0 / 11.0), l13 = V::splat(1.0 / 13.0);
  const D s3 = V::splat(-1.0 / 6.0), s5 = V::splat(1.0 / 120.0), s7 = V::splat(-1.0 / 5040.0),
          s9 = V::splat(1.0 / 362880.0), s11 = V::splat(-1.0 / 39916800.0);
  const D c2 = V::splat(-0.5), c4 = V::splat(1.0 / 24.0), c6 = V::splat(-1.0 / 720.0),
          c8 = V::splat(1.0 / 40320.0), c10 = V::splat(-1.0 / 3628800.0),
          c12 = V::splat(1.0 / 479001600.0);
  // Two passes with short dependency chains, so that many iterations are in flight at once:
  // the radius sqrt(-2 ln u1) goes to out[i] first, then the angle pass scales it.
  for (std::size_t i = begin; i + V::width <= n; i += V::width) {
    // u1 in (0, 1] and u2 in [0, 1) with 52 random bits, from the mantissa of a double in [1, 2).
    const D u1 = V::sub(two, V::as_d(V::bor(V::template shr<12>(V::load(words + i)), one_bits)));
    // log(u1) = e ln2 + log(m), m in [sqrt(1/2), sqrt(2)); log(m) = 2 atanh(f), f = (m-1)/(m+1).
    const I b = V::as_i(u1);
    const D m0 = V::as_d(V::bor(V::band(b, mantissa), one_bits));
    const D e0 = V::sub(V::as_d(V::bor(exp_magic, V::template shr<52>(b))), bias);
    const I big = V::gt_mask(m0, sqrt2);
    const D m = V::as_d(V::sub_i(V::as_i(m0), V::band(big, half_step)));  // m0 / 2 where big
    const D e = V::add(e0, V::as_d(V::band(big, one_bits)));               // e0 + 1 where big
    const D f = V::div_f32(V::sub(m, one), V::add(m, one));
    const D f2 = V::mul(f, f), f4 = V::mul(f2, f2);
    // atanh series to f^13: relative error < 2e-10 for |f| <= 0.1716.
    const D p = V::add(V::add(one, V::mul(f2, l3)),
                       V::mul(f4, V::add(V::add(l5, V::mul(f2, l7)),
                                         V::mul(f4, V::add(l9, V::mul(f2, V::add(l11, V::mul(f2, l13))))))));
    const D log_u1 = V::add(V::mul(e, ln2), V::mul(V::add(f, f), p));
    const D radius = V::sqrt_f32(V::mul(minus_two_var, log_u1));
    V::store(out + i, radius);
  }
  for (std::size_t i = begin; i + V::width <= n; i += V::width) {
    const D u2 = V::sub(V::as_d(V::bor(V::template shr<12>(V::load(words + n + i)), one_bits)), one);
    const D radius = V::load_d(out + i);
    // 2 pi u2 = k pi/2 + a with k = round(4 u2) and a in [-pi/4, pi/4].
    const D t = V::mul(four, u2);
    const D rounded = V::add(t, round_magic);
    const I k = V::as_i(rounded);
    const D a = V::mul(V::sub(t, V::sub(rounded, round_magic)), half_pi);
    const D a2 = V::mul(a, a), a4 = V::mul(a2, a2);
    // Taylor to a^11 (sin) and a^12 (cos): error < 1e-10 on [-pi/4, pi/4].
    const D sp = V::add(V::add(s3, V::mul(a2, s5)),
                        V::mul(a4, V::add(V::add(s7, V::mul(a2, s9)), V::mul(a4, s11))));
    const D sin_a = V::add(a, V::mul(V::mul(a, a2), sp));
    const D cp = V::add(V::add(c2, V::mul(a2, c4)),
                        V::mul(a4, V::add(V::add(c6, V::mul(a2, c8)),
                                          V::mul(a4, V::add(c10, V::mul(a2, c12))))));
    const D cos_a = V::add(one, V::mul(a2, cp));
    // Rotate by k quarter turns: swap sin/cos for odd k, then fix the signs.
    const I swap = V::sub_i(V::splat_i(0), V::band(k, one_i));
    const I diff = V::band(V::bxor(V::as_i(cos_a), V::as_i(sin_a)), swap);
    const I cos_sign = V::template shl<62>(V::band(V::add_i(k, one_i), two_i));
    const I sin_sign = V::template shl<62>(V::band(k, two_i));
    const D c = V::as_d(V::bxor(V::bxor(V::as_i(cos_a), diff), cos_sign));
    const D s = V::as_d(V::bxor(V::bxor(V::as_i(sin_a), diff), sin_sign));
    V::store(out + i, V::mul(radius, c));
    V::store(out + n + i, V::mul(radius, s));
  }
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
