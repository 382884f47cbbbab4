// qa_montecarlo: the Monte Carlo engine (sim/montecarlo.hpp): reproducibility across thread
// counts, stop rules, random stream per frame, error propagation, and Link (sim/link.hpp).
#define BOOST_TEST_MODULE qa_montecarlo
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <span>
#include <stdexcept>

#include "blocks/blocks.hpp"
#include "channels/channels.hpp"
#include "cli/registry.hpp"
#include "qa_common.hpp"
#include "sim/cpu.hpp"
#include "sim/link.hpp"
#include "sim/montecarlo.hpp"
#include "sim/snr.hpp"

// Comparison and printing of Counts for BOOST_TEST (found by argument-dependent lookup).
namespace linksim {
bool operator==(const Counts& a, const Counts& b) {
  return a.bits == b.bits && a.bit_errors == b.bit_errors && a.frames == b.frames &&
         a.frame_errors == b.frame_errors && a.bit_errors_sumsq == b.bit_errors_sumsq;
}
std::ostream& operator<<(std::ostream& os, const Counts& c) {
  return os << "{bits " << c.bits << ", bit_errors " << c.bit_errors << ", frames " << c.frames
            << ", frame_errors " << c.frame_errors << ", sumsq " << c.bit_errors_sumsq << "}";
}
std::ostream& operator<<(std::ostream& os, StopReason r) {
  return os << to_string(r);
}
}  // namespace linksim

using namespace linksim;

namespace {

SimulatorFactory link_factory(const PointConfig& pc) {
  return [pc]() -> std::unique_ptr<FrameSimulator> { return build_link(pc); };
}

PointJob job_at(double ebn0_db, unsigned k, unsigned threads, std::uint64_t seed = 1) {
  PointJob job;
  job.n0 = make_snr_point(SnrKind::EbN0, ebn0_db, k).n0;
  job.seed = seed;
  job.point_index = 3;
  job.threads = threads;
  return job;
}

/// A frame simulator whose outcome is a known function of the frame's random stream: frame i
/// reports `bits_per_frame` bits and (first word of the stream % (max_errors + 1)) bit errors.
/// The expected totals can then be computed here, frame by frame, from derive_seed.
class StreamProbe final : public FrameSimulator {
 public:
  static constexpr std::uint64_t kBits = 100;
  static constexpr std::uint64_t kMaxErrors = 3;
  std::vector<std::string> stage_names() const override { return {"probe"}; }
  FrameOutcome run_frame(double /*n0*/, RandomStream& rng, LatencyRecorder& latency) override {
    StageTimer t(latency, 0);
    FrameOutcome o;
    o.bits = kBits;
    o.bit_errors = outcome_of(rng.next_u64());
    o.frame_error = o.bit_errors > 0;
    return o;
  }
  static std::uint64_t outcome_of(std::uint64_t word) { return word % (kMaxErrors + 1); }
};

/// What the engine should add for one StreamProbe frame with `errors` bit errors.
void add_frame(Counts& c, std::uint64_t errors) {
  c.bits += StreamProbe::kBits;
  c.bit_errors += errors;
  c.frame_errors += errors > 0 ? 1 : 0;
  c.bit_errors_sumsq += static_cast<double>(errors * errors);
  ++c.frames;
}

/// Throws NumericalError on the frame whose stream starts with a chosen word.
class FailingProbe final : public FrameSimulator {
 public:
  explicit FailingProbe(std::uint64_t bad_word) : bad_(bad_word) {}
  std::vector<std::string> stage_names() const override { return {"fail"}; }
  FrameOutcome run_frame(double, RandomStream& rng, LatencyRecorder&) override {
    if (rng.next_u64() == bad_) throw NumericalError("probe: NaN on purpose");
    return FrameOutcome{10, 0, false};
  }

