#include "cli/bench.hpp"

#include <itpp/base/random.h>
#include <itpp/comm/channel.h>
#include <itpp/comm/error_counters.h>
#include <itpp/comm/modulator.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/registry.hpp"
#include "sim/montecarlo.hpp"
#include "sim/snr.hpp"

namespace linksim {
namespace {

struct Measured {
  double bits = 0;
  double errors = 0;
  double seconds = 0;
  std::vector<LatencySummary> latency;  ///< linksim only: per block
};

enum class ItppLoop {
  Randn,        ///< randb -> BPSK (real) -> + sqrt(N0/2) randn -> demodulate -> BERC
  AwgnReal,     ///< the same with IT++'s AWGN_Channel block instead of randn
  AwgnComplex,  ///< complex baseband: BPSK_c -> AWGN_Channel (cvec) -> demodulate -> BERC
};

/// An IT++-only loop doing the same work as our link (modulate, add noise, hard decision, count
/// errors) on 1e5-bit blocks, one thread, for `seconds`.
Measured itpp_loop(const MonteCarloBenchOptions& o, double n0, ItppLoop kind) {
  itpp::RNG_reset(12345);
  itpp::BPSK bpsk;
  itpp::BPSK_c bpsk_c;
  itpp::AWGN_Channel awgn_real(n0 / 2.0);  // variance per real sample
  itpp::AWGN_Channel awgn_complex(n0);     // variance per complex sample
  itpp::BERC berc;
  const int n = static_cast<int>(o.itpp_block_bits);
  const double sigma = std::sqrt(n0 / 2.0);
  const auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < o.seconds) {
    const itpp::bvec bits = itpp::randb(n);
    itpp::bvec decided;
    switch (kind) {
      case ItppLoop::Randn:
        decided = bpsk.demodulate_bits(bpsk.modulate_bits(bits) + sigma * itpp::randn(n));
        break;
      case ItppLoop::AwgnReal:
        decided = bpsk.demodulate_bits(awgn_real(bpsk.modulate_bits(bits)));
        break;
      case ItppLoop::AwgnComplex:
        decided = bpsk_c.demodulate_bits(awgn_complex(bpsk_c.modulate_bits(bits)));
        break;
    }
    berc.count(bits, decided);
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return {berc.get_total_bits(), berc.get_errors(), elapsed, {}};
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
  return {static_cast<double>(r.counts.bits), static_cast<double>(r.counts.bit_errors), r.wall_s,
          r.latency};
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
  const Measured ref = itpp_loop(o, snr.n0, ItppLoop::Randn);
  const Measured ref_real = itpp_loop(o, snr.n0, ItppLoop::AwgnReal);
  const Measured ref_complex = itpp_loop(o, snr.n0, ItppLoop::AwgnComplex);
  const auto mbps = [](const Measured& m) { return m.bits / m.seconds / 1e6; };
  const double ours_mbps = mbps(ours) / o.threads;
  nlohmann::ordered_json j;
  j["benchmark"] = "montecarlo: uncoded BPSK over AWGN, hard decisions, bit error counting";
  j["ebn0_db"] = o.ebn0_db;
  j["linksim_mbps_per_core"] = ours_mbps;
  // The baseline is whichever IT++ loop was fastest in this run.
  const double best = std::max({mbps(ref), mbps(ref_real), mbps(ref_complex)});
  j["itpp_mbps_per_core"] = best;
  j["ratio"] = ours_mbps / best;
  j["itpp_baseline"] = best == mbps(ref)        ? "randn loop"
                       : best == mbps(ref_real) ? "AWGN_Channel, real BPSK"
                                                : "AWGN_Channel, complex BPSK_c";
  j["itpp_randn_real_mbps"] = mbps(ref);
  j["itpp_awgn_channel_real_mbps"] = mbps(ref_real);
  j["itpp_awgn_channel_complex_mbps"] = mbps(ref_complex);
  j["ratio_vs_awgn_channel_complex"] = ours_mbps / mbps(ref_complex);
  j["linksim_threads"] = o.threads;
  j["linksim_frame_bits"] = o.frame_bits;
  j["itpp_block_bits"] = o.itpp_block_bits;
  j["seconds_each"] = o.seconds;
  // Where linksim's time goes: mean time per bit of each block (from the sampled frames); the
  // rest (finiteness checks, error counting, streams, commit) is what is left of 1000 / Mbit/s.
  nlohmann::ordered_json stages;
  for (const auto& l : ours.latency) {
    stages[l.stage + " (" + l.block + ")"] = 1e3 * l.mean_us / static_cast<double>(o.frame_bits);
  }
  j["linksim_ns_per_bit_by_block"] = stages;
  j["linksim_ber"] = ours.errors / ours.bits;
  j["itpp_ber"] = ref.errors / ref.bits;
  return j.dump(2);
}

}  // namespace linksim
