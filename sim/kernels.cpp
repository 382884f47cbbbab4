#include "sim/kernels.hpp"

#include "sim/cpu.hpp"
#include "sim/kernels_impl.hpp"

namespace linksim::kernels {
namespace avx2 {  // kernels_avx2.cpp
void bpsk_map(const std::uint8_t* bits, double* x, std::size_t n);
void sign_decisions(const double* y, std::uint8_t* bits, std::size_t n);
std::uint64_t count_mismatches(const std::uint8_t* a, const std::uint8_t* b, std::size_t n);
void add_in_place(double* y, const double* x, std::size_t n);
bool all_finite(const double* v, std::size_t n);
}  // namespace avx2
namespace avx512 {  // kernels_avx512.cpp
void bpsk_map(const std::uint8_t* bits, double* x, std::size_t n);
void sign_decisions(const double* y, std::uint8_t* bits, std::size_t n);
std::uint64_t count_mismatches(const std::uint8_t* a, const std::uint8_t* b, std::size_t n);
bool all_finite(const double* v, std::size_t n);
}  // namespace avx512

void bpsk_map(const std::uint8_t* bits, double* x, std::size_t n) {
  if (has_avx512bw()) return avx512::bpsk_map(bits, x, n);
  has_avx2() ? avx2::bpsk_map(bits, x, n) : bpsk_map_impl(bits, x, n);
}

void sign_decisions(const double* y, std::uint8_t* bits, std::size_t n) {
  if (has_avx512bw()) return avx512::sign_decisions(y, bits, n);
  has_avx2() ? avx2::sign_decisions(y, bits, n) : sign_decisions_impl(y, bits, n);
}

std::uint64_t count_mismatches(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
  if (has_avx512bw()) return avx512::count_mismatches(a, b, n);
  return has_avx2() ? avx2::count_mismatches(a, b, n) : count_mismatches_impl(a, b, n);
}

void add_in_place(double* y, const double* x, std::size_t n) {
  has_avx2() ? avx2::add_in_place(y, x, n) : add_in_place_impl(y, x, n);
}

bool all_finite(const double* v, std::size_t n) {
  if (has_avx512bw()) return avx512::all_finite(v, n);
  return has_avx2() ? avx2::all_finite(v, n) : all_finite_impl(v, n);
}

}  // namespace linksim::kernels
