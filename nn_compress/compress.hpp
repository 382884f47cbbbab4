// Compression primitives on plain weight arrays (no LibTorch): pruning masks (unstructured,
// global, threshold, structured rows / 4x1 blocks / N:M), the gradual-pruning schedule, uniform
// k-bit and k-means quantisation, 1-D weight clustering, low-rank (SVD) factorisation of dense and
// convolution weights, and the storage accounting the compact model format uses.
//
// Conventions
//   - A weight array is a NamedArray (model_file.hpp): C-order values of `shape`. A layer's
//     weight is viewed as a matrix [rows x cols] with rows = shape[0] (output neurons / output
//     channels) and cols = product of the other dims (inputs: in, or in*kh*kw for a conv kernel
//     [out, in, kh, kw]); see matrix_dims().
//   - A keep-mask has one byte per weight, 1 = kept, 0 = pruned; sparsity = pruned / total.
//   - Every function is deterministic: ties are broken by index (the lower index is pruned
//     first), random initialisations take an explicit seed.
//   - Invalid arguments (size mismatches, sparsity outside [0, 1], bad bit widths) throw
//     std::invalid_argument naming the function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nn_compress/model_file.hpp"

namespace linksim {

/// One byte per weight: 1 = kept, 0 = pruned.
using KeepMask = std::vector<std::uint8_t>;

/// The matrix view of a weight of `shape`: rows = shape[0], cols = product of the other dims.
/// Rank 0 gives 1 x 1, rank 1 gives 1 x shape[0] (a bias is one row).
struct MatrixDims {
  std::size_t rows = 0, cols = 0;
};
MatrixDims matrix_dims(const std::vector<std::int64_t>& shape);

// ---------------------------------------------------------------------------------------------
// Pruning

/// Unstructured magnitude pruning of one array: exactly round(sparsity * n) weights are pruned,
/// the smallest |w| first, equal magnitudes in index order (lower index pruned first).
/// \param sparsity fraction of weights to prune, in [0, 1]
KeepMask magnitude_prune_mask(std::span<const float> w, double sparsity);

/// Global magnitude pruning: one magnitude ranking across all `layers` together, exactly
/// round(sparsity * total) weights pruned in all (smallest |w| first; ties: lower layer, then
/// lower index, pruned first). Returns one mask per layer, in order.
std::vector<KeepMask> global_magnitude_prune_masks(std::span<const std::span<const float>> layers,
                                                   double sparsity);

/// Threshold pruning (seed 002): prunes every weight with |w| < threshold, keeps the others.
KeepMask threshold_prune_mask(std::span<const float> w, float threshold);

/// Structured pruning of whole output rows (neurons, or output channels of a conv kernel viewed
/// as [out x in*kh*kw]): exactly round(sparsity * rows) rows are pruned, the smallest L2 norm
/// first (ties: lower row first). w is [rows x cols], row-major.
KeepMask row_prune_mask(std::span<const float> w, MatrixDims dims, double sparsity);

/// Structured pruning of 1-D blocks of `block` consecutive inputs of one output row ("4x1"
/// blocks for block = 4): each row is cut into ceil(cols / block) blocks (the last one may be
/// shorter); exactly round(sparsity * blocks) blocks are pruned, the smallest block L2 norm first
/// (ties: lower block index, row-major, first). A block is kept or pruned as a whole.
KeepMask block_prune_mask(std::span<const float> w, MatrixDims dims, double sparsity,
                          std::size_t block = 4);

/// N:M semi-structured pruning: in every group of m consecutive inputs of a row, the n largest
/// |w| are kept (equal magnitudes: the higher index is kept, i.e. the lower pruned first). A last
/// partial group of g < m inputs keeps min(n, g). Requires 0 < n <= m.
KeepMask n_of_m_prune_mask(std::span<const float> w, MatrixDims dims, std::size_t n = 2,
                           std::size_t m = 4);

/// Which arrays of a model are prunable weights.
enum class LayerSelection {
  AllWeights,             ///< every weight of rank >= 2
  AllExceptFirstAndLast,  ///< the same without the first and last of them (seed 000's choice)
  Named,                  ///< exactly the names given (each must be a weight of rank >= 2)
};

/// Indices into `arrays` of the prunable weights, in array order. Only arrays of rank >= 2 are
/// weights; biases, BatchNorm parameters and buffers (rank <= 1) are never selected. For
/// LayerSelection::Named, a name that is absent or not a rank >= 2 weight throws
/// std::invalid_argument.
std::vector<std::size_t> select_prunable(const std::vector<NamedArray>& arrays,
                                         LayerSelection selection,
                                         const std::vector<std::string>& names = {});

/// The gradual-pruning schedule of Zhu & Gupta 2017: the sparsity starts at `initial_sparsity` at
/// step `begin_step`, is raised every `frequency` steps, `steps` times, and reaches
/// `final_sparsity` at step begin_step + steps * frequency:
///   s(t) = s_f + (s_i - s_f) (1 - (t_p - t0) / (n dt))^3,
/// where t_p is the last pruning step <= t (so s is constant between pruning steps), and s = s_i
/// before t0, s_f after t0 + n dt.
struct GradualPruningSchedule {
  double initial_sparsity = 0.0;  ///< s_i in [0, 1]
  double final_sparsity = 0.5;    ///< s_f in [0, 1]
  std::int64_t begin_step = 0;    ///< t0 (training steps)
  std::int64_t frequency = 100;   ///< dt >= 1 (training steps between pruning steps)
  std::int64_t steps = 10;        ///< n >= 1 (number of pruning steps)

