// The Monte Carlo runner: simulates frames of one operating point on N threads until a stop rule
// fires. Frame i always uses the random stream derive_seed(seed, point_index, i), and frames are
// committed strictly in index order, so the counts for a seed are identical for any thread count
// (except when the wall-time limit is what stops the point).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/latency.hpp"
#include "sim/link.hpp"

namespace linksim {

/// When a point stops. A point ends as soon as every error target that is set is met, or any
/// limit that is set is reached. 0 means "not set". At least one limit must be set.
struct StopRule {
  std::uint64_t min_bit_errors = 0;
  std::uint64_t min_frame_errors = 0;
  std::uint64_t max_bits = 0;
  std::uint64_t max_frames = 0;
  double max_seconds = 0.0;  ///< wall time; a point stopped by it is not reproducible

  /// True when at least one limit (max_bits, max_frames, max_seconds) is set.
  bool has_limit() const { return max_bits > 0 || max_frames > 0 || max_seconds > 0.0; }
};

/// Why a point ended. NumericalError: a block produced NaN/Inf; the counts up to then are kept.
enum class StopReason { ErrorTarget, MaxBits, MaxFrames, MaxTime, NumericalError };
std::string_view to_string(StopReason r);

/// Running totals of a point (also what progress reports show).
struct Counts {
  std::uint64_t bits = 0;
  std::uint64_t bit_errors = 0;
  std::uint64_t frames = 0;
  std::uint64_t frame_errors = 0;
  /// Sum over frames of (bit errors in the frame)^2, for the frame-level confidence interval.
  double bit_errors_sumsq = 0.0;
};

/// Bit and frame error rates of the counts (0 when nothing was counted).
double ber(const Counts& c);
double fer(const Counts& c);

struct PointResult {
  Counts counts;
  double wall_s = 0.0;
  StopReason reason = StopReason::MaxFrames;
  std::string error;                    ///< the message when reason is NumericalError
  std::vector<LatencySummary> latency;  ///< one entry per stage
};

struct PointJob {
  double n0 = 1.0;                ///< noise variance per complex sample (Es = 1)
  std::uint64_t seed = 1;         ///< master seed of the run
  std::uint64_t point_index = 0;  ///< index of the point in the sweep
  unsigned threads = 1;
  StopRule stop;
};

using SimulatorFactory = std::function<std::unique_ptr<FrameSimulator>()>;
/// Called from time to time (about every 0.2 s) with the committed counts and elapsed seconds.
using ProgressCallback = std::function<void(const Counts&, double elapsed_s)>;

/// Runs one point. A NumericalError from a block ends the point (reason NumericalError, message
/// in `error`, counts so far kept); other exceptions propagate. Throws std::invalid_argument for
/// a bad rule.
PointResult run_point(const SimulatorFactory& make_simulator, const PointJob& job,
                      const ProgressCallback& progress = {});

/// Number of CPUs this process may run on (affinity mask; at least 1).
unsigned hardware_threads();

}  // namespace linksim
