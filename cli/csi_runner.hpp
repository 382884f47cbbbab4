// CSI feedback scenarios (kind = csi_feedback): the test set, and one sweep point evaluated on
// it -- feedback encoder and decoder, NMSE / rho, and the MRT downlink BER they lead to.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "results/results.hpp"
#include "sim/config.hpp"

namespace linksim {

/// The test channels of a CSI scenario, loaded or generated once per run.
struct CsiTestSet {
  arma::cx_cube h_ad;              ///< [rows, Nt, N]: truncated angular-delay CSI (raw scale)
  arma::cx_fcube h_sf;             ///< [Nc, Nt, N] when the data has it, else empty
  std::size_t subcarriers = 1024;  ///< Nc of the frequency grid for MRT
  std::string source;              ///< "generated cost2100_indoor (seed 7)" or the file name
};

/// The key that identifies a point's test set (the csi.* data keys); points with the same key
/// share one test set.
std::string csi_test_set_key(const PointConfig& point);

/// Loads csi.data (first csi.samples samples) or generates csi.samples drops of csi.channel with
/// csi.data_seed. Throws ConfigError for a bad file (DatasetError's message) or too few samples.
std::unique_ptr<CsiTestSet> load_csi_test_set(const PointConfig& point, unsigned threads);

/// Checks the csi.* keys of a point without loading data (the file must exist; cr <= N).
/// Throws ConfigError.
void check_csi_point(const PointConfig& point);

/// Evaluates one point on the test set with `threads` workers. Each sample's MRT downlink draws
/// its bits and noise from derive_seed(seed, kCsiLinkStream, sample): the same for every point,
/// so methods are compared on the same bits and noise as well as the same channels.
PointRecord run_csi_point(const PointConfig& point, const CsiTestSet& data, std::size_t index,
                          std::uint64_t seed, unsigned threads);

/// Samples of the batched latency measurement of each point.
inline constexpr std::size_t kBatchedSamples = 200;

inline constexpr std::uint64_t kCsiLinkStream = 0x4353494d5254ULL;  // "CSIMRT"

}  // namespace linksim
