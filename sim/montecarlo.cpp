#include "sim/montecarlo.hpp"

#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include <sched.h>
#include <time.h>

namespace linksim {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Clock::now() to within a few milliseconds, at a third of the cost (read once per frame for the
/// time limit and progress reports).
Clock::time_point coarse_now() {
#if defined(CLOCK_MONOTONIC_COARSE)
  static_assert(std::is_same_v<Clock, std::chrono::steady_clock>);
  timespec ts{};
  if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0) {
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
        std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
  }
#endif
  return Clock::now();
}

/// Shared state of one point: frames are committed in index order under the mutex.
class PointState {
 public:
  PointState(const PointJob& job, const ProgressCallback& progress)
      : job_(job), progress_(progress), start_(Clock::now()), last_report_(start_) {}

  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }
  std::uint64_t claim_frame() { return next_frame_.fetch_add(1, std::memory_order_relaxed); }

  void commit(std::uint64_t index, const FrameOutcome& outcome) {
    std::lock_guard lock(mutex_);
    if (stopped()) return;
    if (index != counts_.frames) {  // an earlier frame is still running: wait for it
      pending_.emplace(index, outcome);
      return;
    }
    if (add(outcome)) return;
    for (auto it = pending_.find(counts_.frames); it != pending_.end();
         it = pending_.find(counts_.frames)) {
      const FrameOutcome next = it->second;
      pending_.erase(it);
      if (add(next)) return;
    }
    if (progress_) {
      const auto now = coarse_now();
      if (now - last_report_ > std::chrono::milliseconds(200)) {
        last_report_ = now;
        progress_(counts_, seconds_since(start_));
      }
    }
  }

  void fail(std::exception_ptr e) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = e;
    stopped_ = true;
  }

  void finish(PointResult& result) {
    result.wall_s = seconds_since(start_);
    result.counts = counts_;
    result.reason = reason_;
    if (!error_) return;
    try {
      std::rethrow_exception(error_);
    } catch (const NumericalError& e) {
      result.reason = StopReason::NumericalError;
      result.error = e.what();
    }
  }

 private:
  /// Adds the next frame in order; true (and the point stopped) when a stop rule fires.
  bool add(const FrameOutcome& o) {
    counts_.bits += o.bits;
    counts_.bit_errors += o.bit_errors;
    counts_.frame_errors += o.frame_error ? 1 : 0;
    counts_.bit_errors_sumsq +=
        static_cast<double>(o.bit_errors) * static_cast<double>(o.bit_errors);
    ++counts_.frames;
    if (!check_stop()) return false;
    stopped_ = true;
    pending_.clear();
    return true;
  }

  bool check_stop() {
    const StopRule& r = job_.stop;
    const bool has_target = r.min_bit_errors > 0 || r.min_frame_errors > 0;
    if (has_target && counts_.bit_errors >= r.min_bit_errors &&
        counts_.frame_errors >= r.min_frame_errors) {
      reason_ = StopReason::ErrorTarget;
    } else if (r.max_frames > 0 && counts_.frames >= r.max_frames) {
      reason_ = StopReason::MaxFrames;
    } else if (r.max_bits > 0 && counts_.bits >= r.max_bits) {
      reason_ = StopReason::MaxBits;
    } else if (r.max_seconds > 0 &&
               std::chrono::duration<double>(coarse_now() - start_).count() >= r.max_seconds) {
      reason_ = StopReason::MaxTime;
    } else {
      return false;
    }
    return true;
  }

  const PointJob& job_;
  const ProgressCallback& progress_;
  Clock::time_point start_;
  Clock::time_point last_report_;
  std::mutex mutex_;
  std::map<std::uint64_t, FrameOutcome> pending_;
  Counts counts_;
  StopReason reason_ = StopReason::MaxFrames;
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint64_t> next_frame_{0};
  std::exception_ptr error_;
};

/// Runs frames until the point stops, on `simulator` (built from the factory when null).
void worker(const SimulatorFactory& make_simulator, std::unique_ptr<FrameSimulator> simulator,
            const PointJob& job, PointState& state, LatencyRecorder& latency) {
  try {
    if (!simulator) simulator = make_simulator();
    while (!state.stopped()) {
      const std::uint64_t index = state.claim_frame();
      if (job.stop.max_frames > 0 && index >= job.stop.max_frames) break;
      RandomStream rng(derive_seed(job.seed, job.point_index, index));
      const FrameOutcome outcome = simulator->run_frame(job.n0, rng, latency);
      state.commit(index, outcome);
    }
  } catch (...) {
    state.fail(std::current_exception());
  }
}

}  // namespace

std::string_view to_string(StopReason r) {
  switch (r) {
    case StopReason::ErrorTarget:
      return "error_target";
    case StopReason::MaxBits:
      return "max_bits";
    case StopReason::MaxFrames:
      return "max_frames";
    case StopReason::MaxTime:
      return "max_seconds";
    case StopReason::NumericalError:
      return "numerical_error";
  }
  return "?";
}

unsigned hardware_threads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1U, std::thread::hardware_concurrency());
}

double ber(const Counts& c) {
  return c.bits == 0 ? 0.0 : static_cast<double>(c.bit_errors) / static_cast<double>(c.bits);
}

double fer(const Counts& c) {
  return c.frames == 0 ? 0.0 : static_cast<double>(c.frame_errors) / static_cast<double>(c.frames);
}

PointResult run_point(const SimulatorFactory& make_simulator, const PointJob& job,
                      const ProgressCallback& progress) {
  if (!job.stop.has_limit()) {
    throw std::invalid_argument(
        "stop rule needs at least one of max_bits, max_frames, max_seconds");
  }
  if (job.threads == 0) throw std::invalid_argument("threads must be at least 1");

  // The first simulator also tells the stage names; worker 0 then uses it.
  auto first = make_simulator();
  const std::vector<std::string> names = first->stage_names();
  const std::vector<std::string> blocks = first->stage_blocks();
  std::vector<LatencyRecorder> latency(job.threads, LatencyRecorder(names));
  PointState state(job, progress);
  if (job.threads == 1) {
    worker(make_simulator, std::move(first), job, state, latency[0]);
  } else {
    std::vector<std::thread> pool;
    pool.reserve(job.threads);
    try {
      for (unsigned t = 0; t < job.threads; ++t) {
        pool.emplace_back(worker, std::cref(make_simulator),
                          t == 0 ? std::move(first) : std::unique_ptr<FrameSimulator>(),
                          std::cref(job), std::ref(state), std::ref(latency[t]));
      }
    } catch (...) {  // could not start every thread: stop the ones running, then report
      state.fail(std::current_exception());
      for (auto& th : pool) th.join();
      throw;
    }
    for (auto& th : pool) th.join();
  }
  PointResult result;
  state.finish(result);
  for (unsigned t = 1; t < job.threads; ++t) latency[0].merge(latency[t]);
  result.latency = latency[0].summary();
  for (std::size_t i = 0; i < result.latency.size() && i < blocks.size(); ++i) {
    result.latency[i].block = blocks[i];
  }
  return result;
}

}  // namespace linksim
