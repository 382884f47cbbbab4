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

/// True when the CPU (and OS) support AVX-512 F and VL. Checked once.
inline bool cpu_has_avx512vl() {
#if defined(__x86_64__)
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512vl") != 0;
  }();
  return yes;
#else
  return false;
#endif
}

/// True when the CPU (and OS) also support AVX-512 BW (byte and word operations, 64-bit masks).
/// Checked once.
inline bool cpu_has_avx512bw() {
#if defined(__x86_64__)
  static const bool yes = [] {
    __builtin_cpu_init();
    return cpu_has_avx512vl() && __builtin_cpu_supports("avx512bw") != 0;
  }();
  return yes;
#else
  return false;
#endif
}

/// True when the CPU (and OS) also support AVX-512 BW and VNNI (vpdpwssd: int16 pair products
/// added into int32 sums). Checked once.
inline bool cpu_has_avx512_vnni() {
#if defined(__x86_64__)
  static const bool yes = [] {
    __builtin_cpu_init();
    return cpu_has_avx512vl() && __builtin_cpu_supports("avx512bw") != 0 &&
           __builtin_cpu_supports("avx512vnni") != 0;
  }();
  return yes;
#else
  return false;
#endif
}

namespace detail {
/// Set by cap_kernels_at_avx2, or at start-up by LINKSIM_SIMD=avx2.
inline std::atomic<bool> avx2_cap{[] {
  const char* v = std::getenv("LINKSIM_SIMD");
  return v != nullptr && std::strcmp(v, "avx2") == 0;
}()};
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

/// Makes the dispatchers that have AVX-512 kernels use the AVX2 ones (on), or the best the CPU
/// has (off); bit-identical results either way (tests check it).
inline void cap_kernels_at_avx2(bool on) {
  detail::avx2_cap.store(on, std::memory_order_relaxed);
}

/// True when the dispatchers should use their AVX-512VL kernels.
inline bool has_avx512vl() {
  return cpu_has_avx512vl() && has_avx2() && !detail::avx2_cap.load(std::memory_order_relaxed);
}

/// True when the dispatchers should use their AVX-512 BW kernels.
inline bool has_avx512bw() {
  return cpu_has_avx512bw() && has_avx512vl();
}

/// True when the dispatchers should use their AVX-512 VNNI kernels.
inline bool has_avx512_vnni() {
  return cpu_has_avx512_vnni() && has_avx512vl();
}

}  // namespace linksim
