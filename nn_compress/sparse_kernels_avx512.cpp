// AVX-512 VNNI versions of the int8 kernels of sparse_kernels.hpp (this file alone is built with
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni; called after a CPU check). vpdpwssd adds the
// products of int16 pairs straight into int32 sums: the dense GEMM widens 32 int8 weights to
// int16 and meets 32 activations per instruction (AVX2: 16 per madd, plus an add), the block GEMV
// saves the add. The sums are exact, so the outputs equal the AVX2 and portable kernels' bits.
#include <immintrin.h>

#include <array>

#include "nn_compress/sparse_kernels_impl.hpp"
#include "nn_compress/sparse_kernels_x86.hpp"

namespace linksim::sparse::avx512 {
namespace {

std::int32_t hsum(__m256i v) {
  const __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i t = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
  return _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1)));
}

/// Both halves by zero-masked extracts: GCC 12's unmasked ones (inside _mm512_castsi512_si256
/// and _mm512_reduce_add_epi32) pass an undefined vector through and warn.
std::int32_t hsum(__m512i v) {
  return hsum(_mm256_add_epi32(_mm512_maskz_extracti64x4_epi64(0xF, v, 0),
                               _mm512_maskz_extracti64x4_epi64(0xF, v, 1)));
}

struct Avx512Vnni {
  template <std::size_t K>
  static void dots(const std::int8_t* q, std::size_t cols,
                   const std::array<const std::int16_t*, K>& s, std::array<std::int32_t, K>& out,
                   std::size_t& done) {
    __m512i acc[K];
    for (auto& c : acc) c = _mm512_setzero_si512();
    std::size_t j = 0;
    for (; j + 32 <= cols; j += 32) {
      const __m512i w =
          _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + j)));
      for (std::size_t i = 0; i < K; ++i) {
        acc[i] = _mm512_dpwssd_epi32(acc[i], w, _mm512_loadu_si512(s[i] + j));
      }
    }
    for (std::size_t i = 0; i < K; ++i) out[i] = hsum(acc[i]);
    done = j;
  }
  static std::int32_t block_row(const BlockRowsI8& a, const std::int16_t* xq, std::size_t k,
                                std::size_t end) {
    const auto widened = [&](std::size_t b) {
      return _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.values.data() + 16 * b)));
    };
    const auto acts = [&](std::size_t b) {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + a.col[b]));
    };
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
    for (; k + 2 <= end; k += 2) {
      acc0 = _mm256_dpwssd_epi32(acc0, widened(k), acts(k));
      acc1 = _mm256_dpwssd_epi32(acc1, widened(k + 1), acts(k + 1));
    }
    if (k < end) acc0 = _mm256_dpwssd_epi32(acc0, widened(k), acts(k));
    return hsum(_mm256_add_epi32(acc0, acc1));
  }
};

}  // namespace

void int8_gemm(const Int8Rows& w, const QuantisedActs& x, const float* bias, float* y,
               std::size_t r0, std::size_t r1) {
  int8_gemm_loop<Avx512Vnni>(w, x, bias, y, r0, r1);
}

void block_gemv(const BlockRowsI8& a, const QuantisedActs& x, const float* bias, float* y,
                std::size_t r0, std::size_t r1) {
  block_gemv_loop<Avx512Vnni>(a, x, bias, y, r0, r1);
}

}  // namespace linksim::sparse::avx512
