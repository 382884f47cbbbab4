// NN CSI feedback as a link block: a trained CsiNet-family autoencoder (nn_compress/
// csi_autoencoder.hpp) behind the CsiFeedback interface of blocks/csi_feedback.hpp, so that the
// CSI feedback link runs it in place of the CS blocks. No LibTorch in this header.
//
// Shapes: encode x [2048 x B] (raw-scale flatten_csi samples) -> feedback [M + 1 x B] (M code
// values, then the per-sample scale s as one float32); decode feedback [M + 1 x B] -> x_hat
// [2048 x B] at the input's scale. feedback_values() = M + 1.
#pragma once

#include <filesystem>
#include <memory>

#include "blocks/csi_feedback.hpp"
#include "nn_compress/csi_autoencoder.hpp"

namespace linksim {

class NnCsiFeedback final : public CsiFeedback {
 public:
  explicit NnCsiFeedback(CsiAutoencoder model);
  /// The architecture's scenario name ("csinet", "crnet", ...).
  std::string name() const override;
  arma::mat encode(const arma::mat& x) const override;
  arma::mat decode(const arma::mat& feedback) const override;
  std::size_t feedback_values() const override;
  const CsiAutoencoder& model() const { return model_; }

 private:
  CsiAutoencoder model_;
};

/// Loads a model file written by `linksim train` and sets LibTorch's intra-op thread count to
/// `threads` (process-wide; 0 = all cores). Throws ModelFileError (exit code 2 in the CLI) for a
/// missing, corrupt or mismatched file.
std::unique_ptr<CsiFeedback> make_nn_feedback(const std::filesystem::path& model, unsigned threads);

}  // namespace linksim