  /// The target sparsity at training step t.
  double sparsity_at(std::int64_t step) const;
  /// True at t0, t0 + dt, ..., t0 + n dt: the steps at which a new mask is computed.
  bool is_pruning_step(std::int64_t step) const;
};

/// Zeroes every pruned weight: w[i] = 0 where mask[i] == 0. Reapply after every optimiser step
/// to fine-tune with a fixed mask. Throws std::invalid_argument on a size mismatch.
void apply_mask(std::span<float> w, std::span<const std::uint8_t> mask);

/// The fraction of zeros in a mask (0 for an empty mask).
double mask_sparsity(std::span<const std::uint8_t> mask);

// ---------------------------------------------------------------------------------------------
// Quantisation

/// Uniform (min/max affine) k-bit quantisation of one whole array (seed 004's per-layer scheme):
/// step = (max - min) / (2^bits - 1), code = round((w - min) / step) in [0, 2^bits - 1], and the
/// dequantised value min + step * code is within step / 2 of w. A constant array has step 0
/// (all codes 0, exact). Zero is in general not a code value: a pruned layer keeps its zeros
/// exact only when its nonzero values alone are quantised (the compact format's Sparse layout).
struct UniformQuantized {
  unsigned bits = 8;                 ///< 2..16
  float min = 0.0F;                  ///< value of code 0
  float step = 0.0F;                 ///< value spacing, >= 0
  std::vector<std::uint16_t> codes;  ///< one per weight
};
/// Throws std::invalid_argument for bits outside 2..16 or non-finite values.
UniformQuantized quantize_uniform(std::span<const float> w, unsigned bits);
/// The value a code stands for: min + step * code (single precision; shared by the decoder of
/// the compact format, so both give bit-identical values).
float uniform_value(float min, float step, std::uint32_t code);
std::vector<float> dequantize(const UniformQuantized& q);

/// IEEE binary16 storage of a whole array (quantize.hpp's float_to_half / half_to_float).
std::vector<std::uint16_t> to_half(std::span<const float> w);
std::vector<float> from_half(std::span<const std::uint16_t> h);

// ---------------------------------------------------------------------------------------------
// Weight clustering (weight sharing) and k-means quantisation

/// Initial centroids of the 1-D k-means (Han, Mao, Dally, Deep Compression 2016, section 3.1):
enum class ClusterInit {
  KMeansPlusPlus,  ///< k-means++ (Arthur & Vassilvitskii): D^2 sampling with `seed`
  Linear,          ///< evenly spaced between min and max
  Density,         ///< quantiles (j + 1/2) / k of the weights' empirical CDF
};

struct ClusterOptions {
  std::size_t clusters = 32;  ///< k >= 1
  ClusterInit init = ClusterInit::KMeansPlusPlus;
  std::uint64_t seed = 1;            ///< for KMeansPlusPlus
  std::size_t max_iterations = 300;  ///< Lloyd iterations (stops earlier once assignments settle)
};

/// A codebook and one codebook index per weight; weight i stands for codebook[index[i]].
/// The codebook is sorted ascending and every entry is used by at least one weight.
struct Clustered {
  std::vector<float> codebook;
  std::vector<std::uint32_t> index;
};

/// 1-D k-means (Lloyd) of the values of w. Cost: one sort (n log n); a Lloyd iteration is
/// O(k log n) (clusters are ranges of the sorted values, means come from prefix sums); k-means++
/// seeding is O(n k). Exact (the codebook is the distinct values) when w
/// has at most k distinct values (covers n < k and constant arrays); empty clusters are dropped,
/// so the codebook may hold fewer than k entries. Throws std::invalid_argument for k = 0 or
/// non-finite values.
Clustered cluster_weights(std::span<const float> w, const ClusterOptions& options = {});
/// k-means (trained) quantisation to 2^bits centroids (seed 002, B = 3..7), bits in 1..16:
/// cluster_weights with k = 2^bits and the given init (Linear is Deep Compression's choice).
Clustered kmeans_quantize(std::span<const float> w, unsigned bits,
                          ClusterInit init = ClusterInit::Linear, std::uint64_t seed = 1);
/// The weights a clustering stands for: codebook[index[i]].
std::vector<float> dequantize(const Clustered& c);
/// Trained quantisation (Deep Compression, section 3.2): with the weights tied to their shared
/// centroids, dL/dc_j is the sum of dL/dw_i over the weights i with index[i] == j. Returns one
/// gradient per codebook entry; a step is c_j -= lr * g_j. weight_grad has one value per weight.
std::vector<float> codebook_gradient(const Clustered& c, std::span<const float> weight_grad);

// ---------------------------------------------------------------------------------------------
// Low-rank factorisation

/// W [rows x cols] ~ A B with A = U_r diag(s_r) [rows x r] and B = V_r^T [r x cols] (truncated
/// SVD, Armadillo), all row-major. relative_error = ||W - A B||_F / ||W||_F (0 for W = 0),
/// which equals sqrt(sum_{i>r} s_i^2 / sum_i s_i^2) up to rounding.
struct LowRankFactors {
  MatrixDims dims;
  std::size_t rank = 0;
  std::vector<float> a;  ///< [rows x rank]
  std::vector<float> b;  ///< [rank x cols]
  double relative_error = 0.0;
};
/// \param rank r in 1..min(rows, cols). Throws std::invalid_argument otherwise.
LowRankFactors factorize_low_rank(std::span<const float> w, MatrixDims dims, std::size_t rank);
/// A B, [rows x cols] row-major.
std::vector<float> reconstruct(const LowRankFactors& f);

/// Name suffixes of the two factors of a factorised layer in a compact model:
/// "<name>.lowrank_a" [rows x r] and "<name>.lowrank_b" [r x cols] stand for <name> = A B
/// [rows x cols] (reconstruct of LowRankFactors); "<name>.separable_v" [r, in, kh, 1] and
/// "<name>.separable_h" [out, r, 1, kw] for the kernel <name> [out, in, kh, kw] (reconstruct of
/// SeparableConv).
inline constexpr std::string_view kLowRankA = ".lowrank_a";
inline constexpr std::string_view kLowRankB = ".lowrank_b";
inline constexpr std::string_view kSeparableV = ".separable_v";
inline constexpr std::string_view kSeparableH = ".separable_h";

/// Spatially separable decomposition of a conv kernel K [out, in, kh, kw] (Tai et al., ICLR 2016,
/// "Convolutional neural networks with low-rank regularization", their closed form):
/// a kh x 1 convolution V [r, in, kh, 1] (in -> r channels) followed by a 1 x kw convolution
/// H [out, r, 1, kw] (r -> out channels), with
///   K[o, c, y, x] ~ sum_k V[k, c, y] H[o, k, x],
/// obtained from the SVD of K reshaped to M [(in kh) x (out kw)], M[(c,y), (o,x)] = K[o,c,y,x];
/// the singular values are split as sqrt(s_k) into both factors. Exact at r = min(in kh, out kw).
/// relative_error = ||K - K_r||_F / ||K||_F.
struct SeparableConv {
  std::int64_t out = 0, in = 0, kh = 0, kw = 0;
  std::size_t rank = 0;
  std::vector<float> vertical;    ///< [rank, in, kh, 1]
  std::vector<float> horizontal;  ///< [out, rank, 1, kw]
  double relative_error = 0.0;
};
/// \param kernel values of shape [out, in, kh, kw]; rank in 1..min(in kh, out kw).
SeparableConv separate_conv(std::span<const float> kernel, const std::vector<std::int64_t>& shape,
                            std::size_t rank);
/// The kernel [out, in, kh, kw] the two factors stand for.
std::vector<float> reconstruct(const SeparableConv& s);

/// Replaces each factor pair (kLowRankA / kLowRankB, kSeparableV / kSeparableH) by the layer it
/// stands for, at the position of its first factor; other arrays pass unchanged. Throws
/// std::invalid_argument for a factor without its partner or factors whose shapes do not chain.
std::vector<NamedArray> compose_factors(std::vector<NamedArray> arrays);

// ---------------------------------------------------------------------------------------------
// Storage accounting (used by the compact model format)

/// Bits per index of an alphabet of `symbols` entries: ceil(log2(symbols)), 0 for <= 1 symbol.
unsigned index_bits(std::uint64_t symbols);
/// Bytes of `count` fields of `bits` bits each, packed without gaps: ceil(count * bits / 8).
std::uint64_t packed_bytes(std::uint64_t count, unsigned bits);

}  // namespace linksim
