#include "nn_compress/nn_feedback.hpp"

#include <nlohmann/json.hpp>

namespace linksim {

NnCsiFeedback::NnCsiFeedback(CsiAutoencoder model, std::unique_ptr<CsiInference> inference,
                             std::uint64_t model_bytes)
    : model_(std::move(model)), inference_(std::move(inference)) {
  info_.backend = std::string(backend_name(inference_->backend()));
  info_.model_bytes = model_bytes;
  info_.weight_bits = 32;
  const std::string record = model_.compression_record();
  if (!record.empty()) {
    const auto j = nlohmann::json::parse(record);
    info_.sparsity = j.value("sparsity", 0.0);
    info_.weight_bits = j.value("weight_bits", 32U);
  }
}

std::string NnCsiFeedback::name() const {
  return std::string(arch_name(model_.arch()));
}

arma::mat NnCsiFeedback::encode(const arma::mat& x) const {
  return inference_->encode(x);
}

arma::mat NnCsiFeedback::decode(const arma::mat& feedback) const {
  return inference_->decode(feedback);
}

std::size_t NnCsiFeedback::feedback_values() const {
  return model_.feedback_values();
}

CsiFeedbackInfo NnCsiFeedback::info() const {
  return info_;
}

std::unique_ptr<CsiFeedback> make_nn_feedback(const std::filesystem::path& model,
                                              InferenceBackend backend, unsigned threads) {
  CsiAutoencoder m = CsiAutoencoder::load(model);
  std::unique_ptr<CsiInference> inference = make_csi_inference(m, backend, threads);
  return std::make_unique<NnCsiFeedback>(std::move(m), std::move(inference),
                                         std::filesystem::file_size(model));
}

}  // namespace linksim
