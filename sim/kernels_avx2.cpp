// AVX2 build of the kernels (this file alone is compiled with -mavx2; called after a CPU check).
#include "sim/kernels_impl.hpp"

namespace linksim::kernels::avx2 {

void bpsk_map(const std::uint8_t* bits, double* x, std::size_t n) {
  bpsk_map_impl(bits, x, n);
}
void sign_decisions(const double* y, std::uint8_t* bits, std::size_t n) {
  sign_decisions_impl(y, bits, n);
}
std::uint64_t count_mismatches(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
  return count_mismatches_impl(a, b, n);
}
void add_in_place(double* y, const double* x, std::size_t n) {
  add_in_place_impl(y, x, n);
}

}  // namespace linksim::kernels::avx2
