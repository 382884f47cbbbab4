// `linksim bench inference`: the CSI autoencoder inference backends (nn_compress/inference.hpp)
// measured side by side on this machine, with their parity against LibTorch.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "nn_compress/csi_autoencoder.hpp"

namespace linksim {

/// Benchmarks every backend on a model file, its dense layers first pruned to `prune_sparsity`
/// (0: as trained; post_training_compress of nn_feedback.hpp: per-layer magnitude pruning). Returns
/// a JSON object (pretty-printed):
///   model, arch, cr, prune_sparsity, dense_zero_fraction, threads, test_samples;
///   backends: [{backend, latency_us: {p50, p99, runs} (batch 1, encode + decode of one sample,
///              one thread), throughput_samples_per_s (batch 200, `threads` threads),
///              parity: {max_abs, max_rel, code_max_abs} of the reconstructions (codes) against
///              torch's on the test samples, nmse_db (reconstruction NMSE of those samples),
///              vs_torch: {latency_speedup (torch p50 / p50), throughput_ratio}} or
///              {backend, error} when the backend refused the model];
///   auto: {chosen, description} (make_csi_inference with Auto, `threads` threads).
/// Test samples: 300 indoor drops (indoor_csi_samples, seed 11). `seconds`: time spent on each
/// measurement (per backend: one for latency, one for throughput; at least 20 batch-1 passes
/// and 3 batch-200 passes). Throws ModelFileError for an unusable model file,
/// std::invalid_argument as post_training_compress.
std::string bench_csi_inference(const std::filesystem::path& model, double prune_sparsity,
                                double seconds, unsigned threads);

/// The same with every setting (the defaults are those of the overload above).
struct InferenceBenchOptions {
  double prune_sparsity = 0.0;
  double seconds = 1.0;            ///< per measurement
  unsigned threads = 0;            ///< batched throughput (0 = all cores)
  std::size_t test_samples = 300;  ///< parity and NMSE inputs
  std::size_t batch = 200;         ///< throughput batch (<= test_samples)
};
std::string bench_csi_inference(const std::filesystem::path& model,
                                const InferenceBenchOptions& options);

}  // namespace linksim
