// The fixed dense layer both backend probes compute (internal to nn_compress).
#pragma once

#include <array>
#include <cmath>

namespace linksim::probe {

inline constexpr int kIn = 4;
inline constexpr int kOut = 3;
// Row-major [kOut, kIn] weights, bias [kOut], input [kIn].
inline constexpr std::array<float, kOut* kIn> kWeights = {1, 2, 3,    4,     -1, 0,
                                                          1, 0, 0.5F, 0.25F, -2, 1};
inline constexpr std::array<float, kOut> kBias = {0.5F, -1, 2};
inline constexpr std::array<float, kIn> kInput = {1, -1, 2, 0.5F};

/// Largest deviation of `y` from W x + b.
template <class Y>
float max_error(const Y& y) {
  float err = 0;
  for (int o = 0; o < kOut; ++o) {
    float ref = kBias[o];
    for (int i = 0; i < kIn; ++i) ref += kWeights[o * kIn + i] * kInput[i];
    err = std::fmax(err, std::fabs(y[o] - ref));
  }
  return err;
}

}  // namespace linksim::probe
