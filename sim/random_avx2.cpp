// The AVX2 instantiation of the random kernels. This file alone is compiled with -mavx2; it is
// only called after a run-time CPU check (random.cpp).
#include <immintrin.h>

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
  unpack_bits_kernel(words, out, n_words);
}

}  // namespace detail
}  // namespace linksim
