// Loop bodies of sim/kernels.hpp, compiled once per instruction set (kernels.cpp: baseline,
// kernels_avx2.cpp: -mavx2). Internal linkage keeps the copies apart.
#pragma once

#include <cstddef>
#include <cstdint>

namespace linksim::kernels {
namespace {

void bpsk_map_impl(const std::uint8_t* __restrict bits, double* __restrict x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = 1.0 - 2.0 * static_cast<double>(bits[i]);
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

void add_in_place_impl(double* __restrict y, const double* __restrict x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace
}  // namespace linksim::kernels
