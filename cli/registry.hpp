// The registry: maps scenario names onto blocks, and defines the scenario schema.
// This is the one place that knows every block; sim/ knows none of them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blocks/csi_feedback.hpp"
#include "sim/config.hpp"
#include "sim/link.hpp"
#include "sim/snr.hpp"

namespace linksim {

/// What a scenario simulates (top-level key `kind`).
enum class ScenarioKind { Link, CsiFeedback };

enum class Role { Source, Mapper, Channel, Equalizer, Demapper };

/// One selectable block, as `linksim list` shows it.
struct BlockEntry {
  Role role;
  std::string name;
  std::string doc;
  bool itpp_backed = false;
  std::vector<ParamSpec> params;  ///< keys "<name>.<param>" (a section named after the block)
};

std::string_view to_string(Role r);
/// The scenario key that selects a block for a role ("link.mapper", ...).
std::string role_key(Role r);

/// Every block of every role.
const std::vector<BlockEntry>& block_catalog();

/// The full scenario schema: top-level, [link], [sweep], [stop], [run] and every block's section.
const std::vector<ParamSpec>& scenario_schema();

/// Builds the link of one point. Throws ConfigError when the combination is invalid.
std::unique_ptr<Link> build_link(const PointConfig& point);

/// The point's scenario kind.
ScenarioKind point_scenario_kind(const PointConfig& point);

/// Checks the CSI feedback settings of a point without building CS solvers: the CR against `n`
/// values per sample, or, for an NN method, that csi.model loads and matches the method and CR.
/// Throws ConfigError.
void check_csi_feedback(const PointConfig& point, std::size_t n);

/// The model file csi.model_by_cr names for compression ratio `cr` ("CR=FILE" pairs separated
/// by spaces), or nothing when it does not list `cr`. Throws ConfigError on a malformed pair or
/// a CR listed twice.
std::optional<std::string> model_file_for_cr(const std::string& by_cr, std::size_t cr);

/// Builds the CSI feedback scheme of a point (csi.method, csi.cr, ... or the NN model in
/// csi.model_by_cr or csi.model) for samples of `n` real values; an NN runs on `threads`
/// LibTorch threads (0: all cores). Throws ConfigError when the combination is invalid or the
/// model file is unusable.
std::unique_ptr<CsiFeedback> build_csi_feedback(const PointConfig& point, std::size_t n,
                                                unsigned threads);

/// Which SNR the point's `sweep.snr_db` is (sweep.snr).
SnrKind point_snr_kind(const PointConfig& point);

/// Bits per symbol of the point's mapper.
unsigned point_bits_per_symbol(const PointConfig& point);

/// Closed-form BER for the point's link where one exists (AWGN; Rayleigh BPSK/QPSK with perfect
/// CSI), at Eb/N0 `ebn0_db`.
std::optional<double> point_ber_theory(const PointConfig& point, double ebn0_db);

}  // namespace linksim
