// qa_latency: per-block latency statistics (sim/latency.hpp): exact mean, percentiles within the
// documented 1% bucket width, merging, and the stage timer.
#define BOOST_TEST_MODULE qa_latency
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <thread>

#include "sim/latency.hpp"

using namespace linksim;

BOOST_AUTO_TEST_CASE(mean_is_exact_and_percentiles_within_one_percent) {
  LatencyHistogram h;
  BOOST_TEST(h.count() == 0U);
  BOOST_TEST(h.quantile_seconds(0.5) == 0.0);
  // 1, 2, ..., 1000 microseconds in a scrambled order.
  for (int i = 0; i < 1000; ++i) h.record(1e-6 * ((i * 389) % 1000 + 1));
  BOOST_TEST(h.count() == 1000U);
  BOOST_TEST(std::abs(h.mean_seconds() - 500.5e-6) <= 1e-15);
  // The q-quantile of 1..1000 is the ceil(1000 q)-th value.
  for (double q : {0.01, 0.1, 0.5, 0.9, 0.99}) {
    const double expect = 1e-6 * std::ceil(1000 * q);
    BOOST_TEST(std::abs(h.quantile_seconds(q) / expect - 1) <= 0.01,
               "q " << q << ": " << h.quantile_seconds(q));
  }
  BOOST_TEST(h.quantile_seconds(0.0) >= 1e-6);  // clamped to the observed minimum
  BOOST_TEST(h.quantile_seconds(1.0) <= 1e-3);  // ...and maximum
}

BOOST_AUTO_TEST_CASE(single_value_is_returned_exactly) {
  LatencyHistogram h;
  h.record(3.7e-6);
  BOOST_TEST(h.quantile_seconds(0.5) == 3.7e-6);
  BOOST_TEST(h.quantile_seconds(0.99) == 3.7e-6);
}

BOOST_AUTO_TEST_CASE(merge_equals_recording_everything_in_one) {
  LatencyHistogram a, b, all;
  for (int i = 1; i <= 300; ++i) {
    const double t = 1e-7 * i * i;
    (i % 3 ? a : b).record(t);
    all.record(t);
  }
  LatencyHistogram empty;
  a.merge(empty);
  a.merge(b);
  BOOST_TEST(a.count() == all.count());
  BOOST_TEST(std::abs(a.mean_seconds() - all.mean_seconds()) <= 1e-15);
  for (double q : {0.0, 0.25, 0.5, 0.75, 0.99, 1.0})
    BOOST_TEST(a.quantile_seconds(q) == all.quantile_seconds(q));
  empty.merge(all);
  BOOST_TEST(empty.quantile_seconds(0.5) == all.quantile_seconds(0.5));
}

BOOST_AUTO_TEST_CASE(recorder_summary_and_timer) {
  LatencyRecorder r({"a", "b"});
  {
    StageTimer t(r, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.record(0, 2e-6);
  r.record(0, 4e-6);
  const auto s = r.summary();
  BOOST_REQUIRE_EQUAL(s.size(), 2U);
  BOOST_TEST(s[0].block == "a");
  BOOST_TEST(s[0].calls == 2U);
  BOOST_TEST(std::abs(s[0].mean_us - 3.0) <= 1e-9);
  BOOST_TEST(s[1].block == "b");
  BOOST_TEST(s[1].calls == 1U);
  BOOST_TEST(s[1].mean_us >= 5000.0);
  BOOST_TEST(s[1].mean_us < 5e6);

  LatencyRecorder other({"a", "b"});
  other.record(0, 6e-6);
  r.merge(other);
  BOOST_TEST(r.summary()[0].calls == 3U);
  BOOST_TEST(std::abs(r.summary()[0].mean_us - 4.0) <= 1e-9);
  BOOST_CHECK_THROW(r.merge(LatencyRecorder({"x", "y"})), std::logic_error);
}

BOOST_AUTO_TEST_CASE(sampled_frames_count_every_call) {
  // A frame loop times the frames time_next_frame picks (the first kSampleEvery, then one in
  // kSampleEvery) and counts the others: calls counts all, the mean is over the timed ones.
  LatencyRecorder r({"a"});
  constexpr std::uint64_t every = LatencyRecorder::kSampleEvery;
  const std::uint64_t frames = 5 * every + 3;
  std::uint64_t timed = 0;
  for (std::uint64_t f = 0; f < frames; ++f) {
    if (r.time_next_frame()) {
      BOOST_TEST((f < every || f % every == 0));
      r.record(0, 1e-6 * static_cast<double>(++timed));
    } else {
      r.count_untimed(0);
    }
  }
  BOOST_TEST(timed == every + 5);  // frames 0 .. every - 1, then every, 2 every, ..., 5 every
  const auto s = r.summary();
  BOOST_TEST(s[0].calls == frames);
  const double mean = (static_cast<double>(timed) + 1) / 2;  // of 1 .. timed us
  BOOST_TEST(std::abs(s[0].mean_us - mean) <= 1e-9);
  LatencyRecorder other({"a"});
  other.count_untimed(0);
  r.merge(other);
  BOOST_TEST(r.summary()[0].calls == frames + 1);
  BOOST_TEST(std::abs(r.summary()[0].mean_us - mean) <= 1e-9);
}
