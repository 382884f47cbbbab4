// NN CSI feedback as a link block: a trained CsiNet-family autoencoder (nn_compress/
// csi_autoencoder.hpp) behind the CsiFeedback interface of blocks/csi_feedback.hpp, so that the
// CSI feedback link runs it in place of the CS blocks. No LibTorch in this header.
//
// Shapes: encode x [2048 x B] (raw-scale flatten_csi samples) -> feedback [M + 1 x B] (M code
// values, then the per-sample scale s as one float32); decode feedback [M + 1 x B] -> x_hat
// [2048 x B] at the input's scale. feedback_values() = M + 1. The network runs on one of the
// inference backends of nn_compress/inference.hpp (torch, xnnpack, int8, ...).
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>

#include "blocks/csi_feedback.hpp"
#include "nn_compress/csi_autoencoder.hpp"
#include "nn_compress/inference.hpp"

namespace linksim {

class NnCsiFeedback final : public CsiFeedback {
 public:
  /// `inference` runs `model` (make_csi_inference); `model_bytes` is the model file's size.
  NnCsiFeedback(CsiAutoencoder model, std::unique_ptr<CsiInference> inference,
                std::uint64_t model_bytes);
  /// The architecture's scenario name ("csinet", "crnet", ...).
  std::string name() const override;
  arma::mat encode(const arma::mat& x) const override;
  arma::mat decode(const arma::mat& feedback) const override;
  std::size_t feedback_values() const override;
  /// The backend that runs (Auto's choice), the file size, and from the model's compression
  /// record the sparsity and bits of its compressed weights (0 and 32 when uncompressed).
  CsiFeedbackInfo info() const override;
  const CsiAutoencoder& model() const { return model_; }

 private:
  CsiAutoencoder model_;
  std::unique_ptr<CsiInference> inference_;
  CsiFeedbackInfo info_;
};

/// Weight storage of a post-training compression.
enum class WeightPrecision { Fp32, Fp16, Int8 };

/// Compression applied as a model is loaded, without fine-tuning (scenario keys csi.prune and
/// csi.precision; seed 000's Figure 2 sweeps): per-layer magnitude pruning of the dense layers to
/// `sparsity`, then their kept weights stored as `precision` (int8: per-row scales). The model
/// size is then the size of its compact file (compact_model.hpp), computed, not written.
struct PostTrainingCompression {
  double sparsity = 0;  ///< [0, 1)
  WeightPrecision precision = WeightPrecision::Fp32;
  bool active() const { return sparsity > 0 || precision != WeightPrecision::Fp32; }
};

/// An active PostTrainingCompression asked of a model that is compressed already.
class AlreadyCompressedError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A model with `post` applied, as its compact file would hold it (encoded, then decoded), and
/// that file's size in bytes. `m` was read from `file` (named in messages and in the record).
/// Throws AlreadyCompressedError for an active `post` on a model that is compressed already, and
/// std::invalid_argument for a sparsity outside [0, 1) or a model without dense layers.
struct PostTrainingOutcome {
  CsiAutoencoder model;
  std::uint64_t bytes = 0;
};
PostTrainingOutcome post_training_compress(const CsiAutoencoder& m,
                                           const std::filesystem::path& file,
                                           const PostTrainingCompression& post);

/// Loads a model file written by `linksim train` or `linksim compress`, applies `post` if
/// active, and runs it on `backend` with `threads` threads per call (0 = all cores; LibTorch's
/// count is process-wide). Throws ModelFileError (exit code 2 in the CLI) for a missing, corrupt
/// or mismatched file, and std::invalid_argument for a backend that cannot run the architecture,
/// or AlreadyCompressedError for an active `post` on a model that is compressed already.
std::unique_ptr<CsiFeedback> make_nn_feedback(const std::filesystem::path& model,
                                              InferenceBackend backend, unsigned threads,
                                              const PostTrainingCompression& post = {});

}  // namespace linksim
