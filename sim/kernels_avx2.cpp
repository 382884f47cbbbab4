// AVX2 versions of the kernels (this file alone is compiled with -mavx2; called after a CPU
// check). Same results as the portable loops in kernels_impl.hpp, which also do the last few
// elements.
#include <immintrin.h>

#include <cstring>

#include "sim/kernels_impl.hpp"

namespace linksim::kernels::avx2 {

void bpsk_map(const std::uint8_t* bits, double* x, std::size_t n) {
  // Four bytes to four 64-bit lanes; bit 0 of each to the sign bit of +1.0. Sixteen per
  // iteration: the stores are the limit, not the loop.
  const __m256i one = _mm256_set1_epi64x(0x3ff0000000000000LL);
  const auto four = [&](std::size_t i) {
    std::int32_t b = 0;
    std::memcpy(&b, bits + i, sizeof b);
    const __m256i wide = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(b));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(x + i),
                        _mm256_or_si256(_mm256_slli_epi64(wide, 63), one));
  };
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    four(i);
    four(i + 4);
    four(i + 8);
    four(i + 12);
  }
  for (; i + 4 <= n; i += 4) four(i);
  bpsk_map_impl(bits + i, x + i, n - i);
}

void sign_decisions(const double* y, std::uint8_t* bits, std::size_t n) {
  // Compare masks (64-bit all-ones or zero) are narrowed to 32, 16 and 8 bits with shuffles and
  // saturating packs, which leave the bytes in a known order: 128-bit lane 0 holds samples
  // 0, 1, 4, 5, 8, 9, ..., 28, 29 and lane 1 samples 2, 3, 6, 7, ..., 30, 31. A qword
  // permutation and a byte shuffle put them back in order.
  const __m256d zero = _mm256_setzero_pd();
  const __m256i order = _mm256_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,  //
                                         0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
  const __m256i one = _mm256_set1_epi8(1);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 d[4];
    for (int q = 0; q < 4; ++q) {
      const __m256d lo = _mm256_cmp_pd(_mm256_loadu_pd(y + i + 8 * q), zero, _CMP_LT_OQ);
      const __m256d hi = _mm256_cmp_pd(_mm256_loadu_pd(y + i + 8 * q + 4), zero, _CMP_LT_OQ);
      // 32-bit masks of samples 8q + (0, 1, 4, 5 | 2, 3, 6, 7)
      d[q] = _mm256_shuffle_ps(_mm256_castpd_ps(lo), _mm256_castpd_ps(hi), 0x88);
    }
    const __m256i w01 = _mm256_packs_epi32(_mm256_castps_si256(d[0]), _mm256_castps_si256(d[1]));
    const __m256i w23 = _mm256_packs_epi32(_mm256_castps_si256(d[2]), _mm256_castps_si256(d[3]));
    const __m256i b = _mm256_packs_epi16(w01, w23);
    const __m256i in_order = _mm256_shuffle_epi8(_mm256_permute4x64_epi64(b, 0xD8), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(bits + i), _mm256_and_si256(in_order, one));
  }
  sign_decisions_impl(y + i, bits + i, n - i);
}

std::uint64_t count_mismatches(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
  std::uint64_t total = 0;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    const auto equal = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(va, vb)));
    total += static_cast<std::uint64_t>(__builtin_popcount(~equal));
  }
  return total + count_mismatches_impl(a + i, b + i, n - i);
}

void add_in_place(double* y, const double* x, std::size_t n) {
  add_in_place_impl(y, x, n);
}

bool all_finite(const double* v, std::size_t n) {
  // v - v is +0.0 (all bits clear) for finite v and NaN for NaN and +-Inf: OR the bits together.
  __m256i a0 = _mm256_setzero_si256(), a1 = a0;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256d v0 = _mm256_loadu_pd(v + i), v1 = _mm256_loadu_pd(v + i + 4);
    const __m256d v2 = _mm256_loadu_pd(v + i + 8), v3 = _mm256_loadu_pd(v + i + 12);
    a0 = _mm256_or_si256(a0, _mm256_castpd_si256(_mm256_sub_pd(v0, v0)));
    a1 = _mm256_or_si256(a1, _mm256_castpd_si256(_mm256_sub_pd(v1, v1)));
    a0 = _mm256_or_si256(a0, _mm256_castpd_si256(_mm256_sub_pd(v2, v2)));
    a1 = _mm256_or_si256(a1, _mm256_castpd_si256(_mm256_sub_pd(v3, v3)));
  }
  const __m256i a = _mm256_or_si256(a0, a1);
  return _mm256_testz_si256(a, a) != 0 && all_finite_impl(v + i, n - i);
}

}  // namespace linksim::kernels::avx2
