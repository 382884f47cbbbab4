// Run-time CPU feature checks for the hand-dispatched kernels.
#pragma once

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace linksim {

/// True when the CPU (and OS) support AVX2. Checked once.
inline bool cpu_has_avx2() {
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

namespace detail {
/// Set by force_portable_kernels, or at start-up by the environment variable
/// LINKSIM_SIMD=portable.
inline std::atomic<bool> portable_kernels{[] {
  const char* v = std::getenv("LINKSIM_SIMD");
  return v != nullptr && std::strcmp(v, "portable") == 0;
}()};
}  // namespace detail

/// Makes every dispatcher use the portable kernels (on) or the best the CPU has (off). The two
/// give bit-identical results; tests use this to check it.
inline void force_portable_kernels(bool on) {
  detail::portable_kernels.store(on, std::memory_order_relaxed);
}

/// True when the dispatchers should use the AVX2 kernels.
inline bool has_avx2() {
  return cpu_has_avx2() && !detail::portable_kernels.load(std::memory_order_relaxed);
}

}  // namespace linksim
