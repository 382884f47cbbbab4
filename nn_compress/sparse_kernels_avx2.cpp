// AVX2 + FMA versions of the kernels of sparse_kernels.hpp (this file alone is built with -mavx2
// -mfma; called after a CPU check). The last partial group of columns, the samples after the
// last full tile and the final scaling use the portable loops of sparse_kernels_impl.hpp.
#include <immintrin.h>

#include <array>
#include <cstring>
#include <limits>
#include <vector>

#include "nn_compress/sparse_kernels_impl.hpp"
#include "nn_compress/sparse_kernels_x86.hpp"

namespace linksim::sparse::avx2 {
namespace {

/// Expansion tables for a mask byte m: lane k of a group takes packed value number
/// rank_k(m) = popcount(m & ((1 << k) - 1)) when bit k is set, else zero.
struct Tables {
  /// vpermps indices: the rank, or INT32_MIN for a zero lane (vpermps reads the low 3 bits; the
  /// sign bit marks the lanes to clear).
  alignas(32) std::int32_t perm[256][8]{};
  /// pshufb control for 8 lanes whose packed values start n bytes into the register: byte k is
  /// n + rank, or 0x80 (gives 0) for a zero lane. [n][m], n = 0 .. 8.
  alignas(16) std::uint8_t shuf[9][256][8]{};
  constexpr Tables() {
    for (unsigned m = 0; m < 256; ++m) {
      unsigned rank = 0;
      for (unsigned n = 0; n < 9; ++n) {
        for (unsigned k = 0; k < 8; ++k) shuf[n][m][k] = 0x80;
      }
      for (unsigned k = 0; k < 8; ++k) {
        perm[m][k] = std::numeric_limits<std::int32_t>::min();
        if ((m >> k) & 1U) {
          perm[m][k] = static_cast<std::int32_t>(rank);
          for (unsigned n = 0; n < 9; ++n) shuf[n][m][k] = static_cast<std::uint8_t>(n + rank);
          ++rank;
        }
      }
    }
  }
};
constexpr Tables kTables{};

float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

std::int32_t hsum_epi32(__m256i v) {
  const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i t = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  return _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1)));
}

/// The 8 weights of group mask m as floats in their column lanes, from packed values at v.
inline __m256 expand(const float* v, unsigned m) {
  const __m256i perm = _mm256_load_si256(reinterpret_cast<const __m256i*>(kTables.perm[m]));
  const __m256 spread = _mm256_permutevar8x32_ps(_mm256_loadu_ps(v), perm);
  const __m256i keep = _mm256_cmpgt_epi32(perm, _mm256_set1_epi32(-1));
  return _mm256_and_ps(spread, _mm256_castsi256_ps(keep));
}

/// Partial sums of one row over the full groups [g, g + 4 * k) with four groups per step: their
/// value offsets come from one 32-bit load of masks, so the four loads do not wait on one
/// another's popcount.
template <class T>
struct RowCursor {
  const std::uint8_t* m;
  const T* v;
  __m256 acc0, acc1;
  void step4(std::size_t g, const __m256 (&x)[4]) {
    std::uint32_t w = 0;
    std::memcpy(&w, m + g, sizeof w);
    const int o1 = __builtin_popcount(w & 0xffU), o2 = __builtin_popcount(w & 0xffffU),
              o3 = __builtin_popcount(w & 0xffffffU);
    acc0 = _mm256_fmadd_ps(expand(v, w & 0xffU), x[0], acc0);
    acc1 = _mm256_fmadd_ps(expand(v + o1, (w >> 8) & 0xffU), x[1], acc1);
    acc0 = _mm256_fmadd_ps(expand(v + o2, (w >> 16) & 0xffU), x[2], acc0);
    acc1 = _mm256_fmadd_ps(expand(v + o3, w >> 24), x[3], acc1);
    v += __builtin_popcount(w);
  }
  void step1(std::size_t g, __m256 x) {
    acc0 = _mm256_fmadd_ps(expand(v, m[g]), x, acc0);
    v += __builtin_popcount(m[g]);
  }
};

