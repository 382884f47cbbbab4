// The AVX2 instantiation of the random kernels. This file alone is compiled with -mavx2; it is
// only called after a run-time CPU check (random.cpp).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "sim/random_kernels.hpp"

namespace linksim {
namespace {

/// Four 64-bit lanes in AVX2 registers.
struct Avx2 {
  using I = __m256i;
  using D = __m256d;
  static constexpr std::size_t width = 4;
  static I load(const std::uint64_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static void store(double* p, D v) { _mm256_storeu_pd(p, v); }
  static void store_i(std::uint64_t* p, I v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
  }
  static I splat_i(std::uint64_t v) { return _mm256_set1_epi64x(static_cast<long long>(v)); }
  static D splat(double v) { return _mm256_set1_pd(v); }
  static D as_d(I v) { return _mm256_castsi256_pd(v); }
  static I as_i(D v) { return _mm256_castpd_si256(v); }
  static I band(I a, I b) { return _mm256_and_si256(a, b); }
  static I bor(I a, I b) { return _mm256_or_si256(a, b); }
  static I bxor(I a, I b) { return _mm256_xor_si256(a, b); }
  static I add_i(I a, I b) { return _mm256_add_epi64(a, b); }
  static I sub_i(I a, I b) { return _mm256_sub_epi64(a, b); }
  template <int K>
  static I shl(I a) {
    return _mm256_slli_epi64(a, K);
  }
  template <int K>
  static I shr(I a) {
    return _mm256_srli_epi64(a, K);
  }
  static I gt_mask(D a, D b) { return _mm256_castpd_si256(_mm256_cmp_pd(a, b, _CMP_GT_OQ)); }
  static D add(D a, D b) { return _mm256_add_pd(a, b); }
  static D sub(D a, D b) { return _mm256_sub_pd(a, b); }
  static D mul(D a, D b) { return _mm256_mul_pd(a, b); }
  static D gather(const double* base, I index) { return _mm256_i64gather_pd(base, index, 8); }
};

}  // namespace

namespace detail {

void xoshiro_avx2(LaneState& s, std::uint64_t* out, std::size_t rounds) {
  xoshiro_kernel<Avx2>(s, out, rounds);
}

void ziggurat_avx2(const std::uint64_t* words, double* out, std::uint64_t* accept, std::size_t n,
                   const double* x, const double* ratio, double stddev) {
  ziggurat_kernel<Avx2>(words, out, accept, 0, n, x, ratio, stddev);
}

void unpack_bits_avx2(const std::uint64_t* words, std::uint8_t* out, std::size_t n_words) {
  // Byte b of the word goes to output bytes 8b..8b+7; each keeps one of its bits.
  const __m256i spread_lo = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                             2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i spread_hi = _mm256_add_epi8(spread_lo, _mm256_set1_epi8(4));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  const __m256i one = _mm256_set1_epi8(1);
  for (std::size_t w = 0; w < n_words; ++w) {
    const __m256i v = _mm256_set1_epi64x(static_cast<long long>(words[w]));
    const __m256i lo =
        _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(v, spread_lo), bit), bit);
    const __m256i hi =
        _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(v, spread_hi), bit), bit);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * w), _mm256_and_si256(lo, one));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * w + 32), _mm256_and_si256(hi, one));
  }
}

namespace {
[[gnu::always_inline]] inline void zig32_add_body(LaneState& state, std::uint64_t* words,
                                                  const double* x, double* y, std::size_t n_blocks,
                                                  const Zig32Entry* t, std::uint64_t* misses) {
  // The random words are made here (xoshiro_kernel's, in the same order) and used straight from
  // registers; they are also stored for the misses. A vector of four words holds the 32-bit
  // words of eight samples in order (word32). Per sample: m = bits 9-31 as a double (exactly,
  // through a 2^52 mantissa), the table index from bits 0-8 (as a byte offset, stored, then read
  // back as scalars: fewer instructions than extracting them, and gathers are slow on many
  // CPUs), one 8-byte load per entry.
  static_assert(sizeof(Zig32Entry) == 8 && RandomStream::kLanes == 2 * Avx2::width);
  const __m256i index_bits = _mm256_set1_epi32(kZig32Entries - 1);
  const __m256i threshold_bits = _mm256_set1_epi64x(static_cast<long long>(kZig32ThresholdMask));
  const __m256i two52_bits = _mm256_set1_epi64x(0x4330000000000000LL);
  const __m256d two52 = _mm256_set1_pd(0x1.0p52);
  const auto* base = reinterpret_cast<const char*>(t);
  alignas(32) std::uint32_t offset[8];  // of the entries of the eight samples
  // Entries of the samples a .. a + 3 as one vector.
  const auto quad = [&](int a) {
    const auto at = [&](int k) { return reinterpret_cast<const double*>(base + offset[k]); };
    const __m128d lo = _mm_loadh_pd(_mm_load_sd(at(a)), at(a + 1));
    const __m128d hi = _mm_loadh_pd(_mm_load_sd(at(a + 2)), at(a + 3));
    return _mm256_insertf128_pd(_mm256_castpd128_pd256(lo), hi, 1);
  };
  // Adds the noise of the four samples at y + j (m as 64-bit integers, entries e) and returns
  // their miss bits.
  const auto add = [&](std::size_t j, __m256i m, __m256d e) {
    const __m256d dm =
        _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(m, two52_bits)), two52);  // exact
    _mm256_storeu_pd(y + j, _mm256_add_pd(_mm256_loadu_pd(x + j), _mm256_mul_pd(dm, e)));
    // Inside when m < T (both below 2^23, so the signed comparison is exact).
    const __m256i inside =
        _mm256_cmpgt_epi64(_mm256_and_si256(_mm256_castpd_si256(e), threshold_bits), m);
    return ~static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(inside))) & 0xfU;
  };
  std::array<LaneVectors<Avx2>, 2> lanes;  // lanes 0-3 and 4-7
  lanes[0].load(state, 0);
  lanes[1].load(state, 1);
  for (std::size_t block = 0; block < n_blocks; ++block) {
    // Miss bits of 64 samples gathered in a register: one store per block.
    std::uint64_t miss_bits = 0;
#pragma GCC unroll 8
    for (std::size_t k = 0; k < 8; ++k) {
      const std::size_t j = 64 * block + 8 * k;  // words j / 2 .. j / 2 + 3: one lane group
      const __m256i q = lanes[k % 2].next();
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(words + j / 2), q);
      _mm256_store_si256(reinterpret_cast<__m256i*>(offset),
                         _mm256_slli_epi32(_mm256_and_si256(q, index_bits), 3));
      asm("" : "+m"(offset));  // read the offsets back from memory
      const __m256i m = _mm256_srli_epi32(q, 9);
      const unsigned miss_lo = add(j, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(m)), quad(0));
      const unsigned miss_hi =
          add(j + 4, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(m, 1)), quad(4));
      miss_bits |= static_cast<std::uint64_t>(miss_lo | miss_hi << 4) << (8 * k);
    }
    misses[block] = miss_bits;
  }
  lanes[0].store(state, 0);
  lanes[1].store(state, 1);
}
}  // namespace

