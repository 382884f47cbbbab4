// `linksim bench montecarlo`: our Monte Carlo engine against an IT++-only loop.
#pragma once

#include <cstddef>
#include <string>

namespace linksim {

struct MonteCarloBenchOptions {
  double seconds = 3.0;           ///< wall time per contender
  std::size_t frame_bits = 2048;  ///< linksim frame size (every array of a frame fits the L1 cache)
  std::size_t itpp_block_bits = 100000;
  double ebn0_db = 4.0;
  unsigned threads = 1;  ///< linksim threads (throughput is reported per core)
};

/// Runs our engine and three IT++-only loops (randn-based, IT++'s AWGN_Channel block on real and
/// on complex baseband; the fastest of them in this run is the baseline of "ratio") in this
/// process, one after the other, and returns one JSON object:
/// {"linksim_mbps_per_core", "itpp_mbps_per_core", "ratio", ...}.
std::string bench_montecarlo(const MonteCarloBenchOptions& options);

}  // namespace linksim
