// Kernels for the dense (fully connected) layers of the CSI autoencoders without LibTorch or
// XNNPACK: unstructured-sparse matrices with fp32 or int8 values, and dense int8 weights with
// dynamic-range activations; plus a direct 3x3 convolution to 2 channels (conv3x3_to2). Each kernel
// has a portable loop (sparse_kernels.cpp) and an AVX2 + FMA version (sparse_kernels_avx2.cpp, the
// only file built with -mavx2 -mfma), and the int8 GEMM and block GEMV an AVX-512 VNNI one
// (sparse_kernels_avx512.cpp), chosen at run time (sim/cpu.hpp: has_avx2, has_avx512_vnni;
// LINKSIM_SIMD=portable or force_portable_kernels forces the portable loops, LINKSIM_SIMD=avx2
// or cap_kernels_at_avx2 the AVX2 ones).
//
// A layer computes y = W x + bias with W [rows x cols] (row-major, PyTorch's Linear layout:
// rows = output features, cols = input features).
//
// Sparse format (MaskedRows): every row is cut into groups of 8 columns; one mask byte per group
// says which of the 8 weights are non-zero (bit k = column 8 g + k), and the non-zero values
// follow one another in row order. Memory per row: cols / 8 bytes of masks plus one value per
// non-zero (4 bytes fp32, 1 byte int8), against 4 cols bytes dense: at 50% sparsity an fp32 row
// takes 53% of its dense size and an int8 row 16%. Batch 1 is memory bound for dense fp32
// (CsiNet CR 4 streams 2 x 4 MiB of weights per sample), so traffic is what these formats save.
// The AVX2 SpMV expands each group back to 8 lanes with one permutation (fp32, 8 columns) or
// byte shuffle (int8, 16 columns) from a table indexed by the mask, so its cost per row is
// proportional to cols / 8 whatever the sparsity: it pays off where memory, not arithmetic, is
// the limit (measured: tests/qa_inference --run_test=kernel_report). Batches (SpMM) walk the
// non-zeros one by one and multiply each with a tile of 32 or 8 samples.
//
// Numerics. Weights: int8 values are quantised per row (quantize_int8_rows, nn_compress/
// quantize.hpp: scale_r = max |w_r| / 127; weights that round to 0 are dropped from the sparse
// form). Activations:
//   fp32 sparse (SpMV, SpMM) and int8 sparse SpMM: fp32; the sum of the products in an order of
//     the kernel's own (AVX2 and portable differ by float rounding, about 1e-6 relative);
//   int8 sparse SpMV and dense int8: quantised per sample on the fly to L levels each side
//     (QuantisedActs: s_x = max_j |x_j| / L, x_q = round(x / s_x) in [-L, L], L =
//     activation_levels(cols): 8256 for 2048 inputs, 32767 for 512 or fewer); y_r = scale_r s_x
//     sum_j q_rj x_q,j + bias_r with the sum in exact int32, so AVX2 and portable are
//     bit-identical.
// Why not 8-bit activations: the kernels widen the int8 weights to int16 for _mm256_madd_epi16
// anyway, so wider activations cost nothing, while 8 bits lose 0.27 dB of NMSE on CsiNet CR 4
// (the network input sits near 0.5 with rare peaks at 0 and 1, leaving a few levels for the
// typical deviation); with L levels the int8 weights alone set the error (0.04 dB).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "nn_compress/quantize.hpp"

