// Scalar quantisation primitives shared by the compression methods (compress.hpp), the compact
// model format and the int8 inference kernels. No LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace linksim {

/// Symmetric int8 quantisation of a row-major matrix [rows x cols], one scale per row (per
/// output channel): scale_r = max_j |w_rj| / 127 (1 for an all-zero row), q_rj = round(w_rj /
/// scale_r) in [-127, 127] (round half away from zero). Dequantised w_rj = scale_r q_rj, so
/// |w - deq| <= scale_r / 2 for every entry.
struct Int8Rows {
  std::size_t rows = 0, cols = 0;
  std::vector<std::int8_t> q;  ///< [rows x cols], row-major
  std::vector<float> scale;    ///< [rows]
};
/// Throws std::invalid_argument when w.size() != rows * cols or a value is not finite.
Int8Rows quantize_int8_rows(std::span<const float> w, std::size_t rows, std::size_t cols);
/// The float matrix [rows x cols] that q and scale stand for.
std::vector<float> dequantize(const Int8Rows& m);

/// IEEE 754 binary16 conversion, round to nearest even; overflow gives +-Inf, NaN stays NaN,
/// subnormals are kept.
std::uint16_t float_to_half(float f);
float half_to_float(std::uint16_t h);

}  // namespace linksim
