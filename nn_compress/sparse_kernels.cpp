#include "nn_compress/sparse_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "nn_compress/sparse_kernels_impl.hpp"
#include "sim/cpu.hpp"

namespace linksim::sparse {

namespace avx2 {  // sparse_kernels_avx2.cpp
void spmv(const SparseF32& a, const float* x, const float* bias, float* y, std::size_t r0,
          std::size_t r1);
void spmv(const SparseI8& a, const QuantisedActs& x, const float* bias, float* y, std::size_t r0,
          std::size_t r1);
void spmm(const SparseF32& a, const float* xt, std::size_t batch, const float* bias, float* yt,
          std::size_t r0, std::size_t r1);
void spmm(const SparseI8& a, const float* xt, std::size_t batch, const float* bias, float* yt,
          std::size_t r0, std::size_t r1);
void int8_gemm(const Int8Rows& w, const QuantisedActs& x, const float* bias, float* y,
               std::size_t r0, std::size_t r1);
void block_gemv(const BlockRowsI8& a, const QuantisedActs& x, const float* bias, float* y,
                std::size_t r0, std::size_t r1);
void conv3x3_to2(const Conv3x3To2& k, const float* in, std::size_t h, std::size_t w, float* out,
                 std::size_t i0, std::size_t i1);
}  // namespace avx2

namespace avx512 {  // sparse_kernels_avx512.cpp
void int8_gemm(const Int8Rows& w, const QuantisedActs& x, const float* bias, float* y,
               std::size_t r0, std::size_t r1);
void block_gemv(const BlockRowsI8& a, const QuantisedActs& x, const float* bias, float* y,
                std::size_t r0, std::size_t r1);
}  // namespace avx512

namespace {

/// Padding after the last value: the AVX2 kernels load 8 (fp32) or 8 (int8) values at a time
/// from any group start.
constexpr std::size_t kValuePadding = 16;

/// Masks and packed values of the entries of q [rows x cols] that are non-zero.
template <class T>
MaskedRows<T> pack(std::span<const T> q, std::size_t rows, std::size_t cols) {
  MaskedRows<T> a;
  a.rows = rows;
  a.cols = cols;
  a.groups = (cols + 7) / 8;
  a.mask.assign(rows * a.groups, 0);
  a.row_ptr.assign(rows + 1, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const T v = q[r * cols + c];
      if (v == T{0}) continue;
      a.mask[r * a.groups + c / 8] |= static_cast<std::uint8_t>(1U << (c % 8));
      a.values.push_back(v);
    }
    a.row_ptr[r + 1] = static_cast<std::uint32_t>(a.values.size());
  }
  a.values.resize(a.values.size() + kValuePadding, T{0});
  return a;
}

template <class T>
std::vector<float> dense_of(const MaskedRows<T>& a) {
  std::vector<float> w(a.rows * a.cols, 0.0F);
  for (std::size_t r = 0; r < a.rows; ++r) {
    const std::uint8_t* m = a.mask.data() + r * a.groups;
    const T* v = a.values.data() + a.row_ptr[r];
    for (std::size_t g = 0; g < a.groups; ++g) {
      for (unsigned bits = m[g]; bits != 0; bits &= bits - 1) {
        const float s = std::is_same_v<T, float> ? 1.0F : a.scale[r];
        w[r * a.cols + 8 * g + static_cast<unsigned>(__builtin_ctz(bits))] =
            s * static_cast<float>(*v++);
      }
    }
  }
  return w;
}

}  // namespace

template <class T>
std::size_t MaskedRows<T>::bytes() const {
  return mask.size() + row_ptr.size() * sizeof(std::uint32_t) + values.size() * sizeof(T) +
         scale.size() * sizeof(float);
}
template struct MaskedRows<float>;
template struct MaskedRows<std::int8_t>;

SparseF32 make_sparse_f32(std::span<const float> w, std::size_t rows, std::size_t cols) {
  if (w.size() != rows * cols) {
    throw std::invalid_argument("make_sparse_f32: " + std::to_string(w.size()) + " values for a " +
                                std::to_string(rows) + " x " + std::to_string(cols) + " matrix");
  }
  return pack(w, rows, cols);
}

