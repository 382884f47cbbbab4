// AVX-512 (F, BW, VL) versions of the kernels (this file alone is compiled with -mavx512bw; called
// after a CPU check). Mask registers hold one bit per sample, so bytes and doubles convert with
// one compare or blend per 8 or 64 samples. Same results as the portable loops in
// kernels_impl.hpp, which also do the last few elements.
#include <immintrin.h>

#include "sim/kernels_impl.hpp"

namespace linksim::kernels::avx512 {

void bpsk_map(const std::uint8_t* bits, double* x, std::size_t n) {
  const __m512d plus = _mm512_set1_pd(1.0), minus = _mm512_set1_pd(-1.0);
  const __m512i bit0 = _mm512_set1_epi8(1);
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    // Bit 0 of 64 bytes -> 64 mask bits -> -1.0 where set, +1.0 elsewhere.
    const __mmask64 k = _mm512_test_epi8_mask(_mm512_loadu_si512(bits + i), bit0);
    for (int q = 0; q < 8; ++q) {
      _mm512_storeu_pd(x + i + 8 * q,
                       _mm512_mask_blend_pd(static_cast<__mmask8>(k >> (8 * q)), plus, minus));
    }
  }
  bpsk_map_impl(bits + i, x + i, n - i);
}

void sign_decisions(const double* y, std::uint8_t* bits, std::size_t n) {
  const __m512d zero = _mm512_setzero_pd();
  const __m512i one = _mm512_set1_epi8(1);
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __mmask64 k = 0;
    for (int q = 0; q < 8; ++q) {
      const __mmask8 lt = _mm512_cmp_pd_mask(_mm512_loadu_pd(y + i + 8 * q), zero, _CMP_LT_OQ);
      k |= static_cast<__mmask64>(lt) << (8 * q);
    }
    _mm512_storeu_si512(bits + i, _mm512_maskz_mov_epi8(k, one));
  }
  sign_decisions_impl(y + i, bits + i, n - i);
}

std::uint64_t count_mismatches(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
  std::uint64_t total = 0;
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __mmask64 ne =
        _mm512_cmpneq_epi8_mask(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
    total += static_cast<std::uint64_t>(__builtin_popcountll(ne));
  }
  return total + count_mismatches_impl(a + i, b + i, n - i);
}

bool all_finite(const double* v, std::size_t n) {
  // First the plain sum (one addition per 8 samples): any NaN or +-Inf makes it NaN or +-Inf and
  // nothing makes it finite again, so a finite sum proves every sample finite. Only a sum that
  // is not finite (a bad sample, or an overflow of the sum) needs the exact test: v - v is +0.0
  // (all bits clear) for finite v and NaN for NaN and +-Inf, ORed together.
  __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_add_pd(s0, _mm512_loadu_pd(v + i));
    s1 = _mm512_add_pd(s1, _mm512_loadu_pd(v + i + 8));
    s2 = _mm512_add_pd(s2, _mm512_loadu_pd(v + i + 16));
    s3 = _mm512_add_pd(s3, _mm512_loadu_pd(v + i + 24));
  }
  const __m512d sum = _mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3));
  const __m512d zero = _mm512_sub_pd(sum, sum);
  if (_mm512_test_epi64_mask(_mm512_castpd_si512(zero), _mm512_castpd_si512(zero)) == 0) {
    return all_finite_impl(v + i, n - i);
  }
  __m512i a0 = _mm512_setzero_si512(), a1 = a0;
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512d v0 = _mm512_loadu_pd(v + i), v1 = _mm512_loadu_pd(v + i + 8);
    a0 = _mm512_or_si512(a0, _mm512_castpd_si512(_mm512_sub_pd(v0, v0)));
    a1 = _mm512_or_si512(a1, _mm512_castpd_si512(_mm512_sub_pd(v1, v1)));
  }
  const __m512i a = _mm512_or_si512(a0, a1);
  return _mm512_test_epi64_mask(a, a) == 0 && all_finite_impl(v + i, n - i);
}

}  // namespace linksim::kernels::avx512
