// The AVX-512 F fast path of add_normal's single-word ziggurat. This file alone is compiled with
// -mavx512f; it is only called after a run-time CPU check (random.cpp). Same results as
// zig32_add_scalar (random_kernels.hpp) and the AVX2 kernel.
#include <immintrin.h>

#include "sim/random_kernels.hpp"

namespace linksim {
namespace {

/// Eight 64-bit lanes in an AVX-512 register: what xoshiro_next needs.
struct Avx512 {
  using I = __m512i;
  static constexpr std::size_t width = 8;
  static I add_i(I a, I b) { return _mm512_add_epi64(a, b); }
  static I bor(I a, I b) { return _mm512_or_si512(a, b); }
  static I bxor(I a, I b) { return _mm512_xor_si512(a, b); }
  template <int K>
  static I shl(I a) {
    return _mm512_slli_epi64(a, K);
  }
  template <int K>
  static I shr(I a) {
    return _mm512_srli_epi64(a, K);
  }
  template <int K>
  static I rotl(I a) {
    return _mm512_rol_epi64(a, K);
  }
};

}  // namespace

namespace detail {

void zig32_add_avx512(LaneState& state, std::uint64_t* words, const double* x, double* y,
                      std::size_t n_blocks, const Zig32Entry* t, std::uint64_t* misses) {
  // Sixteen samples per step from one xoshiro round of the eight lanes (one vector), whose 32-bit
  // words are the samples' words in order (word32). Per sample: the table index from bits 0-8
  // and m = bits 9-31, both for all sixteen at once; each half's eight table entries come with
  // one gather (Zig32Entry: the scaled value and the threshold in one word), m converts to double
  // exactly, and the sixteen thresholds are packed into one vector for a single comparison.
  static_assert(sizeof(Zig32Entry) == 8 && RandomStream::kLanes == Avx512::width);
  const __m512i index_bits = _mm512_set1_epi32(kZig32Entries - 1);
  const __m512i threshold_bits = _mm512_set1_epi32(static_cast<int>(kZig32ThresholdMask));
  // The low 32 bits of each entry of (a, b): the thresholds of samples 0-7 and 8-15.
  const __m512i low_words =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const auto upper = [](__m512i v) { return _mm512_extracti64x4_epi64(v, 1); };
  const auto gather = [&](__m256i index) { return _mm512_i32gather_epi64(index, t, 8); };
  // y = x + m e for the eight samples at j.
  const auto add = [&](std::size_t j, __m256i m, __m512i e) {
    _mm512_storeu_pd(y + j,
                     _mm512_add_pd(_mm512_loadu_pd(x + j),
                                   _mm512_mul_pd(_mm512_cvtepu32_pd(m), _mm512_castsi512_pd(e))));
  };
  __m512i s[4];
  for (int g = 0; g < 4; ++g) s[g] = _mm512_loadu_si512(state[g].data());
  for (std::size_t block = 0; block < n_blocks; ++block) {
    std::uint64_t miss_bits = 0;  // of 64 samples, in a register: one store per block
#pragma GCC unroll 4
    for (std::size_t k = 0; k < 4; ++k) {
      const std::size_t j = 64 * block + 16 * k;  // words j / 2 .. j / 2 + 7
      const __m512i q = xoshiro_next<Avx512>(s[0], s[1], s[2], s[3]);
      _mm512_storeu_si512(words + j / 2, q);
      const __m512i index = _mm512_and_si512(q, index_bits);
      const __m512i m = _mm512_srli_epi32(q, 9);
      const __m512i e_a = gather(_mm512_castsi512_si256(index));
      const __m512i e_b = gather(upper(index));
      add(j, _mm512_castsi512_si256(m), e_a);
      add(j + 8, upper(m), e_b);
      const __m512i threshold =
          _mm512_and_si512(_mm512_permutex2var_epi32(e_a, low_words, e_b), threshold_bits);
      const std::uint64_t miss = _mm512_cmpge_epu32_mask(m, threshold);  // m >= T
      miss_bits |= miss << (16 * k);
    }
    misses[block] = miss_bits;
  }
  for (int g = 0; g < 4; ++g) _mm512_storeu_si512(state[g].data(), s[g]);
}

}  // namespace detail
}  // namespace linksim