SparseI8 make_sparse_i8(std::span<const float> w, std::size_t rows, std::size_t cols) {
  const Int8Rows q = quantize_int8_rows(w, rows, cols);
  SparseI8 a = pack(std::span<const std::int8_t>(q.q), rows, cols);
  a.scale = q.scale;
  return a;
}

BlockRowsI8 make_block_rows_i8(std::span<const float> w, std::size_t rows, std::size_t cols) {
  constexpr std::size_t kBlock = 16;
  if (cols > 65536) {
    throw std::invalid_argument("make_block_rows_i8: " + std::to_string(cols) +
                                " columns, at most 65536");
  }
  const Int8Rows q = quantize_int8_rows(w, rows, cols);
  BlockRowsI8 a;
  a.rows = rows;
  a.cols = cols;
  a.scale = q.scale;
  a.row_ptr.assign(rows + 1, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::int8_t* row = q.q.data() + r * cols;
    for (std::size_t c0 = 0; c0 < cols; c0 += kBlock) {
      const std::size_t n = std::min(kBlock, cols - c0);
      if (std::all_of(row + c0, row + c0 + n, [](std::int8_t v) { return v == 0; })) continue;
      a.col.push_back(static_cast<std::uint16_t>(c0));
      a.values.insert(a.values.end(), row + c0, row + c0 + n);
      a.values.resize(a.values.size() + (kBlock - n), 0);
    }
    a.row_ptr[r + 1] = static_cast<std::uint32_t>(a.col.size());
  }
  return a;
}

std::vector<float> to_dense(const SparseF32& a) {
  return dense_of(a);
}
std::vector<float> to_dense(const SparseI8& a) {
  return dense_of(a);
}

std::int32_t activation_levels(std::size_t cols) {
  constexpr std::int64_t kMax = 32767, kInt32 = 2147483647;
  const auto n = static_cast<std::int64_t>(std::max<std::size_t>(cols, 1));
  return static_cast<std::int32_t>(std::min(kMax, (kInt32 - 1) / (127 * n)));
}

void quantise_activations(const float* x, std::size_t batch, std::size_t cols, QuantisedActs& out) {
  out.batch = batch;
  out.cols = cols;
  out.stride = (cols + 15) / 16 * 16;
  out.q.assign(batch * out.stride, 0);
  out.scale.resize(batch);
  const auto levels = static_cast<float>(activation_levels(cols));
  for (std::size_t b = 0; b < batch; ++b) {
    const float* xb = x + b * cols;
    float peak = 0.0F;
    for (std::size_t j = 0; j < cols; ++j) peak = std::max(peak, std::abs(xb[j]));
    const float s = peak > 0.0F ? peak / levels : 1.0F;
    out.scale[b] = s;
    std::int16_t* q = out.q.data() + b * out.stride;
    for (std::size_t j = 0; j < cols; ++j) {
      q[j] = static_cast<std::int16_t>(std::clamp(std::round(xb[j] / s), -levels, levels));
    }
  }
}

Conv3x3To2 make_conv3x3_to2(std::span<const float> w, std::span<const float> bias,
                            std::size_t cin) {
  if (w.size() != 18 * cin || bias.size() != 2) {
    throw std::invalid_argument("make_conv3x3_to2: expected 2 x 3 x 3 x " + std::to_string(cin) +
                                " weights and 2 biases");
  }
  Conv3x3To2 k;
  k.cin = cin;
  k.w.assign(w.begin(), w.end());
  k.bias[0] = bias[0];
  k.bias[1] = bias[1];
  return k;
}

