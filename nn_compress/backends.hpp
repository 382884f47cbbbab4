// Inference backends available to NN blocks. For now: a start-up probe that proves LibTorch and
// XNNPACK are linked and compute correctly (a tiny dense layer on each). LibTorch stays out of
// this header: only torch_probe.cpp includes torch/torch.h.
#pragma once

#include <string>
#include <vector>

namespace linksim {

enum class Backend { Torch, Xnnpack };

struct BackendStatus {
  Backend backend;
  std::string name;    ///< "torch", "xnnpack"
  bool ok = false;     ///< initialised and computed y = W x + b correctly
  std::string detail;  ///< version or error
};

/// Runs y = W x + b with a fixed 3x4 W on the backend and compares with the exact result.
BackendStatus probe_torch(int threads);
BackendStatus probe_xnnpack();

/// Process-wide allocator tuning for large tensors (glibc mallopt: mmap threshold 32 MiB, trim
/// threshold 1 GiB), so that big buffers are not returned to the OS and page-faulted in again on
/// every pass. Call once at start-up.
void tune_allocator();

}  // namespace linksim
