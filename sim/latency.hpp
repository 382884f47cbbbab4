// Per-block wall-time statistics: mean exactly, percentiles from a log-spaced histogram.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace linksim {

/// Summary of one block's per-call wall time, in microseconds.
struct LatencySummary {
  std::string stage;  ///< the stage (role) in the link, e.g. "mapper"
  std::string block;  ///< the block that filled it, e.g. "qpsk"
  std::uint64_t calls = 0;
  double mean_us = 0.0;
  double p50_us = 0.0;  ///< within 1% (histogram bucket width)
  double p99_us = 0.0;  ///< within 1%
};

/// Histogram of durations with 1%-wide logarithmic buckets from 1 ns to 1000 s. Mergeable.
class LatencyHistogram {
 public:
  LatencyHistogram();
  void record(double seconds);
  void merge(const LatencyHistogram& other);
  std::uint64_t count() const { return count_; }
  double mean_seconds() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  /// q in [0, 1]; returns seconds (geometric bucket centre, clamped to the observed min/max).
  double quantile_seconds(double q) const;

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  double sum_ = 0.0;
  double min_ = 0.0;
  double max_ = 0.0;
};

/// One histogram per stage of a link; one recorder per worker thread, merged at the end.
///
/// Reading the clock costs tens of nanoseconds, so a frame loop may time a sample of its frames
/// (time_next_frame) and only count the calls of the others (count_untimed): the summary's
/// `calls` counts every call, its mean and percentiles come from the timed ones.
class LatencyRecorder {
 public:
  /// Frames time_next_frame picks: the first kSampleEvery, then one in kSampleEvery.
  static constexpr std::uint64_t kSampleEvery = 16;

  explicit LatencyRecorder(std::vector<std::string> stage_names);
  /// A timed call of `stage`.
  void record(std::size_t stage, double seconds) { stages_[stage].record(seconds); }
  /// A call of `stage` that was not timed.
  void count_untimed(std::size_t stage) { ++untimed_[stage]; }
  /// Whether the caller should time the stages of its next frame.
  bool time_next_frame() {
    const std::uint64_t f = frames_++;
    return f < kSampleEvery || f % kSampleEvery == 0;
  }
  void merge(const LatencyRecorder& other);
  std::vector<LatencySummary> summary() const;
  const std::vector<std::string>& stage_names() const { return names_; }

 private:
  std::vector<std::string> names_;
  std::vector<LatencyHistogram> stages_;
  std::vector<std::uint64_t> untimed_;
  std::uint64_t frames_ = 0;
};

/// Times one call of a stage: records the wall time from construction to destruction.
class StageTimer {
 public:
  StageTimer(LatencyRecorder& recorder, std::size_t stage)
      : recorder_(recorder), stage_(stage), start_(std::chrono::steady_clock::now()) {}
  ~StageTimer() {
    const auto end = std::chrono::steady_clock::now();
    recorder_.record(stage_, std::chrono::duration<double>(end - start_).count());
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  LatencyRecorder& recorder_;
  std::size_t stage_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace linksim