template <class T>
RowCursor<T> cursor(const MaskedRows<T>& a, std::size_t r) {
  return {a.mask.data() + r * a.groups, a.values.data() + a.row_ptr[r], _mm256_setzero_ps(),
          _mm256_setzero_ps()};
}

/// The row's result: the vector sums, the last partial group, the scale and the bias.
template <class T>
float finish_row(const MaskedRows<T>& a, std::size_t r, RowCursor<T>& c, const float* x,
                 const float* bias) {
  float acc = hsum(_mm256_add_ps(c.acc0, c.acc1));
  for (std::size_t g = a.cols / 8; g < a.groups; ++g) {
    for (unsigned bits = c.m[g]; bits != 0; bits &= bits - 1) {
      acc += static_cast<float>(*c.v++) * x[8 * g + static_cast<unsigned>(__builtin_ctz(bits))];
    }
  }
  return finish(a, r, acc, bias);
}

/// SpMV two rows at a time (they share the x loads).
template <class T>
void spmv_avx2(const MaskedRows<T>& a, const float* x, const float* bias, float* y, std::size_t r0,
               std::size_t r1) {
  const std::size_t full = a.cols / 8;  // groups whose 8 x values all exist
  std::size_t r = r0;
  for (; r + 2 <= r1; r += 2) {
    RowCursor<T> c0 = cursor(a, r), c1 = cursor(a, r + 1);
    std::size_t g = 0;
    for (; g + 4 <= full; g += 4) {
      const __m256 xs[4] = {_mm256_loadu_ps(x + 8 * g), _mm256_loadu_ps(x + 8 * g + 8),
                            _mm256_loadu_ps(x + 8 * g + 16), _mm256_loadu_ps(x + 8 * g + 24)};
      c0.step4(g, xs);
      c1.step4(g, xs);
    }
    for (; g < full; ++g) {
      const __m256 xg = _mm256_loadu_ps(x + 8 * g);
      c0.step1(g, xg);
      c1.step1(g, xg);
    }
    y[r] = finish_row(a, r, c0, x, bias);
    y[r + 1] = finish_row(a, r + 1, c1, x, bias);
  }
  for (; r < r1; ++r) {
    RowCursor<T> c = cursor(a, r);
    std::size_t g = 0;
    for (; g + 4 <= full; g += 4) {
      const __m256 xs[4] = {_mm256_loadu_ps(x + 8 * g), _mm256_loadu_ps(x + 8 * g + 8),
                            _mm256_loadu_ps(x + 8 * g + 16), _mm256_loadu_ps(x + 8 * g + 24)};
      c.step4(g, xs);
    }
    for (; g < full; ++g) c.step1(g, _mm256_loadu_ps(x + 8 * g));
    y[r] = finish_row(a, r, c, x, bias);
  }
}

template <class T>
void spmm_avx2(const MaskedRows<T>& a, const float* xt, std::size_t batch, const float* bias,
               float* yt, std::size_t r0, std::size_t r1) {
  const std::size_t tiles8 = batch / 8 * 8;
  std::vector<std::uint32_t> cols(a.cols);  // column index of each non-zero of the row
  for (std::size_t r = r0; r < r1; ++r) {
    const std::uint8_t* m = a.mask.data() + r * a.groups;
    const T* v = a.values.data() + a.row_ptr[r];
    std::size_t n = 0;
    for (std::size_t g = 0; g < a.groups; ++g) {
      for (unsigned bits = m[g]; bits != 0; bits &= bits - 1) {
        cols[n++] = static_cast<std::uint32_t>(8 * g + static_cast<unsigned>(__builtin_ctz(bits)));
      }
    }
    float* y = yt + r * batch;
    std::size_t b = 0;
    for (; b + 32 <= tiles8; b += 32) {
      __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
      for (std::size_t i = 0; i < n; ++i) {
        const __m256 w = _mm256_set1_ps(static_cast<float>(v[i]));
        const float* x = xt + cols[i] * batch + b;
        c0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x), c0);
        c1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8), c1);
        c2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 16), c2);
        c3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 24), c3);
      }
      _mm256_storeu_ps(y + b, c0);
      _mm256_storeu_ps(y + b + 8, c1);
      _mm256_storeu_ps(y + b + 16, c2);
      _mm256_storeu_ps(y + b + 24, c3);
    }
    for (; b < tiles8; b += 8) {
      __m256 c0 = _mm256_setzero_ps();
      for (std::size_t i = 0; i < n; ++i) {
        c0 = _mm256_fmadd_ps(_mm256_set1_ps(static_cast<float>(v[i])),
                             _mm256_loadu_ps(xt + cols[i] * batch + b), c0);
      }
      _mm256_storeu_ps(y + b, c0);
    }
    for (std::size_t k = 0; k < tiles8; ++k) y[k] = finish(a, r, y[k], bias);
  }
  if (tiles8 < batch) spmm_impl(a, xt, batch, tiles8, bias, yt, r0, r1);
}

