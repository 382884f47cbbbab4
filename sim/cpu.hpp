// Run-time CPU feature checks for the hand-dispatched kernels.
#pragma once

namespace linksim {

/// True when the CPU (and OS) support AVX2. Checked once.
inline bool has_avx2() {
#if defined(__x86_64__)
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
#else
  return false;
#endif
}

}  // namespace linksim