void zig32_add_avx2(LaneState& state, std::uint64_t* words, const double* x, double* y,
                    std::size_t n_blocks, const Zig32Entry* t, std::uint64_t* misses) {
  zig32_add_body(state, words, x, y, n_blocks, t, misses);
}

void zig32_verdicts_avx2(const std::uint32_t* word, const std::uint64_t* heights, std::size_t m,
                         const ZigLayer* layers, std::uint8_t* verdict) {
  // zig32_verdict four misses at a time: the four layers' cache lines are transposed into
  // field vectors.
  const __m128i layer_bits = _mm_set1_epi32(0xff);
  const __m256i one_bits = _mm256_set1_epi64x(0x3ff0000000000000LL);
  const __m256d one = _mm256_set1_pd(1.0), scale = _mm256_set1_pd(0x1.0p-23);
  const __m256d sign = _mm256_set1_pd(-0.0);
  // Bit l of a 4-bit mask to byte l (0 or 1).
  static constexpr std::uint32_t kSpread[16] = {0x00000000, 0x00000001, 0x00000100, 0x00000101,
                                                0x00010000, 0x00010001, 0x00010100, 0x00010101,
                                                0x01000000, 0x01000001, 0x01000100, 0x01000101,
                                                0x01010000, 0x01010001, 0x01010100, 0x01010101};
  for (std::size_t k = 0; k + 4 <= m; k += 4) {
    const ZigLayer* l[4];
    for (int q = 0; q < 4; ++q) l[q] = layers + zig32_layer(word[k + q]);
    __m256d a[4], b[4];
    for (int q = 0; q < 4; ++q) {
      a[q] = _mm256_load_pd(&l[q]->x);   // x, x_next, ratio, df
      b[q] = _mm256_load_pd(&l[q]->c0);  // c0, c1, c2, band
    }
    const __m256d a01l = _mm256_unpacklo_pd(a[0], a[1]), a01h = _mm256_unpackhi_pd(a[0], a[1]);
    const __m256d a23l = _mm256_unpacklo_pd(a[2], a[3]), a23h = _mm256_unpackhi_pd(a[2], a[3]);
    const __m256d b01l = _mm256_unpacklo_pd(b[0], b[1]), b01h = _mm256_unpackhi_pd(b[0], b[1]);
    const __m256d b23l = _mm256_unpacklo_pd(b[2], b[3]), b23h = _mm256_unpackhi_pd(b[2], b[3]);
    const __m256d x = _mm256_permute2f128_pd(a01l, a23l, 0x20);
    const __m256d x_next = _mm256_permute2f128_pd(a01h, a23h, 0x20);
    const __m256d df = _mm256_permute2f128_pd(a01h, a23h, 0x31);
    const __m256d c0 = _mm256_permute2f128_pd(b01l, b23l, 0x20);
    const __m256d c2 = _mm256_permute2f128_pd(b01l, b23l, 0x31);
    const __m256d c1 = _mm256_permute2f128_pd(b01h, b23h, 0x20);
    const __m256d band = _mm256_permute2f128_pd(b01h, b23h, 0x31);

    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(word + k));
    const __m256d u = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm_srli_epi32(w, 9)), scale);
    const __m256i hw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(heights + k));
    const __m256d h = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(hw, 12), one_bits)), one);
    const __m256d sq = _mm256_sub_pd(_mm256_mul_pd(u, x), x_next);
    const __m256d d = _mm256_sub_pd(
        _mm256_mul_pd(h, df),
        _mm256_add_pd(c0, _mm256_mul_pd(sq, _mm256_add_pd(c1, _mm256_mul_pd(sq, c2)))));
    const auto below = static_cast<unsigned>(
        _mm256_movemask_pd(_mm256_cmp_pd(d, _mm256_xor_pd(band, sign), _CMP_LT_OQ)));
    const auto above =
        static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(d, band, _CMP_GT_OQ)));
    const auto tail = static_cast<unsigned>(_mm_movemask_ps(
        _mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(w, layer_bits), _mm_setzero_si128()))));
    const unsigned rejected = ~tail & above;
    const unsigned special = (tail | (~below & ~above)) & 15U;
    const std::uint32_t v = kSpread[rejected] | (kSpread[special] << 1);
    std::memcpy(verdict + k, &v, sizeof v);
  }
}

}  // namespace detail
}  // namespace linksim
