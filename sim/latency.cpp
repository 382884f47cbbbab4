#include "sim/latency.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace linksim {
namespace {

constexpr double kMinSeconds = 1e-9;
constexpr double kGrowth = 1.01;
const double kLogGrowth = std::log(kGrowth);
const std::size_t kBuckets =
    static_cast<std::size_t>(std::ceil(std::log(1e3 / kMinSeconds) / std::log(kGrowth))) + 1;

std::size_t bucket_of(double seconds) {
  if (!(seconds > kMinSeconds)) return 0;
  const auto b = static_cast<std::size_t>(std::log(seconds / kMinSeconds) / kLogGrowth);
  return std::min(b, kBuckets - 1);
}

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

void LatencyHistogram::record(double seconds) {
  ++buckets_[bucket_of(seconds)];
  min_ = count_ == 0 ? seconds : std::min(min_, seconds);
  max_ = count_ == 0 ? seconds : std::max(max_, seconds);
  ++count_;
  sum_ += seconds;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

double LatencyHistogram::quantile_seconds(double q) const {
  if (count_ == 0) return 0.0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      const double centre = kMinSeconds * std::pow(kGrowth, static_cast<double>(i) + 0.5);
      return std::clamp(centre, min_, max_);
    }
  }
  return max_;
}

LatencyRecorder::LatencyRecorder(std::vector<std::string> stage_names)
    : names_(std::move(stage_names)), stages_(names_.size()), untimed_(names_.size(), 0) {}

void LatencyRecorder::merge(const LatencyRecorder& other) {
  if (other.names_ != names_) throw std::logic_error("merging latency of different links");
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    stages_[i].merge(other.stages_[i]);
    untimed_[i] += other.untimed_[i];
  }
  frames_ += other.frames_;
}

std::vector<LatencySummary> LatencyRecorder::summary() const {
  std::vector<LatencySummary> out;
  out.reserve(stages_.size());
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    const auto& h = stages_[i];
    out.push_back({names_[i], names_[i], h.count() + untimed_[i], 1e6 * h.mean_seconds(),
                   1e6 * h.quantile_seconds(0.50), 1e6 * h.quantile_seconds(0.99)});
  }
  return out;
}

}  // namespace linksim
