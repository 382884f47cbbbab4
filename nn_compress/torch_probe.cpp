#include <torch/torch.h>

#include "nn_compress/backends.hpp"
#include "nn_compress/probe_data.hpp"

namespace linksim {

BackendStatus probe_torch(int threads) {
  BackendStatus s{Backend::Torch, "torch", false, ""};
  try {
    torch::set_num_threads(threads);
    const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
    const auto w = torch::from_blob(const_cast<float*>(probe::kWeights.data()),
                                    {probe::kOut, probe::kIn}, opts);
    const auto b = torch::from_blob(const_cast<float*>(probe::kBias.data()), {probe::kOut}, opts);
    const auto x =
        torch::from_blob(const_cast<float*>(probe::kInput.data()), {1, probe::kIn}, opts);
    const auto y = torch::nn::functional::linear(x, w, b).contiguous();
    const float err = probe::max_error(y.data_ptr<float>());
    s.ok = err < 1e-5F;
    s.detail = "LibTorch " + std::string(TORCH_VERSION) + ", " +
               std::to_string(torch::get_num_threads()) + " intra-op threads, max error " +
               std::to_string(err);
  } catch (const std::exception& e) {
    s.detail = e.what();
  }
  return s;
}

}  // namespace linksim
