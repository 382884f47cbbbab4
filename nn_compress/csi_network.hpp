// Internal to nn_compress: the LibTorch networks behind CsiAutoencoder, seen through forward
// declarations only (this header does not include torch; the .cpp files that use it do).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "nn_compress/csi_autoencoder.hpp"

namespace at {
class Tensor;
}
namespace torch::nn {
class Module;
}

namespace linksim {
namespace detail {

/// One autoencoder network. Tensors are float32 on the CPU.
class CsiNetwork {
 public:
  virtual ~CsiNetwork() = default;
  /// u [B, 2, 32, 32] (normalised, in [0, 1]) -> code [B, M].
  virtual at::Tensor encode(const at::Tensor& u) = 0;
  /// code [B, M] -> u_hat [B, 2, 32, 32] in (0, 1).
  virtual at::Tensor decode(const at::Tensor& code) = 0;
  /// The module holding every parameter and buffer.
  virtual torch::nn::Module& module() = 0;
  /// The architecture's hyper-parameters, as a JSON object.
  virtual std::string hyper_parameters_json() const = 0;
};

/// Builds the architecture (cr already validated by csi_code_values) and initialises it from
/// LibTorch's global generator.
std::unique_ptr<CsiNetwork> make_csi_network(CsiArch arch, std::size_t cr);

}  // namespace detail

/// The network inside a model (for the trainer).
detail::CsiNetwork& network_of(CsiAutoencoder& model);

}  // namespace linksim
