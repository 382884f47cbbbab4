// Portable loop bodies of sim/kernels.hpp (kernels.cpp). kernels_avx2.cpp has AVX2 versions that
// give the same results and uses these for the last few elements. Internal linkage keeps the
// copies of the two builds apart.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace linksim::kernels {
namespace {

void bpsk_map_impl(const std::uint8_t* __restrict bits, double* __restrict x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t sign = static_cast<std::uint64_t>(bits[i] & 1U) << 63;
    x[i] = std::bit_cast<double>(0x3ff0000000000000ULL | sign);
  }
}

void sign_decisions_impl(const double* __restrict y, std::uint8_t* __restrict bits, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) bits[i] = static_cast<std::uint8_t>(y[i] < 0.0);
}

std::uint64_t count_mismatches_impl(const std::uint8_t* __restrict a,
                                    const std::uint8_t* __restrict b, std::size_t n) {
  // Blocks of 255 keep the byte counters from overflowing and let the loop vectorise.
  std::uint64_t total = 0;
  for (std::size_t start = 0; start < n; start += 255) {
    const std::size_t end = start + 255 < n ? start + 255 : n;
    std::uint8_t block = 0;
    for (std::size_t i = start; i < end; ++i) block += static_cast<std::uint8_t>(a[i] != b[i]);
    total += block;
  }
  return total;
}

[[maybe_unused]] void add_in_place_impl(double* __restrict y, const double* __restrict x,
                                        std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += x[i];
}

bool all_finite_impl(const double* v, std::size_t n) {
  // v - v is 0 for finite v and NaN for NaN and +-Inf; a sum of them is NaN iff one is.
  double acc = 0.0;
  for (std::size_t i = 0; i < n; ++i) acc += v[i] - v[i];
  return acc == 0.0;
}

}  // namespace
}  // namespace linksim::kernels
