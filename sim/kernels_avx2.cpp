// AVX2 versions of the kernels (this file alone is compiled with -mavx2; called after a CPU
// check). Same results as the portable loops in kernels_impl.hpp, which also do the last few
// elements.
#include <immintrin.h>

#include <cstring>

#include "sim/kernels_impl.hpp"

namespace linksim::kernels::avx2 {
namespace {

/// 32 bytes, byte i = bit i of `mask` (0 or 1).
inline __m256i expand_bits(std::uint32_t mask) {
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(mask)), spread);
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit), _mm256_set1_epi8(1));
}

}  // namespace

void bpsk_map(const std::uint8_t* bits, double* x, std::size_t n) {
  const __m256i one = _mm256_set1_epi64x(0x3ff0000000000000LL);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    // Four bytes to four 64-bit lanes; bit 0 of each to the sign bit of +1.0.
    std::int32_t four = 0;
    std::memcpy(&four, bits + i, sizeof four);
    const __m256i wide = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(four));
    const __m256i v = _mm256_or_si256(_mm256_slli_epi64(wide, 63), one);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(x + i), v);
  }
  bpsk_map_impl(bits + i, x + i, n - i);
}

void sign_decisions(const double* y, std::uint8_t* bits, std::size_t n) {
  const __m256d zero = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    std::uint32_t mask = 0;
    for (int q = 0; q < 8; ++q) {
      const __m256d v = _mm256_loadu_pd(y + i + 4 * q);
      mask |= static_cast<std::uint32_t>(_mm256_movemask_pd(_mm256_cmp_pd(v, zero, _CMP_LT_OQ)))
              << (4 * q);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(bits + i), expand_bits(mask));
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
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256d v0 = _mm256_loadu_pd(v + i), v1 = _mm256_loadu_pd(v + i + 4);
    const __m256d v2 = _mm256_loadu_pd(v + i + 8), v3 = _mm256_loadu_pd(v + i + 12);
    a0 = _mm256_add_pd(a0, _mm256_sub_pd(v0, v0));
    a1 = _mm256_add_pd(a1, _mm256_sub_pd(v1, v1));
    a2 = _mm256_add_pd(a2, _mm256_sub_pd(v2, v2));
    a3 = _mm256_add_pd(a3, _mm256_sub_pd(v3, v3));
  }
  const __m256d a = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
  const bool vec_ok = _mm256_movemask_pd(_mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_NEQ_UQ)) == 0;
  return vec_ok && all_finite_impl(v + i, n - i);
}

}  // namespace linksim::kernels::avx2
