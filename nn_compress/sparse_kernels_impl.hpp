// Portable loop bodies of nn_compress/sparse_kernels.hpp, shared by sparse_kernels.cpp (the
// portable kernels) and sparse_kernels_avx2.cpp (the last few columns or samples and the final
// scaling, so that both builds round the same way there). Internal linkage keeps the copies of
// the two builds apart; both files are built with -ffp-contract=off.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "nn_compress/sparse_kernels.hpp"

namespace linksim::sparse {
namespace {

/// Final value of one output: acc (times the row scale for int8) plus the bias.
template <class T>
inline float finish(const MaskedRows<T>& a, std::size_t r, float acc, const float* bias) {
  float v = acc;
  if constexpr (!std::is_same_v<T, float>) v *= a.scale[r];
  return bias != nullptr ? v + bias[r] : v;
}

/// sum_j W_rj x[j] over the non-zeros of row r, in column order (no scale, no bias).
template <class T>
inline float row_dot(const MaskedRows<T>& a, std::size_t r, const float* x) {
  const std::uint8_t* m = a.mask.data() + r * a.groups;
  const T* v = a.values.data() + a.row_ptr[r];
  float acc = 0.0F;
  for (std::size_t g = 0; g < a.groups; ++g) {
    for (unsigned bits = m[g]; bits != 0; bits &= bits - 1) {
      acc += static_cast<float>(*v++) * x[8 * g + static_cast<unsigned>(__builtin_ctz(bits))];
    }
  }
  return acc;
}

template <class T>
void spmv_impl(const MaskedRows<T>& a, const float* x, const float* bias, float* y, std::size_t r0,
               std::size_t r1) {
  for (std::size_t r = r0; r < r1; ++r) y[r] = finish(a, r, row_dot(a, r, x), bias);
}

/// SpMM over samples [b0, batch) of rows [r0, r1) (see spmm in the header).
template <class T>
void spmm_impl(const MaskedRows<T>& a, const float* xt, std::size_t batch, std::size_t b0,
               const float* bias, float* yt, std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; ++r) {
    float* y = yt + r * batch;
    for (std::size_t b = b0; b < batch; ++b) y[b] = 0.0F;
    const std::uint8_t* m = a.mask.data() + r * a.groups;
    const T* v = a.values.data() + a.row_ptr[r];
    for (std::size_t g = 0; g < a.groups; ++g) {
      for (unsigned bits = m[g]; bits != 0; bits &= bits - 1) {
        const float w = static_cast<float>(*v++);
        const float* x = xt + (8 * g + static_cast<unsigned>(__builtin_ctz(bits))) * batch;
        for (std::size_t b = b0; b < batch; ++b) y[b] += w * x[b];
      }
    }
    for (std::size_t b = b0; b < batch; ++b) y[b] = finish(a, r, y[b], bias);
  }
}

/// The int8 GEMM's output for an exact int32 dot product.
inline float int8_finish(const Int8Rows& w, const QuantisedActs& x, std::size_t b, std::size_t r,
                         std::int32_t dot, const float* bias) {
  const float v = static_cast<float>(dot) * (w.scale[r] * x.scale[b]);
  return bias != nullptr ? v + bias[r] : v;
}

/// Exact int32 dot product of weight row r and sample b over columns [j0, cols).
inline std::int32_t int8_dot(const Int8Rows& w, const QuantisedActs& x, std::size_t b,
                             std::size_t r, std::size_t j0) {
  const std::int8_t* q = w.q.data() + r * w.cols;
  const std::int16_t* s = x.q.data() + b * x.stride;
  std::int32_t acc = 0;
  for (std::size_t j = j0; j < w.cols; ++j) acc += static_cast<std::int32_t>(q[j]) * s[j];
  return acc;
}

/// Exact int32 sum of row r of a over the groups [g0, groups), activations of sample 0 of x;
/// `v` points at the row's first value of group g0.
inline std::int32_t sparse_int8_dot(const SparseI8& a, std::size_t r, const QuantisedActs& x,
                                    std::size_t g0, const std::int8_t* v) {
  const std::uint8_t* m = a.mask.data() + r * a.groups;
  std::int32_t acc = 0;
  for (std::size_t g = g0; g < a.groups; ++g) {
    for (unsigned bits = m[g]; bits != 0; bits &= bits - 1) {
      acc +=
          static_cast<std::int32_t>(*v++) * x.q[8 * g + static_cast<unsigned>(__builtin_ctz(bits))];
    }
  }
  return acc;
}

/// The sparse int8 SpMV's output for an exact int32 dot product.
inline float sparse_int8_finish(const SparseI8& a, const QuantisedActs& x, std::size_t r,
                                std::int32_t dot, const float* bias) {
  const float v = static_cast<float>(dot) * (a.scale[r] * x.scale[0]);
  return bias != nullptr ? v + bias[r] : v;
}

/// Exact int32 dot of row r of a block matrix with sample 0 of x over the blocks [k0, k1).
inline std::int32_t block_dot(const BlockRowsI8& a, const QuantisedActs& x, std::size_t k0,
                              std::size_t k1) {
  std::int32_t acc = 0;
  for (std::size_t k = k0; k < k1; ++k) {
    const std::int8_t* v = a.values.data() + 16 * k;
    const std::int16_t* s = x.q.data() + a.col[k];
    for (std::size_t j = 0; j < 16; ++j) acc += static_cast<std::int32_t>(v[j]) * s[j];
  }
  return acc;
}

/// The block GEMV's output for an exact int32 dot product.
inline float block_finish(const BlockRowsI8& a, const QuantisedActs& x, std::size_t r,
                          std::int32_t dot, const float* bias) {
  const float v = static_cast<float>(dot) * (a.scale[r] * x.scale[0]);
  return bias != nullptr ? v + bias[r] : v;
}

/// One output pixel (r, c) of a 3x3 'same' convolution to 2 channels, with bounds checks.
inline void conv3x3_to2_pixel(const Conv3x3To2& k, const float* img, std::size_t h, std::size_t w,
                              std::size_t r, std::size_t c, float* out) {
  float acc[2] = {k.bias[0], k.bias[1]};
  for (std::size_t kh = 0; kh < 3; ++kh) {
    if (r + kh < 1 || r + kh > h) continue;
    for (std::size_t kw = 0; kw < 3; ++kw) {
      if (c + kw < 1 || c + kw > w) continue;
      const float* x = img + ((r + kh - 1) * w + (c + kw - 1)) * k.cin;
      for (std::size_t o = 0; o < 2; ++o) {
        const float* wk = k.w.data() + (o * 3 + kh) * 3 * k.cin + kw * k.cin;
        for (std::size_t i = 0; i < k.cin; ++i) acc[o] += wk[i] * x[i];
      }
    }
  }
  out[0] = acc[0];
  out[1] = acc[1];
}

}  // namespace
}  // namespace linksim::sparse
