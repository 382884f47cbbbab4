// Loops of the int8 kernels shared by the x86 builds (sparse_kernels_avx2.cpp and
// sparse_kernels_avx512.cpp): each build supplies an Isa with its exact int32 dot products and
// compiles these loops with its own instruction set. Internal linkage keeps the builds apart.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "nn_compress/sparse_kernels_impl.hpp"

namespace linksim::sparse {
namespace {

/// Dense int8 GEMM rows [r0, r1) (sparse_kernels.hpp): samples 4 at a time, then one by one.
/// Isa::dots<K>(q, cols, samples, out, done) sets out[i] to the exact dot of weight row q with
/// sample i over columns [0, done); the portable loop adds the rest.
template <class Isa>
void int8_gemm_loop(const Int8Rows& w, const QuantisedActs& x, const float* bias, float* y,
                    std::size_t r0, std::size_t r1) {
  const auto sample = [&](std::size_t b) { return x.q.data() + b * x.stride; };
  const auto rows = [&]<std::size_t K>(std::size_t b, const std::array<const std::int16_t*, K>& s) {
    for (std::size_t r = r0; r < r1; ++r) {
      std::array<std::int32_t, K> dot{};
      std::size_t done = 0;
      Isa::template dots<K>(w.q.data() + r * w.cols, w.cols, s, dot, done);
      for (std::size_t i = 0; i < K; ++i) {
        y[(b + i) * w.rows + r] =
            int8_finish(w, x, b + i, r, dot[i] + int8_dot(w, x, b + i, r, done), bias);
      }
    }
  };
  std::size_t b = 0;
  for (; b + 4 <= x.batch; b += 4) {
    rows(b, std::array<const std::int16_t*, 4>{sample(b), sample(b + 1), sample(b + 2),
                                               sample(b + 3)});
  }
  for (; b < x.batch; ++b) rows(b, std::array<const std::int16_t*, 1>{sample(b)});
}

/// Block int8 GEMV rows [r0, r1) (sparse_kernels.hpp): Isa::block_row(a, xq, k0, k1) is the
/// exact dot of blocks [k0, k1) with the activations xq.
template <class Isa>
void block_gemv_loop(const BlockRowsI8& a, const QuantisedActs& x, const float* bias, float* y,
                     std::size_t r0, std::size_t r1) {
  for (std::size_t r = r0; r < r1; ++r) {
    y[r] =
        block_finish(a, x, r, Isa::block_row(a, x.q.data(), a.row_ptr[r], a.row_ptr[r + 1]), bias);
  }
}

}  // namespace
}  // namespace linksim::sparse
