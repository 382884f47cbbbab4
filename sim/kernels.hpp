// Vectorised inner loops shared by blocks (AVX2 where the CPU has it, picked at run time; the
// results are identical on every instruction set).
#pragma once

#include <cstddef>
#include <cstdint>

namespace linksim::kernels {

/// x[i] = 1 - 2 bits[i] (bit 0 -> +1, bit 1 -> -1): +1.0 with the sign bit set when bit 0 of
/// bits[i] is set. Shapes: [n].
void bpsk_map(const std::uint8_t* bits, double* x, std::size_t n);
/// bits[i] = (y[i] < 0). Shapes: [n].
void sign_decisions(const double* y, std::uint8_t* bits, std::size_t n);
/// Number of i with a[i] != b[i].
std::uint64_t count_mismatches(const std::uint8_t* a, const std::uint8_t* b, std::size_t n);
/// y[i] += x[i]. Shapes: [n].
void add_in_place(double* y, const double* x, std::size_t n);
/// True when no v[i] is NaN or +-Inf. Shape: [n].
bool all_finite(const double* v, std::size_t n);

}  // namespace linksim::kernels