namespace portable {
void spmv(const SparseF32& a, const float* x, const float* bias, float* y, std::size_t r0,
          std::size_t r1) {
  spmv_impl(a, x, bias, y, r0, r1);
}
void spmv(const SparseI8& a, const QuantisedActs& x, const float* bias, float* y, std::size_t r0,
          std::size_t r1) {
  for (std::size_t r = r0; r < r1; ++r) {
    const std::int32_t dot = sparse_int8_dot(a, r, x, 0, a.values.data() + a.row_ptr[r]);
    y[r] = sparse_int8_finish(a, x, r, dot, bias);
  }
}
void spmm(const SparseF32& a, const float* xt, std::size_t batch, const float* bias, float* yt,
          std::size_t r0, std::size_t r1) {
  spmm_impl(a, xt, batch, 0, bias, yt, r0, r1);
}
void spmm(const SparseI8& a, const float* xt, std::size_t batch, const float* bias, float* yt,
          std::size_t r0, std::size_t r1) {
  spmm_impl(a, xt, batch, 0, bias, yt, r0, r1);
}
void int8_gemm(const Int8Rows& w, const QuantisedActs& x, const float* bias, float* y,
               std::size_t r0, std::size_t r1) {
  for (std::size_t b = 0; b < x.batch; ++b) {
    for (std::size_t r = r0; r < r1; ++r) {
      y[b * w.rows + r] = int8_finish(w, x, b, r, int8_dot(w, x, b, r, 0), bias);
    }
  }
}
void block_gemv(const BlockRowsI8& a, const QuantisedActs& x, const float* bias, float* y,
                std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; ++r) {
    y[r] = block_finish(a, x, r, block_dot(a, x, a.row_ptr[r], a.row_ptr[r + 1]), bias);
  }
}
void conv3x3_to2(const Conv3x3To2& k, const float* in, std::size_t h, std::size_t w, float* out,
                 std::size_t i0, std::size_t i1) {
  for (std::size_t i = i0; i < i1; ++i) {
    const float* img = in + i * h * w * k.cin;
    for (std::size_t r = 0; r < h; ++r) {
      for (std::size_t c = 0; c < w; ++c) {
        conv3x3_to2_pixel(k, img, h, w, r, c, out + ((i * h + r) * w + c) * 2);
      }
    }
  }
}
}  // namespace portable

void spmv(const SparseF32& a, const float* x, const float* bias, float* y, std::size_t r0,
          std::size_t r1) {
  has_avx2() ? avx2::spmv(a, x, bias, y, r0, r1) : portable::spmv(a, x, bias, y, r0, r1);
}
void spmv(const SparseI8& a, const QuantisedActs& x, const float* bias, float* y, std::size_t r0,
          std::size_t r1) {
  has_avx2() ? avx2::spmv(a, x, bias, y, r0, r1) : portable::spmv(a, x, bias, y, r0, r1);
}
void spmm(const SparseF32& a, const float* xt, std::size_t batch, const float* bias, float* yt,
          std::size_t r0, std::size_t r1) {
  has_avx2() ? avx2::spmm(a, xt, batch, bias, yt, r0, r1)
             : portable::spmm(a, xt, batch, bias, yt, r0, r1);
}
void spmm(const SparseI8& a, const float* xt, std::size_t batch, const float* bias, float* yt,
          std::size_t r0, std::size_t r1) {
  has_avx2() ? avx2::spmm(a, xt, batch, bias, yt, r0, r1)
             : portable::spmm(a, xt, batch, bias, yt, r0, r1);
}
void conv3x3_to2(const Conv3x3To2& k, const float* in, std::size_t h, std::size_t w, float* out,
                 std::size_t i0, std::size_t i1) {
  has_avx2() ? avx2::conv3x3_to2(k, in, h, w, out, i0, i1)
             : portable::conv3x3_to2(k, in, h, w, out, i0, i1);
}
void int8_gemm(const Int8Rows& w, const QuantisedActs& x, const float* bias, float* y,
               std::size_t r0, std::size_t r1) {
  if (has_avx512_vnni()) {
    avx512::int8_gemm(w, x, bias, y, r0, r1);
  } else if (has_avx2()) {
    avx2::int8_gemm(w, x, bias, y, r0, r1);
  } else {
    portable::int8_gemm(w, x, bias, y, r0, r1);
  }
}

void block_gemv(const BlockRowsI8& a, const QuantisedActs& x, const float* bias, float* y,
                std::size_t r0, std::size_t r1) {
  if (has_avx512_vnni()) {
    avx512::block_gemv(a, x, bias, y, r0, r1);
  } else if (has_avx2()) {
    avx2::block_gemv(a, x, bias, y, r0, r1);
  } else {
    portable::block_gemv(a, x, bias, y, r0, r1);
  }
}

}  // namespace linksim::sparse
