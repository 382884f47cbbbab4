// Inference backends of the CSI feedback autoencoders behind one interface, chosen at run time
// (srsRAN-style factory). No LibTorch in this header.
//
// Every backend has CsiAutoencoder's semantics (nn_compress/csi_autoencoder.hpp):
//   encode: x [2048 x B] raw-scale flatten_csi samples (double) -> codes [M + 1 x B]: rows
//           0 .. M-1 the code, row M the per-sample scale s = max |x| (float32-rounded);
//   decode: codes [M + 1 x B] -> x_hat [2048 x B] = 2 s (u_hat - 0.5) at the input's scale.
// The normalisation is normalise_csi's (shared, not re-implemented).
//
// Backends (scenario / CLI names in brackets):
//   Torch ("torch")                  LibTorch, through CsiAutoencoder (every architecture);
//   Xnnpack ("xnnpack")              XNNPACK fp32 for the whole network (BatchNorm folded);
//   XnnpackSparse ("xnnpack-sparse") the dense layers through XNNPACK's sparse NCHW 1x1
//                                    convolution (its zero pattern taken from the weights);
//   Int8 ("int8")                    dense int8 weights with per-row scales, activations
//                                    quantised per sample on the fly (sparse_kernels.hpp);
//   Sparse ("sparse")                our masked-row sparse kernels, fp32 values;
//   SparseInt8 ("sparse-int8")       the same with int8 values (per-row scales); activations
//                                    quantised per sample at batch 1, fp32 in batches;
//   Auto ("auto")                    measures the candidates on this machine (batch 1, one
//                                    thread) and keeps the fastest that passes a parity check.
// All but Torch run CsiNet only: the other architectures throw std::invalid_argument (Auto falls
// back to Torch). In the non-Torch backends the convolutions, activations and additions run on
// XNNPACK, except that every backend but Xnnpack computes the three 3x3 convolutions with 2
// output channels with our direct kernel (sparse::conv3x3_to2, about 60 us less per sample);
// beyond that, only the two dense layers differ.
//
// Accuracy against Torch (checked by tests/qa_inference.cpp): the fp32 backends agree to float
// rounding (max error 1e-4 relative to each sample's peak); the int8 ones lose at most 0.2 dB of
// reconstruction NMSE on indoor CSI.
#pragma once

#include <armadillo>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nn_compress/csi_autoencoder.hpp"

namespace linksim {

enum class InferenceBackend { Torch, Xnnpack, XnnpackSparse, Int8, Sparse, SparseInt8, Auto };
inline constexpr InferenceBackend kInferenceBackends[] = {
    InferenceBackend::Torch, InferenceBackend::Xnnpack, InferenceBackend::XnnpackSparse,
    InferenceBackend::Int8,  InferenceBackend::Sparse,  InferenceBackend::SparseInt8,
    InferenceBackend::Auto};

std::string_view backend_name(InferenceBackend backend);
std::optional<InferenceBackend> inference_backend_named(std::string_view name);
/// "torch, xnnpack, ..., auto" (for error messages).
std::string inference_backend_list();
/// True for the backends whose dense layers are int8 (Int8, SparseInt8).
bool is_int8_backend(InferenceBackend backend);

class CsiInference {
 public:
  virtual ~CsiInference() = default;
  /// x [2048 x B] -> codes [M + 1 x B]. Throws std::invalid_argument on a wrong row count or a
  /// non-finite value. Calls on one object may come from several threads (they are serialised
  /// for the non-Torch backends; use one object per thread, or the `threads` of the factory,
  /// for parallelism).
  virtual arma::mat encode(const arma::mat& x) const = 0;
  /// codes [M + 1 x B] -> x_hat [2048 x B]. Throws std::invalid_argument on a wrong row count.
  virtual arma::mat decode(const arma::mat& codes) const = 0;
  arma::mat reconstruct(const arma::mat& x) const { return decode(encode(x)); }
  /// The backend that runs (never Auto: Auto reports the one it chose).
  virtual InferenceBackend backend() const = 0;
  virtual std::size_t code_values() const = 0;  ///< M
  std::size_t feedback_values() const { return code_values() + 1; }
  /// One line: the backend, and for Auto the candidates' measured batch-1 latencies (us per
  /// sample, encode + decode) and parity verdicts.
  virtual std::string description() const = 0;
};

/// The model on `backend`. `threads`: worker threads for batched calls (0 = all cores; batches of
/// fewer than 8 samples run on the calling thread in the non-Torch backends); for
/// Torch and Auto it sets LibTorch's process-wide intra-op thread count (set_torch_threads). Torch
/// keeps its own copy of the model (built through state() / load_state(), which re-seeds LibTorch's
/// global generator). Auto takes about a second (a few hundred batch-1 passes and a parity check
/// on 32 generated indoor samples). Throws std::invalid_argument for a non-Torch backend on an
/// architecture other than CsiNet, std::runtime_error when XNNPACK refuses an operator.
std::unique_ptr<CsiInference> make_csi_inference(const CsiAutoencoder& model,
                                                 InferenceBackend backend, unsigned threads);

/// Parity of a backend's reconstructions against Torch's on the same inputs.
struct ParityError {
  double max_abs = 0.0;  ///< max |x_hat - x_hat_torch| (raw scale)
  double max_rel = 0.0;  ///< max over samples of max |x_hat - x_hat_torch| / max |x_hat_torch|
  double nmse_db = 0.0;  ///< the backend's reconstruction NMSE of x (dB)
  double torch_nmse_db = 0.0;  ///< Torch's
};
/// x, x_hat, x_hat_torch [2048 x B].
ParityError parity_error(const arma::mat& x, const arma::mat& x_hat, const arma::mat& x_hat_torch);
/// The acceptance rule used by Auto (and the tests): fp32 backends max_rel <= 1e-4; int8
/// backends nmse_db - torch_nmse_db <= 0.2 dB.
bool parity_ok(InferenceBackend backend, const ParityError& e);

/// Raw-scale indoor CSI samples [2048 x n] (generate_csi_dataset, COST 2100 indoor, drop i from
/// seed `seed`, flatten_csi order): the inputs of the parity checks and benchmarks.
arma::mat indoor_csi_samples(std::size_t n, std::uint64_t seed);

/// Wall-clock times (us) of single passes of `inference.reconstruct(x)`, after two warm-up
/// passes, until `seconds` have passed and at least `min_runs` passes were timed.
std::vector<double> time_passes_us(const CsiInference& inference, const arma::mat& x,
                                   double seconds, std::size_t min_runs);

}  // namespace linksim
