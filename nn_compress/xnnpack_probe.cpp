#include <xnnpack.h>

#include <array>
#include <limits>

#include "nn_compress/backends.hpp"
#include "nn_compress/probe_data.hpp"

namespace linksim {

BackendStatus probe_xnnpack() {
  BackendStatus s{Backend::Xnnpack, "xnnpack", false, ""};
  if (xnn_initialize(nullptr) != xnn_status_success) {
    s.detail = "xnn_initialize failed (CPU not supported?)";
    return s;
  }
  xnn_operator_t op = nullptr;
  const float inf = std::numeric_limits<float>::infinity();
  if (xnn_create_fully_connected_nc_f32(probe::kIn, probe::kOut, probe::kIn, probe::kOut,
                                        probe::kWeights.data(), probe::kBias.data(), -inf, inf, 0,
                                        &op) != xnn_status_success) {
    s.detail = "xnn_create_fully_connected_nc_f32 failed";
    return s;
  }
  std::array<float, probe::kOut> y{};
  const bool ran = xnn_setup_fully_connected_nc_f32(op, 1, probe::kInput.data(), y.data(),
                                                    nullptr) == xnn_status_success &&
                   xnn_run_operator(op, nullptr) == xnn_status_success;
  xnn_delete_operator(op);
  if (!ran) {
    s.detail = "XNNPACK fully-connected operator failed to run";
    return s;
  }
  const float err = probe::max_error(y);
  s.ok = err < 1e-5F;
  s.detail = "XNNPACK fully_connected_nc_f32, max error " + std::to_string(err);
  return s;
}

}  // namespace linksim
