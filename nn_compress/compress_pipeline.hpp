// Compression of a CSI autoencoder as an ordered list of steps (prune, cluster, quantise,
// fine-tune), producing the compact deployable model (compact_model.hpp) whose size on disk is
// the model size every result reports. No LibTorch in this header or its .cpp: fine-tuning is a
// callback (linksim compress runs nn_compress/csi_training.hpp's training loop in it).
//
// The steps act on the "compressed weights": the arrays chosen by `layers` (weights of rank >= 2,
// never biases or BatchNorm). Each of them carries, from the step that set it:
//   - a keep mask (prune): pruned entries are zero, stay zero through later steps and
//     fine-tuning, and the layer is stored sparse (a bitmask plus the kept values);
//   - a value coding (the last of cluster / kmeans / int8 / fp16 / uniform): how the kept values
//     are stored, and the values are rounded to what that storage holds;
//   - shared weights (cluster, kmeans): every weight is one of N centroids; fine-tuning updates
//     the centroids, not the weights.
// Every other array is stored as dense float32.
//
// Steps, in the order given (e.g. prune, finetune, int8 = "Quantized+Pruned" of seed 000):
//   prune     mask by PruneMethod to `sparsity` (or |w| < threshold), per layer or globally;
//             an already pruned weight stays pruned
//   cluster   k-means weight sharing with `clusters` centroids (init k-means++ / linear /
//             density) over the kept weights of each layer
//   kmeans    the same with 2^bits centroids (seed 002's trained quantisation, linear init)
//   finetune  the callback, with the masks and shared weights as constraints
//   gradual   fine-tuning (the callback) while magnitude pruning rises from
//             `initial_sparsity` to `sparsity` over `gradual_epochs` epochs (Zhu & Gupta's cubic
//             schedule, per layer); then the masks are held for the remaining epochs
//   lowrank   each selected rank-2 weight W [rows x cols] replaced by its truncated SVD A B of
//             `rank` (stored as the two factors, compress.hpp kLowRankA / kLowRankB); a later
//             finetune keeps W at that rank, and int8 / fp16 / uniform code the factors
//   separable each selected conv kernel with kh, kw > 1 replaced by `separable_rank` vertical
//             kh x 1 then horizontal 1 x kw paths (separate_conv, seed 002; stored as the two
//             factors kSeparableV / kSeparableH), kept so by a later finetune, coded like
//             lowrank's. lowrank and separable combine with each other, finetune and one value
//             coding step, not with prune, gradual, cluster or kmeans
//   int8      dynamic-range int8: per-row (output channel) symmetric scales; a clustered layer
//             instead gets its centroids rounded to an int8 grid and stays clustered
//   fp16      IEEE half precision
//   uniform   uniform min/max `bits`-bit codes per layer (seed 004)
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nn_compress/compact_model.hpp"
#include "nn_compress/compress.hpp"
#include "nn_compress/csi_autoencoder.hpp"
#include "nn_compress/csi_trainer.hpp"

namespace linksim {

enum class CompressStep {
  Prune,
  Cluster,
  KMeans,
  Finetune,
  Gradual,
  LowRank,
  Separable,
  Int8,
  Fp16,
  Uniform
};
std::string_view compress_step_name(CompressStep s);
std::optional<CompressStep> compress_step_named(std::string_view name);

enum class PruneMethod {
  Magnitude,   ///< smallest |w| to `sparsity` (per layer or global)
  Threshold,   ///< |w| < threshold (seed 002)
  Rows,        ///< whole output rows / channels by L2 norm
  Blocks4x1,   ///< 4 consecutive inputs of a row at a time (fast-kernel friendly)
  Blocks16x1,  ///< 16 consecutive inputs of a row (the blocks the sparse int8 GEMV skips)
  TwoOfFour    ///< 2:4 semi-structured (sparsity fixed at 50%)
};
std::string_view prune_method_name(PruneMethod m);
std::optional<PruneMethod> prune_method_named(std::string_view name);

/// Which arrays the steps compress.
enum class CompressLayers {
  Dense,                  ///< the fully connected weights (rank 2): seed 000's "dense layers"
  AllExceptFirstAndLast,  ///< every weight but the first and last (seed 000's sparing)
  All                     ///< every weight of rank >= 2
};
std::string_view compress_layers_name(CompressLayers l);
std::optional<CompressLayers> compress_layers_named(std::string_view name);

struct CompressPlan {
  std::vector<CompressStep> steps;
  CompressLayers layers = CompressLayers::Dense;
  PruneMethod prune_method = PruneMethod::Magnitude;
  double sparsity = 0.5;           ///< fraction pruned, [0, 1)
  float threshold = 0.05F;         ///< Threshold pruning
  bool prune_global = false;       ///< Magnitude: one ranking across the layers
  double initial_sparsity = 0;     ///< gradual: the sparsity of its first epoch
  std::size_t gradual_epochs = 5;  ///< gradual: epochs over which the sparsity rises (>= 1)
  ClusterOptions clustering;       ///< cluster step (default 32 centroids, k-means++)
  unsigned bits = 8;               ///< kmeans (1..16) and uniform (2..16) steps
  std::size_t rank = 64;           ///< lowrank: factor rank (capped at min(rows, cols))
  /// separable: paths per kernel (capped at min(in kh, out kw)); 0: min(in, out) channels, the
  /// two thin layers of seed 002's decomposition
  std::size_t separable_rank = 0;
  bool entropy = false;  ///< Huffman-code the stored sections where that is smaller
};

/// Fine-tunes `model` in place keeping `constraints` (one per compressed weight) and, for a
/// gradual step, raising the pruning of `gradual`'s weights epoch by epoch.
using FineTuneFn =
    std::function<void(CsiAutoencoder& model, const std::vector<WeightConstraint>& constraints,
                       const std::optional<GradualPruning>& gradual)>;

/// What a compressed weight ended up as (also in the model file's compression record).
struct CompressedLayerInfo {
  std::string name;
  std::size_t values = 0;
  std::size_t nonzeros = 0;
  LayerEncoding encoding;
};

struct CompressOutcome {
  CompactModel compact;  ///< metadata (with the compression record) and encoded layers
  std::vector<CompressedLayerInfo> layers;
  double sparsity = 0;  ///< pruned fraction over the compressed weights
};

/// No steps is valid: every array stored as dense float32 (the "original" row of a table).
/// Throws std::invalid_argument naming the problem: a cluster / kmeans step after a
/// value coding step, two of int8 / fp16 / uniform, sparsity outside [0, 1), bits outside 2..16,
/// a gradual step that is not per-layer magnitude pruning, follows cluster / kmeans, or does
/// not raise the sparsity, or a lowrank / separable step with pruning or clustering, a lowrank
/// rank of 0, or a separable step on the dense layers alone.
void validate_compress_plan(const CompressPlan& plan);

/// Runs the plan on a copy of `input`'s weights. `recipe_json` (a JSON object: the input file,
/// the command, the configuration, the git revision) is stored in the compression record.
/// Throws std::invalid_argument for a bad plan (no steps, finetune without a callback, a value
/// coding step after another one, out-of-range settings) or a recipe that is not a JSON object.
CompressOutcome compress_csi_model(const CsiAutoencoder& input, const CompressPlan& plan,
                                   const FineTuneFn& finetune, const std::string& recipe_json);

}  // namespace linksim
