// CSI feedback as link blocks: a UE-side encoder and a BS-side decoder of the truncated
// angular-delay CSI, and the end-to-end downlink they serve (MRT beamforming, QPSK).
//
// Shapes. A batch of B samples is a matrix with one flattened sample per column: x [N x B] with
// N = 2 * rows * Nt (flatten_csi order; 2048 for CsiNet's 32 x 32). Feedback is real, [M x B].
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "blocks/cs.hpp"

namespace linksim {

/// One CSI feedback scheme. Implementations are immutable after construction and may serve
/// several threads at once.
/// What runs a feedback block and what it stores (result fields backend, size_bytes, sparsity,
/// bits). Classical CS blocks: backend "armadillo", nothing stored.
struct CsiFeedbackInfo {
  std::string backend = "armadillo";  ///< e.g. "torch", "int8" (NN inference backend)
  std::uint64_t model_bytes = 0;      ///< size of the model file on disk (NN blocks)
  double sparsity = 0.0;              ///< fraction of the compressed weights that are zero
  unsigned weight_bits = 0;           ///< bits per stored weight value (32 for fp32; 0: none)
};

class CsiFeedback {
 public:
  virtual ~CsiFeedback() = default;
  /// The method's scenario name (e.g. "lasso").
  virtual std::string name() const = 0;
  /// UE side: x [N x B] -> the feedback as the BS receives it, [M x B] (quantised and
  /// dequantised when the scheme quantises).
  virtual arma::mat encode(const arma::mat& x) const = 0;
  /// BS side: feedback [M x B] -> reconstructed x_hat [N x B].
  virtual arma::mat decode(const arma::mat& feedback) const = 0;
  /// Real feedback values per sample, M.
  virtual std::size_t feedback_values() const = 0;
  virtual CsiFeedbackInfo info() const { return {}; }
};

/// Settings of classical compressive-sensing feedback.
struct CsFeedbackOptions {
  CsMethod method = CsMethod::Lasso;
  std::size_t n = 2048;  ///< N, real values per sample
  std::size_t cr = 4;    ///< compression ratio 1/cr: M = floor(N / cr)
  SensingKind sensing = SensingKind::Gaussian;
  std::uint64_t sensing_seed = 1;  ///< the sensing matrix is a function of this seed only
  /// Bits per fed-back value, 0 for unquantised floats. Quantised feedback uses
  /// quantize_uniform with a per-sample clip of 3 ||y||_2 / sqrt(M) (sent as side information).
  unsigned feedback_bits = 0;
};

/// CS feedback: y = A x at the UE (optionally quantised), sparse reconstruction at the BS by the
/// method's reconstructor (blocks/cs.hpp) on the identity (angular-delay) basis.
/// Throws std::invalid_argument for a bad cr or bit width (1..32).
std::unique_ptr<CsiFeedback> make_cs_feedback(const CsFeedbackOptions& options);

/// Counts of the MRT downlink over a batch of subcarriers.
struct MrtCounts {
  std::uint64_t bits = 0;
  std::uint64_t bit_errors = 0;
  /// Sum over the transmitted bits of the exact conditional error probability
  /// Q(|g_k| / sqrt(n0)) given the effective gains g_k: its ratio to `bits` is the BER the
  /// simulation estimates, without Monte Carlo noise (a cross-check).
  double expected_errors = 0.0;
};

/// Downlink MRT with Gray QPSK (unit energy) on every subcarrier k: the BS beamforms with
/// w_k = conj(h_est_k) / ||h_est_k|| (unit transmit power; w_k = 0 if h_est_k = 0), the UE
/// receives r = g_k s + n with g_k = h_k^T w_k over the true channel h_k and n ~ CN(0, n0), knows
/// g_k (a precoded pilot) and decides each bit by the sign of Re / Im (r conj(g_k)).
/// \param h_true, h_est spatial-frequency channels [Nc x Nt], row k = subcarrier k.
/// \param n0 noise variance per complex sample, relative to unit transmit power.
/// \param symbols_per_subcarrier QPSK symbols sent on each subcarrier (>= 1).
/// Draws bits and noise from `rng`. Throws std::invalid_argument on a shape mismatch.
MrtCounts mrt_qpsk_link(const arma::cx_mat& h_true, const arma::cx_mat& h_est, double n0,
                        std::size_t symbols_per_subcarrier, RandomStream& rng);

}  // namespace linksim