/// The AVX2 dot products of the int8 loops (sparse_kernels_x86.hpp): int8 weights widened to
/// int16, 16 columns per _mm256_madd_epi16, exact int32 sums.
struct Avx2 {
  template <std::size_t K>
  static void dots(const std::int8_t* q, std::size_t cols,
                   const std::array<const std::int16_t*, K>& s, std::array<std::int32_t, K>& out,
                   std::size_t& done) {
    __m256i acc[K];
    for (auto& c : acc) c = _mm256_setzero_si256();
    std::size_t j = 0;
    for (; j + 16 <= cols; j += 16) {
      const __m256i w =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + j)));
      for (std::size_t i = 0; i < K; ++i) {
        acc[i] = _mm256_add_epi32(
            acc[i],
            _mm256_madd_epi16(w, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s[i] + j))));
      }
    }
    for (std::size_t i = 0; i < K; ++i) out[i] = hsum_epi32(acc[i]);
    done = j;
  }
  /// One block per step, two accumulators so consecutive blocks do not wait.
  static std::int32_t block_row(const BlockRowsI8& a, const std::int16_t* xq, std::size_t k,
                                std::size_t end) {
    const auto product = [&](std::size_t b) {
      const __m256i w = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.values.data() + 16 * b)));
      return _mm256_madd_epi16(w,
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + a.col[b])));
    };
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
    for (; k + 2 <= end; k += 2) {
      acc0 = _mm256_add_epi32(acc0, product(k));
      acc1 = _mm256_add_epi32(acc1, product(k + 1));
    }
    if (k < end) acc0 = _mm256_add_epi32(acc0, product(k));
    return hsum_epi32(_mm256_add_epi32(acc0, acc1));
  }
};

}  // namespace