namespace linksim::sparse {

/// Values of a MaskedRows matrix: float or std::int8_t.
template <class T>
struct MaskedRows {
  std::size_t rows = 0, cols = 0;
  std::size_t groups = 0;          ///< (cols + 7) / 8 mask bytes per row
  std::vector<std::uint8_t> mask;  ///< [rows x groups]; bit k of byte g: column 8 g + k
  std::vector<std::uint32_t>
      row_ptr;               ///< [rows + 1]: row r's values are [row_ptr[r], row_ptr[r+1])
  std::vector<T> values;     ///< non-zeros in row order, then 16 padding zeros
  std::vector<float> scale;  ///< int8 only: per-row scale (quantize_int8_rows); else empty
  std::size_t nonzeros() const { return row_ptr.empty() ? 0 : row_ptr.back(); }
  /// Bytes of masks, row pointers, values and scales.
  std::size_t bytes() const;
};
using SparseF32 = MaskedRows<float>;
using SparseI8 = MaskedRows<std::int8_t>;

/// The sparse form of w [rows x cols] (row-major): exact zeros are left out.
/// Throws std::invalid_argument when w.size() != rows * cols.
SparseF32 make_sparse_f32(std::span<const float> w, std::size_t rows, std::size_t cols);
/// Quantises w per row (quantize_int8_rows) and keeps the non-zero int8 values (weights that
/// round to 0 are left out too). Throws std::invalid_argument as quantize_int8_rows.
SparseI8 make_sparse_i8(std::span<const float> w, std::size_t rows, std::size_t cols);
/// The dense float matrix [rows x cols] a sparse matrix stands for (int8: dequantised).
std::vector<float> to_dense(const SparseF32& a);
std::vector<float> to_dense(const SparseI8& a);

/// Activation levels L for a dot product of `cols` terms: the largest L <= 32767 with
/// cols * 127 * L < 2^31, so that int32 sums cannot overflow.
std::int32_t activation_levels(std::size_t cols);

/// Activations quantised per sample for the dense int8 kernel: q [batch x stride] (int16 holding
/// [-L, L], zero-padded from cols to stride, a multiple of 16), scale [batch] (s_x = max |x| / L;
/// 1 for an all-zero sample).
struct QuantisedActs {
  std::size_t batch = 0, cols = 0, stride = 0;
  std::vector<std::int16_t> q;
  std::vector<float> scale;
};
/// x [batch x cols] (one sample per row) -> QuantisedActs (see the file comment). Non-finite
/// values are not checked (callers do).
void quantise_activations(const float* x, std::size_t batch, std::size_t cols, QuantisedActs& out);

/// SpMV, rows [r0, r1): y[r] = (scale_r) sum_j W_rj x[j] + bias[r]. x [cols], y [rows];
/// bias may be null (0).
void spmv(const SparseF32& a, const float* x, const float* bias, float* y, std::size_t r0,
          std::size_t r1);
/// Sparse int8 SpMV with activations quantised as for int8_gemm (x.batch == 1): y[r] = scale_r
/// s_x sum_j q_rj x_q,j + bias[r], the sum in exact int32 (AVX2 and portable bit-identical).
void spmv(const SparseI8& a, const QuantisedActs& x, const float* bias, float* y, std::size_t r0,
          std::size_t r1);

/// Int8 rows as blocks of 16 consecutive columns: block k of row r covers columns [col[k],
/// col[k] + 16) and is stored when any of its 16 int8 weights is non-zero. The block GEMV's work
/// is proportional to the stored blocks, each one dense int8 step (16 products in one
/// _mm256_madd_epi16), so weights pruned in 16x1 blocks (prune.method = blocks16x1) run faster
/// than the dense int8 GEMV, by up to the fraction of blocks pruned; after unstructured pruning
/// almost every block is stored and it costs what the dense GEMV does. Memory: 18 bytes per
/// stored block (values and column), 4 per row (pointer and scale).
struct BlockRowsI8 {
  std::size_t rows = 0, cols = 0;
  std::vector<std::uint32_t>
      row_ptr;                      ///< [rows + 1]: row r's blocks are [row_ptr[r], row_ptr[r+1])
  std::vector<std::uint16_t> col;   ///< first column of each block, a multiple of 16
  std::vector<std::int8_t> values;  ///< 16 per block, zero past cols
  std::vector<float> scale;         ///< per-row scale (quantize_int8_rows)
  std::size_t blocks() const { return col.size(); }
};
/// Quantises w [rows x cols] per row (quantize_int8_rows) and keeps the 16-column blocks with a
/// non-zero int8 weight. Throws std::invalid_argument as quantize_int8_rows, or when cols > 65536.
BlockRowsI8 make_block_rows_i8(std::span<const float> w, std::size_t rows, std::size_t cols);
/// Block int8 GEMV, rows [r0, r1), activations quantised as for int8_gemm (x.batch == 1, x.cols
/// == a.cols): y[r] = scale_r s_x sum_j q_rj x_q,j + bias[r], exact int32 sums, so it equals
/// int8_gemm on the same weights bit for bit.
void block_gemv(const BlockRowsI8& a, const QuantisedActs& x, const float* bias, float* y,
                std::size_t r0, std::size_t r1);

/// SpMM on transposed activations, rows [r0, r1): yt[r, b] = (scale_r) sum_j W_rj xt[j, b] +
/// bias[r], for b < batch. xt [cols x batch], yt [rows x batch], both row-major (a batch of
/// samples per row). bias may be null.
void spmm(const SparseF32& a, const float* xt, std::size_t batch, const float* bias, float* yt,
          std::size_t r0, std::size_t r1);
void spmm(const SparseI8& a, const float* xt, std::size_t batch, const float* bias, float* yt,
          std::size_t r0, std::size_t r1);

/// Dense int8 GEMM with dynamic-range activations, rows [r0, r1): y[b, r] = scale_r s_x,b sum_j
/// q_rj x_q,bj + bias[r]. w [rows x cols] (quantize_int8_rows), y [batch x rows] (one sample per
/// row). Bit-identical between the AVX2 and portable kernels.
void int8_gemm(const Int8Rows& w, const QuantisedActs& x, const float* bias, float* y,
               std::size_t r0, std::size_t r1);

/// A 3x3 'same' (zero-padded) convolution with 2 output channels on NHWC images, for the
/// layers where XNNPACK's GEMM tiles (16 output channels wide) waste 7/8 of the work: CsiNet's
/// 2->2 and 16->2 convolutions (measured on one 32 x 32 image: XNNPACK 40 us for 16->2, 8 us for
/// 2->2). Weights [2, 3, 3, cin] (OHWI), bias [2]. fp32, products summed in the kernel's own
/// order (AVX2 and portable differ by float rounding).
struct Conv3x3To2 {
  std::size_t cin = 0;
  std::vector<float> w;  ///< [2, 3, 3 cin]: per output channel and kernel row, 3 cin weights
  float bias[2] = {0.0F, 0.0F};
};
/// Throws std::invalid_argument when w.size() != 18 cin or bias.size() != 2.
Conv3x3To2 make_conv3x3_to2(std::span<const float> w, std::span<const float> bias, std::size_t cin);
/// in [batch, h, w, cin] -> out [batch, h, w, 2], images [i0, i1) of the batch.
void conv3x3_to2(const Conv3x3To2& k, const float* in, std::size_t h, std::size_t w, float* out,
                 std::size_t i0, std::size_t i1);

/// The portable kernels, whatever the CPU (tests compare them with the dispatched ones).
namespace portable {
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
}  // namespace portable

}  // namespace linksim::sparse
