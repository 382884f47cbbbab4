#include "nn_compress/nn_feedback.hpp"

namespace linksim {

NnCsiFeedback::NnCsiFeedback(CsiAutoencoder model) : model_(std::move(model)) {}

std::string NnCsiFeedback::name() const {
  return std::string(arch_name(model_.arch()));
}

arma::mat NnCsiFeedback::encode(const arma::mat& x) const {
  return model_.encode(x);
}

arma::mat NnCsiFeedback::decode(const arma::mat& feedback) const {
  return model_.decode(feedback);
}

std::size_t NnCsiFeedback::feedback_values() const {
  return model_.feedback_values();
}

std::unique_ptr<CsiFeedback> make_nn_feedback(const std::filesystem::path& model,
                                              unsigned threads) {
  set_torch_threads(threads);
  return std::make_unique<NnCsiFeedback>(CsiAutoencoder::load(model));
}

}  // namespace linksim
