// Result records and their writers: results.json (machine-readable, schema in results/README.md),
// results.csv, summary.md and a gnuplot BER plot. Files are written atomically (temporary file,
// then rename) after every finished point, so a killed run keeps every finished point.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/montecarlo.hpp"
#include "sim/snr.hpp"

namespace linksim {

/// The CSI feedback metrics of one point (scenarios with kind = csi_feedback). The MRT
/// downlink's bit counts live in PointResult::counts (frames = test samples).
struct CsiPointMetrics {
  std::string method;               ///< feedback method, e.g. "lasso"
  std::size_t cr = 0;               ///< compression ratio 1/cr
  std::size_t feedback_values = 0;  ///< M real values per sample
  std::size_t samples = 0;          ///< test samples
  double nmse_db = 0.0;             ///< 10 log10 mean_n ||x_n - x_hat_n||^2 / ||x_n||^2
  double nmse_db_ci95_low = 0.0, nmse_db_ci95_high = 0.0;  ///< 95% CI (normal, over samples)
  double rho = 0.0;                ///< cosine similarity on CsiNet's grid (125 of 257 bins)
  std::optional<double> rho_full;  ///< on the full Nc-subcarrier grid, when H_sf exists
  double ber_expected = 0.0;       ///< exact conditional BER given the effective gains
  Counts perfect;                  ///< the same downlink with perfect-CSI MRT
  double ber_perfect_expected = 0.0;
  /// Batched timing: one encoder and one reconstruction call on `batched_samples` samples, one
  /// thread, per sample, in microseconds.
  std::size_t batched_samples = 0;
  double batched_encoder_us = 0.0, batched_reconstruction_us = 0.0;
  /// Batched throughput: encoder + reconstruction on up to 200 samples per worker, every worker
  /// at once (all threads), samples per second of wall time.
  double throughput_samples_per_s = 0.0;
  std::string variant;           ///< csi.variant ("" when not swept or set)
  std::string backend;           ///< what ran the block: "armadillo" (CS), or the NN backend
  std::uint64_t size_bytes = 0;  ///< model file size on disk (NN), 0 for CS
  double sparsity = 0.0;         ///< zero fraction of the compressed weights (NN)
  unsigned bits = 0;             ///< bits per stored weight value (NN: 32 for fp32), 0 for CS
};

/// One finished sweep point.
struct PointRecord {
  std::size_t index = 0;                     ///< position in the sweep
  std::map<std::string, std::string> swept;  ///< value of every swept key at this point
  SnrPoint snr{};
  PointResult result;
  std::optional<double> ber_theory;    ///< closed-form BER where one exists
  std::optional<CsiPointMetrics> csi;  ///< CSI feedback scenarios only
};

/// A whole run, as written to results.json.
struct RunRecord {
  std::string scenario;  ///< scenario name
  std::string description;
  std::string source;  ///< scenario file
  std::uint64_t seed = 1;
  unsigned threads = 1;
  std::string git_revision;
  std::string kind = "link";  ///< scenario kind: "link" (BER sweep) or "csi_feedback"
  std::string snr_kind;       ///< "ebn0" or "esn0": which SNR is swept
  std::map<std::string, std::vector<std::string>> config;  ///< every key, as run
  std::vector<std::string> axes;                           ///< swept keys, outermost first
  std::size_t planned_points = 0;
  std::string status;  ///< "running", "complete"
  std::vector<PointRecord> points;
};

/// Writes results.json, results.csv and summary.md into `dir` (created if needed), atomically.
void write_results(const RunRecord& run, const std::filesystem::path& dir);

/// Makes ber.svg in `dir` with gnuplot from results.csv. Returns an error message, or "" on
/// success (a missing gnuplot is reported, not fatal).
std::string write_ber_plot(const RunRecord& run, const std::filesystem::path& dir);

/// Makes nmse.svg in `dir` (NMSE against CR, one curve per method) for a CSI feedback run.
/// Returns an error message, or "" on success.
std::string write_nmse_plot(const RunRecord& run, const std::filesystem::path& dir);

/// Makes compression.svg in `dir` for a CSI run that compares compressed models (sweeps
/// csi.variant, csi.backend, csi.prune or csi.precision): NMSE and batch-1 latency against the
/// size on disk, one point set per backend, each with its Pareto front. Returns an error message,
/// or "" on success or when the run compares no compressed models.
std::string write_compression_plots(const RunRecord& run, const std::filesystem::path& dir);

/// Indices of the points (x, y) that no other point beats in both (smaller x and smaller y,
/// one of them strictly), in increasing x: the Pareto front when both are to be minimised.
std::vector<std::size_t> pareto_front(const std::vector<std::pair<double, double>>& xy);

/// Reads results.json back (for --resume). Throws std::runtime_error on a malformed file.
RunRecord read_results(const std::filesystem::path& json_file);

/// The human-readable table of summary.md (also printed by `linksim run`); for a CSI run that
/// compares compressed models, its seed 000 table.
std::string results_table(const RunRecord& run);

/// Writes `content` to `path` via a temporary file in the same folder and a rename.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

}  // namespace linksim
