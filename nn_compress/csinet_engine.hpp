// CsiNet (nn_compress/csi_nets.cpp) run without LibTorch: the graph rebuilt from
// CsiAutoencoder::state() with every BatchNorm (evaluation mode, running statistics) folded into
// the convolution before it, the convolutions, activations and the shortcut additions as XNNPACK
// fp32 operators (NHWC), and the two dense layers through one of several implementations
// (DenseKind). With any DenseKind but Xnnpack, the three convolutions with 2 output channels
// (encoder, RefineNet 16->2, output) use our direct kernel sparse::conv3x3_to2 instead of
// XNNPACK, whose 16-channel-wide tiles waste 7/8 of their work there. Internal to the inference
// backends (nn_compress/inference.hpp); no LibTorch here.
//
// Layout. The network input u and output u_hat are NCHW per sample (normalise_csi's order,
// u[c * 1024 + r * 32 + k]); inside, activations are NHWC ([B, 32, 32, C]), so u is transposed
// on the way in and u_hat on the way out, and the dense layers' columns (encoder) and rows
// (decoder) are permuted once at construction so that they read and write NHWC while computing
// exactly PyTorch's flatten(1) / view(-1, 2, 32, 32) products.
//
// Graph (LeakyReLU slope 0.3, 'same' 3x3 convolutions):
//   encoder: conv 2->2 (+BN), LReLU, dense 2048->M
//   decoder: dense M->2048, 2 x RefineNet [y = LReLU(conv 2->8 (+BN)); y = LReLU(conv 8->16
//            (+BN)); out = LReLU(conv 16->2 (+BN) + input)], conv 2->2, sigmoid
#pragma once

#include <armadillo>
#include <cstddef>
#include <memory>

#include "nn_compress/csi_autoencoder.hpp"

namespace linksim::detail {

/// How the two dense layers run.
enum class DenseKind {
  Xnnpack,        ///< XNNPACK fully_connected_nc_f32 (dense fp32)
  XnnpackSparse,  ///< XNNPACK convolution2d_nchw_f32 1x1, batch as the spatial axis (sparse fp32)
  SparseF32,      ///< our masked-row sparse kernels, fp32 values (sparse_kernels.hpp)
  SparseI8,       ///< int8 values with per-row scales: batch 1 the block GEMV (skips all-zero
                  ///< 16-column blocks), batches the masked-row SpMM
  Int8            ///< dense int8 weights (per-row scales), activations quantised per sample
};

class CsiNetEngine {
 public:
  /// Builds the graph from the model's arrays. `threads`: worker threads for batches of 8 or more
  /// (0 = all cores, 1 = the calling thread only). Throws std::invalid_argument when the model is
  /// not a CsiNet, std::runtime_error when XNNPACK refuses an operator (the message names it).
  CsiNetEngine(const CsiAutoencoder& model, DenseKind dense, unsigned threads);
  CsiNetEngine(const CsiNetEngine&) = delete;
  CsiNetEngine& operator=(const CsiNetEngine&) = delete;
  ~CsiNetEngine();

  std::size_t code_values() const;  ///< M

  /// u [2048 x B] network input (NCHW per column) -> code [M x B]. Not thread-safe (the
  /// operators and buffers are reused from call to call).
  void encode(const arma::fmat& u, arma::fmat& code);
  /// code [M x B] -> u_hat [2048 x B] (sigmoid output, NCHW per column). Not thread-safe.
  void decode(const arma::fmat& code, arma::fmat& u_hat);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace linksim::detail
