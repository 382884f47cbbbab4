#include "cli/bench.hpp"

#include <itpp/base/random.h>
#include <itpp/comm/error_counters.h>
#include <itpp/comm/modulator.h>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "cli/registry.hpp"
#include "sim/montecarlo.hpp"
#include "sim/snr.hpp"

namespace linksim {
namespace {

struct Measured {
  double bits = 0;
  double errors = 0;
  double seconds = 0;
};

/// The IT++ reference loop: randb -> BPSK::modulate_bits -> + sqrt(N0/2) randn ->
/// BPSK::demodulate_bits -> BERC::count, one thread.
Measured itpp_loop(const MonteCarloBenchOptions& o, double n0) {
  itpp::RNG_reset(12345);
  itpp::BPSK bpsk;
  itpp::BERC berc;
  const int n = static_cast<int>(o.itpp_block_bits);
  const double sigma = std::sqrt(n0 / 2.0);
  const auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < o.seconds) {
    const itpp::bvec bits = itpp::randb(n);
    const itpp::vec tx = bpsk.modulate_bits(bits);
    const itpp::vec rx = tx + sigma * itpp::randn(n);
    const itpp::bvec decided = bpsk.demodulate_bits(rx);
    berc.count(bits, decided);
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return {berc.get_total_bits(), berc.get_errors(), elapsed};
}

Measured linksim_loop(const MonteCarloBenchOptions& o, const PointConfig& point, double n0) {
  PointJob job;
  job.n0 = n0;
  job.seed = 1;
  job.threads = o.threads;
  job.stop.max_seconds = o.seconds;
  const SimulatorFactory factory = [&point]() -> std::unique_ptr<FrameSimulator> {
    return build_link(point);
  };
  const PointResult r = run_point(factory, job);
  return {static_cast<double>(r.counts.bits), static_cast<double>(r.counts.bit_errors), r.wall_s};
}

}  // namespace

std::string bench_montecarlo(const MonteCarloBenchOptions& o) {
  std::map<std::string, std::string> values;
  for (const auto& spec : scenario_schema()) values[spec.key] = spec.default_value;
  values["link.mapper"] = "bpsk";
  values["link.channel"] = "awgn";
  values["link.demapper"] = "hard";
  values["link.frame_bits"] = std::to_string(o.frame_bits);
  const PointConfig point(values);
  const SnrPoint snr = make_snr_point(SnrKind::EbN0, o.ebn0_db, 1);

  const Measured ours = linksim_loop(o, point, snr.n0);
  const Measured ref = itpp_loop(o, snr.n0);
  const double ours_mbps = ours.bits / ours.seconds / 1e6 / o.threads;
  const double ref_mbps = ref.bits / ref.seconds / 1e6;
  nlohmann::ordered_json j;
  j["benchmark"] = "montecarlo: uncoded BPSK over AWGN, hard decisions, bit error counting";
  j["ebn0_db"] = o.ebn0_db;
  j["linksim_mbps_per_core"] = ours_mbps;
  j["itpp_mbps_per_core"] = ref_mbps;
  j["ratio"] = ours_mbps / ref_mbps;
  j["linksim_threads"] = o.threads;
  j["linksim_frame_bits"] = o.frame_bits;
  j["itpp_block_bits"] = o.itpp_block_bits;
  j["seconds_each"] = o.seconds;
  j["linksim_ber"] = ours.errors / ours.bits;
  j["itpp_ber"] = ref.errors / ref.bits;
  return j.dump(2);
}

}  // namespace linksim