void spmv(const SparseF32& a, const float* x, const float* bias, float* y, std::size_t r0,
          std::size_t r1) {
  spmv_avx2(a, x, bias, y, r0, r1);
}
void spmv(const SparseI8& a, const QuantisedActs& x, const float* bias, float* y, std::size_t r0,
          std::size_t r1) {
  // Sixteen columns per step: both groups' packed values in one 16-byte load, one shuffle spreads
  // them to their columns (zeros elsewhere), widened to int16 and multiplied with 16 int16
  // activations by _mm256_madd_epi16 into exact int32 sums.
  const std::size_t pairs = a.cols / 16;
  const std::int16_t* xq = x.q.data();
  const auto control = [](unsigned n, unsigned m) {
    return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kTables.shuf[n][m]));
  };
  for (std::size_t r = r0; r < r1; ++r) {
    const std::uint8_t* m = a.mask.data() + r * a.groups;
    const std::int8_t* v = a.values.data() + a.row_ptr[r];
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
    const auto step = [&](std::size_t p, __m256i& acc) {
      std::uint16_t w = 0;
      std::memcpy(&w, m + 2 * p, sizeof w);
      const unsigned m0 = w & 0xffU, m1 = w >> 8U;
      const __m128i ctrl = _mm_unpacklo_epi64(
          control(0, m0), control(static_cast<unsigned>(__builtin_popcount(m0)), m1));
      const __m128i spread =
          _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v)), ctrl);
      acc = _mm256_add_epi32(
          acc,
          _mm256_madd_epi16(_mm256_cvtepi8_epi16(spread),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 16 * p))));
      v += __builtin_popcount(w);
    };
    std::size_t p = 0;
    for (; p + 2 <= pairs; p += 2) {
      step(p, acc0);
      step(p + 1, acc1);
    }
    if (p < pairs) step(p, acc0);
    const std::int32_t dot =
        hsum_epi32(_mm256_add_epi32(acc0, acc1)) + sparse_int8_dot(a, r, x, 2 * pairs, v);
    y[r] = sparse_int8_finish(a, x, r, dot, bias);
  }
}
void spmm(const SparseF32& a, const float* xt, std::size_t batch, const float* bias, float* yt,
          std::size_t r0, std::size_t r1) {
  spmm_avx2(a, xt, batch, bias, yt, r0, r1);
}
void spmm(const SparseI8& a, const float* xt, std::size_t batch, const float* bias, float* yt,
          std::size_t r0, std::size_t r1) {
  spmm_avx2(a, xt, batch, bias, yt, r0, r1);
}

void int8_gemm(const Int8Rows& w, const QuantisedActs& x, const float* bias, float* y,
               std::size_t r0, std::size_t r1) {
  int8_gemm_loop<Avx2>(w, x, bias, y, r0, r1);
}

void block_gemv(const BlockRowsI8& a, const QuantisedActs& x, const float* bias, float* y,
                std::size_t r0, std::size_t r1) {
  block_gemv_loop<Avx2>(a, x, bias, y, r0, r1);
}

void conv3x3_to2(const Conv3x3To2& k, const float* in, std::size_t h, std::size_t w, float* out,
                 std::size_t i0, std::size_t i1) {
  // Interior pixels: each kernel row reads 3 cin contiguous inputs (NHWC), in full vectors and
  // one masked remainder; the border pixels take the portable loop.
  const std::size_t seg = 3 * k.cin, full = seg / 8, rest = seg % 8;
  alignas(32) std::int32_t lanes[8] = {};
  for (std::size_t l = 0; l < rest; ++l) lanes[l] = -1;
  const __m256i tail = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
  for (std::size_t i = i0; i < i1; ++i) {
    const float* img = in + i * h * w * k.cin;
    float* o = out + i * h * w * 2;
    for (std::size_t r = 0; r < h; ++r) {
      for (std::size_t c = 0; c < w; ++c) {
        if (r == 0 || c == 0 || r + 1 == h || c + 1 == w) {
          conv3x3_to2_pixel(k, img, h, w, r, c, o + (r * w + c) * 2);
          continue;
        }
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
        for (std::size_t kh = 0; kh < 3; ++kh) {
          const float* x = img + ((r + kh - 1) * w + (c - 1)) * k.cin;
          const float* w0 = k.w.data() + kh * seg;
          const float* w1 = k.w.data() + (3 + kh) * seg;
          for (std::size_t v = 0; v < full; ++v) {
            const __m256 xv = _mm256_loadu_ps(x + 8 * v);
            acc0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w0 + 8 * v), acc0);
            acc1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(w1 + 8 * v), acc1);
          }
          if (rest != 0) {
            const __m256 xv = _mm256_maskload_ps(x + 8 * full, tail);
            acc0 = _mm256_fmadd_ps(xv, _mm256_maskload_ps(w0 + 8 * full, tail), acc0);
            acc1 = _mm256_fmadd_ps(xv, _mm256_maskload_ps(w1 + 8 * full, tail), acc1);
          }
        }
        o[(r * w + c) * 2] = k.bias[0] + hsum(acc0);
        o[(r * w + c) * 2 + 1] = k.bias[1] + hsum(acc1);
      }
    }
  }
}

}  // namespace linksim::sparse::avx2