 private:
  std::uint64_t bad_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(reproducibility)

BOOST_AUTO_TEST_CASE(same_counts_for_any_thread_count) {
  for (const char* mapper : {"bpsk", "qam16"}) {
    const auto pc = qa::make_point({{"link.mapper", mapper}, {"link.frame_bits", "1000"}});
    const unsigned k = point_bits_per_symbol(pc);
    PointJob job = job_at(4.0, k, 1, 42);
    job.stop.min_bit_errors = 2000;
    job.stop.max_bits = 5000000;
    const PointResult one = run_point(link_factory(pc), job);
    BOOST_TEST(one.reason == StopReason::ErrorTarget);
    for (unsigned threads : {2U, 3U, 8U}) {
      job.threads = threads;
      const PointResult many = run_point(link_factory(pc), job);
      BOOST_TEST(many.counts == one.counts,
                 mapper << ", " << threads << " threads: " << many.counts << " vs " << one.counts);
      BOOST_TEST(many.reason == one.reason);
    }
    // ...and when max_bits is what stops the point.
    job.stop.min_bit_errors = 1000000;
    job.stop.max_bits = 300000;
    job.threads = 1;
    const PointResult a = run_point(link_factory(pc), job);
    job.threads = 2;
    const PointResult b = run_point(link_factory(pc), job);
    BOOST_TEST(a.reason == StopReason::MaxBits);
    BOOST_TEST(a.counts == b.counts);
  }
}

BOOST_AUTO_TEST_CASE(same_counts_with_portable_and_avx2_kernels) {
  // The dispatchers pick AVX2 kernels where the CPU has them; the portable ones must give the
  // same bits, so the same counts (also with threads, and for every modulation and channel).
  if (!cpu_has_avx2()) BOOST_TEST_MESSAGE("no AVX2 here: both runs are portable");
  for (const auto& [mapper, channel] :
       {std::pair{"bpsk", "awgn"}, std::pair{"qpsk", "awgn"}, std::pair{"qam16", "awgn"},
        std::pair{"bpsk", "rayleigh_block"}}) {
    const auto pc = qa::make_point(
        {{"link.mapper", mapper}, {"link.channel", channel}, {"link.frame_bits", "4100"}});
    PointJob job = job_at(2.0, point_bits_per_symbol(pc), 2, 9);
    job.stop.max_frames = 60;
    const PointResult fast = run_point(link_factory(pc), job);
    force_portable_kernels(true);
    const PointResult portable = run_point(link_factory(pc), job);
    force_portable_kernels(false);
    BOOST_TEST(fast.counts == portable.counts, mapper << " over " << channel);
    BOOST_TEST(fast.counts.bit_errors > 0U);
  }
}

BOOST_AUTO_TEST_CASE(seed_and_point_index_change_the_counts) {
  const auto pc = qa::make_point({{"link.frame_bits", "1000"}});
  PointJob job = job_at(2.0, 1, 2, 1);
  job.stop.max_frames = 200;
  const Counts base = run_point(link_factory(pc), job).counts;
  job.seed = 2;
  const Counts other_seed = run_point(link_factory(pc), job).counts;
  job.seed = 1;
  job.point_index = 4;
  const Counts other_point = run_point(link_factory(pc), job).counts;
  BOOST_TEST(base.bit_errors != other_seed.bit_errors);
  BOOST_TEST(base.bit_errors != other_point.bit_errors);
}

BOOST_AUTO_TEST_CASE(frame_i_uses_stream_derive_seed_of_i_in_order) {
  // Expected totals, computed frame by frame from derive_seed(seed, point, i).
  const std::uint64_t seed = 77, point = 5, max_frames = 5000;
  std::vector<std::uint64_t> errs(max_frames);
  for (std::uint64_t i = 0; i < max_frames; ++i) {
    RandomStream rng(derive_seed(seed, point, i));
    errs[i] = StreamProbe::outcome_of(rng.next_u64());
  }
  const SimulatorFactory factory = [] { return std::make_unique<StreamProbe>(); };
  for (unsigned threads : {1U, 2U, 4U}) {
    PointJob job;
    job.seed = seed;
    job.point_index = point;
    job.threads = threads;
    job.stop.max_frames = max_frames;
    const PointResult r = run_point(factory, job);
    Counts expect;
    for (std::uint64_t i = 0; i < max_frames; ++i) add_frame(expect, errs[i]);
    BOOST_TEST(r.counts == expect, threads << " threads");

    // Error target: the point stops at the first frame whose running total reaches it.
    job.stop.min_bit_errors = 1234;
    const PointResult t = run_point(factory, job);
    Counts stop;
    for (std::uint64_t i = 0; i < max_frames && stop.bit_errors < 1234; ++i)
      add_frame(stop, errs[i]);
    BOOST_TEST(t.counts == stop, threads << " threads");
    BOOST_TEST(t.reason == StopReason::ErrorTarget);

    // Both an error target and max_frames reached on the same frame: error_target comes first
    // in the documented order.
    PointJob both = job;
    both.stop.max_frames = stop.frames;
    const PointResult b = run_point(factory, both);
    BOOST_TEST(b.counts == stop);
    BOOST_TEST(b.reason == StopReason::ErrorTarget);
    // ...and max_frames before max_bits.
    PointJob limits = job;
    limits.stop.min_bit_errors = 0;
    limits.stop.max_frames = 100;
    limits.stop.max_bits = 100 * StreamProbe::kBits;
    BOOST_TEST(run_point(factory, limits).reason == StopReason::MaxFrames);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stop_rules)

BOOST_AUTO_TEST_CASE(max_frames_is_exact) {
  const auto pc = qa::make_point({{"link.mapper", "qpsk"}, {"link.frame_bits", "512"}});
  for (unsigned threads : {1U, 2U, 5U}) {
    for (std::uint64_t max_frames : {1ULL, 7ULL, 333ULL}) {
      PointJob job = job_at(0.0, 2, threads);
      job.stop.max_frames = max_frames;
      const PointResult r = run_point(link_factory(pc), job);
      BOOST_TEST(r.counts.frames == max_frames);
      BOOST_TEST(r.counts.bits == max_frames * 512);
      BOOST_TEST(r.reason == StopReason::MaxFrames);
      BOOST_TEST(r.counts.frame_errors <= r.counts.frames);
      BOOST_TEST(r.counts.bit_errors <= r.counts.bits);
    }
  }
}

BOOST_AUTO_TEST_CASE(max_bits_stops_at_the_first_frame_reaching_it) {
  const auto pc = qa::make_point({{"link.frame_bits", "1000"}});
  PointJob job = job_at(1.0, 1, 2);
  job.stop.max_bits = 10500;
  const PointResult r = run_point(link_factory(pc), job);
  BOOST_TEST(r.counts.bits == 11000U);
  BOOST_TEST(r.counts.frames == 11U);
  BOOST_TEST(r.reason == StopReason::MaxBits);
}

BOOST_AUTO_TEST_CASE(error_targets_are_met_and_minimal) {
  const auto pc = qa::make_point({{"link.frame_bits", "1000"}});
  for (unsigned threads : {1U, 2U}) {
    PointJob job = job_at(6.0, 1, threads, 5);
    job.stop.min_bit_errors = 300;
    job.stop.min_frame_errors = 100;
    job.stop.max_bits = 100000000;
    const PointResult r = run_point(link_factory(pc), job);
    BOOST_TEST(r.reason == StopReason::ErrorTarget);
    BOOST_TEST(r.counts.bit_errors >= 300U);
    BOOST_TEST(r.counts.frame_errors >= 100U);
    // One frame fewer does not meet both targets.
    PointJob shorter = job;
    shorter.stop.max_frames = r.counts.frames - 1;
    const PointResult s = run_point(link_factory(pc), shorter);
    BOOST_TEST(s.reason == StopReason::MaxFrames);
    BOOST_TEST((s.counts.bit_errors < 300U || s.counts.frame_errors < 100U));
  }
}

BOOST_AUTO_TEST_CASE(max_seconds_stops_a_point) {
  const auto pc = qa::make_point({{"link.frame_bits", "1000"}});
  PointJob job = job_at(20.0, 1, 2);
  job.stop.min_bit_errors = 1;  // unreachable at 20 dB in 0.3 s
  job.stop.max_seconds = 0.3;
  const PointResult r = run_point(link_factory(pc), job);
  BOOST_TEST(r.reason == StopReason::MaxTime);
  BOOST_TEST(r.wall_s >= 0.3);
  BOOST_TEST(r.wall_s < 10.0);
  BOOST_TEST(r.counts.frames > 0U);
}

BOOST_AUTO_TEST_CASE(invalid_jobs_are_refused) {
  const auto pc = qa::make_point();
  PointJob job = job_at(0.0, 1, 1);
  job.stop.min_bit_errors = 10;  // a target but no limit
  BOOST_CHECK_THROW(run_point(link_factory(pc), job), std::invalid_argument);
  job.stop.max_frames = 10;
  job.threads = 0;
  BOOST_CHECK_THROW(run_point(link_factory(pc), job), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(numerical_errors_stop_the_point) {
  const std::uint64_t seed = 3, point = 0;
  // Fail on frame 17.
  RandomStream r17(derive_seed(seed, point, 17));
  const std::uint64_t bad = r17.next_u64();
  const SimulatorFactory factory = [bad] { return std::make_unique<FailingProbe>(bad); };
  for (unsigned threads : {1U, 3U}) {
    PointJob job;
    job.seed = seed;
    job.point_index = point;
    job.threads = threads;
    job.stop.max_frames = 1000;
    // The point ends with the reason and message; frames are committed in order, so nothing at or
    // after the failing frame 17 is counted (one thread: exactly frames 0..16).
    const PointResult r = run_point(factory, job);
    BOOST_TEST((r.reason == StopReason::NumericalError));
    BOOST_TEST(!r.error.empty());
    BOOST_TEST(r.counts.frames <= 17U);
    if (threads == 1) BOOST_TEST(r.counts.frames == 17U);
  }
}

BOOST_AUTO_TEST_CASE(progress_reports_committed_counts) {
  const auto pc = qa::make_point({{"link.frame_bits", "1000"}});
  PointJob job = job_at(30.0, 1, 2);
  job.stop.max_seconds = 0.7;
  std::atomic<int> calls{0};
  std::uint64_t last_frames = 0;
  bool monotonic = true;
  const PointResult r = run_point(link_factory(pc), job, [&](const Counts& c, double elapsed) {
    ++calls;
    monotonic = monotonic && c.frames >= last_frames && c.bits == c.frames * 1000 && elapsed >= 0;
    last_frames = c.frames;
  });
  BOOST_TEST(calls.load() >= 1);
  BOOST_TEST(monotonic);
  BOOST_TEST(last_frames <= r.counts.frames);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(link_frames)

BOOST_AUTO_TEST_CASE(stage_names_and_latency_per_stage) {
  const auto pc = qa::make_point(
      {{"link.mapper", "qpsk"}, {"link.demapper", "exact"}, {"link.frame_bits", "1000"}});
  PointJob job = job_at(3.0, 2, 1);
  job.stop.max_frames = 50;
  const PointResult r = run_point(link_factory(pc), job);
  const std::vector<std::string> names{"random_bits", "qpsk", "awgn", "coherent", "exact"};
  BOOST_REQUIRE_EQUAL(r.latency.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    BOOST_TEST(r.latency[i].block == names[i]);
    // Every call is counted (one thread: exactly one per committed frame), though only a
    // sample of the frames is timed.
    BOOST_TEST(r.latency[i].calls == 50U);
    BOOST_TEST(r.latency[i].mean_us > 0.0);
    BOOST_TEST(r.latency[i].p50_us <= r.latency[i].p99_us);
  }
}

BOOST_AUTO_TEST_CASE(frame_bits_must_fit_the_mapper) {
  BOOST_CHECK_THROW(
      build_link(qa::make_point({{"link.mapper", "qam16"}, {"link.frame_bits", "1002"}})),
      ConfigError);
  BOOST_CHECK_NO_THROW(
      build_link(qa::make_point({{"link.mapper", "qam16"}, {"link.frame_bits", "1004"}})));
  LinkBlocks b;
  b.source = make_random_bit_source();
  b.mapper = make_mapper(Modulation::Qpsk);
  b.channel = make_awgn_channel();
  b.equalizer = make_equalizer(EqualizerKind::Coherent);
  b.demapper = make_demapper(DemapperKind::Hard, b.mapper->constellation());
  BOOST_CHECK_THROW(Link(std::move(b), 3), std::invalid_argument);
  BOOST_CHECK_THROW(Link(LinkBlocks{}, 4), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(count_bit_errors_counts_differences) {
  const Bits a{0, 1, 1, 0, 1, 0, 0, 0}, b{1, 1, 0, 0, 1, 0, 1, 0};
  BOOST_TEST(count_bit_errors(a, b) == 3U);
  BOOST_TEST(count_bit_errors(a, a) == 0U);
  BOOST_CHECK_THROW(count_bit_errors(a, Bits{0, 1}), std::logic_error);
  // Every length around the vector widths and the 255-element counting blocks, all bits wrong
  // and a random pattern, against a plain loop.
  RandomStream rng(21);
  for (std::size_t n :
       {1U, 7U, 31U, 32U, 33U, 254U, 255U, 256U, 257U, 510U, 511U, 1000U, 100003U}) {
    Bits x(n), y(n);
    rng.fill_bits(std::span(x.memptr(), n));
    rng.fill_bits(std::span(y.memptr(), n));
    std::uint64_t naive = 0;
    for (std::size_t i = 0; i < n; ++i) naive += x(i) != y(i) ? 1 : 0;
    BOOST_TEST(count_bit_errors(x, y) == naive, "n " << n);
    BOOST_TEST(count_bit_errors(x, Bits(1 - x)) == n, "n " << n);
  }
}

BOOST_AUTO_TEST_CASE(noiseless_link_has_no_errors) {
  // A very high SNR: no bit errors for any modulation/demapper on AWGN.
  for (const char* m : {"bpsk", "qpsk", "qam16"}) {
    for (const char* d : {"hard", "exact", "maxlog", "itpp_hard", "itpp_logmap", "itpp_maxlog"}) {
      const auto pc =
          qa::make_point({{"link.mapper", m}, {"link.demapper", d}, {"link.frame_bits", "400"}});
      PointJob job = job_at(25.0, point_bits_per_symbol(pc), 1);
      job.stop.max_frames = 20;
      const PointResult r = run_point(link_factory(pc), job);
      BOOST_TEST(r.counts.bit_errors == 0U, m << " / " << d);
      BOOST_TEST(r.counts.frames == 20U);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
