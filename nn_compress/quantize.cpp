#include "nn_compress/quantize.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

namespace linksim {

Int8Rows quantize_int8_rows(std::span<const float> w, std::size_t rows, std::size_t cols) {
  if (w.size() != rows * cols) {
    throw std::invalid_argument("quantize_int8_rows: " + std::to_string(w.size()) +
                                " values for a " + std::to_string(rows) + " x " +
                                std::to_string(cols) + " matrix");
  }
  Int8Rows m;
  m.rows = rows;
  m.cols = cols;
  m.q.resize(w.size());
  m.scale.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::span<const float> row = w.subspan(r * cols, cols);
    float peak = 0.0F;
    for (const float v : row) {
      if (!std::isfinite(v)) throw std::invalid_argument("quantize_int8_rows: non-finite weight");
      peak = std::max(peak, std::abs(v));
    }
    const float scale = peak > 0.0F ? peak / 127.0F : 1.0F;
    m.scale[r] = scale;
    for (std::size_t c = 0; c < cols; ++c) {
      const float q = std::clamp(std::round(row[c] / scale), -127.0F, 127.0F);
      m.q[r * cols + c] = static_cast<std::int8_t>(q);
    }
  }
  return m;
}

std::vector<float> dequantize(const Int8Rows& m) {
  std::vector<float> w(m.q.size());
  for (std::size_t r = 0; r < m.rows; ++r) {
    for (std::size_t c = 0; c < m.cols; ++c) {
      w[r * m.cols + c] = m.scale[r] * static_cast<float>(m.q[r * m.cols + c]);
    }
  }
  return w;
}

std::uint16_t float_to_half(float f) {
  const auto x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000U);
  const std::uint32_t exp = (x >> 23) & 0xffU;
  std::uint32_t mant = x & 0x7fffffU;
  if (exp == 0xffU) {  // Inf or NaN (keep a quiet NaN)
    return static_cast<std::uint16_t>(sign | 0x7c00U | (mant != 0 ? 0x200U : 0U));
  }
  const int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<std::uint16_t>(sign | 0x7c00U);  // overflow
  if (e <= 0) {                                                    // subnormal or zero
    if (e < -10) return sign;
    mant |= 0x800000U;
    const auto shift = static_cast<unsigned>(14 - e);
    std::uint32_t h = mant >> shift;
    const std::uint32_t rest = mant & ((1U << shift) - 1U), half = 1U << (shift - 1U);
    if (rest > half || (rest == half && (h & 1U) != 0)) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  std::uint32_t h = (static_cast<std::uint32_t>(e) << 10) | (mant >> 13);
  const std::uint32_t rest = mant & 0x1fffU;
  if (rest > 0x1000U || (rest == 0x1000U && (h & 1U) != 0)) ++h;  // may carry into Inf: right
  return static_cast<std::uint16_t>(sign | h);
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fU, mant = h & 0x3ffU;
  if (exp == 0x1fU) return std::bit_cast<float>(sign | 0x7f800000U | (mant << 13));
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign != 0 ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

}  // namespace linksim
