// Classical compressive-sensing (CS) CSI feedback: the UE's random sensing matrix and feedback
// quantiser, the BS's sparse reconstructions (OMP, LASSO by FISTA, AMP), the angular-delay DFT
// transforms and the CSI metrics (NMSE, cosine similarity rho).
//
// Domain and basis. The blocks work in the angular-delay domain: the spatial-frequency channel
// H_sf (Nc subcarriers x Nt antennas) is mapped to H_ad = F_d H_sf F_a^H and truncated to its
// first kCsiDelayRows delay rows, where COST 2100 channels are approximately sparse (few clusters,
// each compact in delay and angle). The sparsifying basis is therefore the identity on the
// flattened angular-delay vector: x = flatten_csi(H_ad), N = 2 * 32 * Nt real values (2048 for
// Nt = 32). The UE sends y = A x (M = N / CR values); the BS solves for a sparse x from y.
//
// Scaling. Every reconstruction here is scale-equivariant (x -> c x gives x_hat -> c x_hat), so
// CSI needs no normalisation, but it must be centred: the CsiNet offset of 0.5 would destroy the
// sparsity. Feed the raw (or centred) angular-delay values.
//
// Threading. The reconstructors hold their sensing matrix and are immutable after construction:
// one object may serve many threads. None uses randomness after construction.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>

#include "sim/csi_transform.hpp"
#include "sim/random.hpp"
#include "sim/types.hpp"

namespace linksim {

/// Flattens a complex matrix [rows x cols] to the real CS vector [2 * rows * cols] in the CsiNet
/// order [2, rows, cols], C order: index c * rows * cols + r * cols + k holds the real (c = 0) or
/// imaginary (c = 1) part of h(r, k). With rows = delay, cols = antenna, this is the layout of the
/// HDF5 dataset `H_ad` [N, 2, 32, 32].
arma::vec flatten_csi(const arma::cx_mat& h);
/// Inverse of flatten_csi. Throws std::invalid_argument unless x.n_elem == 2 * rows * cols.
arma::cx_mat unflatten_csi(const arma::vec& x, std::size_t rows, std::size_t cols);

// ---------------------------------------------------------------------------------------------
// UE side: sensing and quantisation.

enum class SensingKind {
  Gaussian,    ///< "gaussian": i.i.d. N(0, 1/m) entries (default)
  Rademacher,  ///< "rademacher": i.i.d. +-1/sqrt(m) entries, equiprobable
};

/// Number of measurements M = floor(n / cr) for a compression ratio 1/cr (CsiNet: cr in
/// {4, 8, 16, 32, 64}, n = 2048). Throws std::invalid_argument if cr == 0 or cr > n.
std::size_t measurements_for_ratio(std::size_t n, std::size_t cr);

/// A random sensing matrix A, shape [m x n]: E[A^T A] = I, so columns have unit norm on average
/// (exactly, for Rademacher). Entries are drawn column by column from `rng`, so the matrix is a
/// deterministic function of the stream's seed; UE and BS rebuild it from the shared seed.
/// Throws std::invalid_argument if m == 0 or n == 0.
arma::mat make_sensing_matrix(std::size_t m, std::size_t n, SensingKind kind, RandomStream& rng);

/// Uniform mid-rise quantiser with 2^bits levels on [-clip, clip]: step D = 2 clip / 2^bits,
/// index q = clamp(floor((y + clip) / D), 0, 2^bits - 1). Values outside [-clip, clip] saturate.
/// \param y feedback vector (any units), shape [m].
/// \param bits bits per value, 1..32.
/// \param clip clip level > 0, same units as y. It is side information the BS must know; a
///        usual choice is a few standard deviations of y, e.g. 3 ||y||_2 / sqrt(m).
/// \return indices in [0, 2^bits), shape [m].
arma::uvec quantize_uniform(const arma::vec& y, unsigned bits, double clip);
/// Reconstruction points y_hat = -clip + (q + 0.5) D. For |y| <= clip, |y - y_hat| <= D / 2.
arma::vec dequantize_uniform(const arma::uvec& q, unsigned bits, double clip);

// ---------------------------------------------------------------------------------------------
// BS side: sparse reconstruction of x [n] from y = A x [m].

enum class CsMethod {
  Lasso,  ///< "lasso": l1-regularised least squares by FISTA (LassoReconstructor)
  Omp,    ///< "omp": orthogonal matching pursuit (OmpReconstructor)
  Amp,    ///< "amp": approximate message passing, soft threshold (AmpReconstructor)
};

/// A BS-side reconstruction bound to one sensing matrix A [m x n].
class CsReconstructor {
 public:
  virtual ~CsReconstructor() = default;
  /// Reconstructs a batch, one sample per column: y [m x B] -> x_hat [n x B]. Columns are solved
  /// independently (the result for one column does not depend on the others, up to BLAS
  /// rounding).
  virtual arma::mat reconstruct_batch(const arma::mat& y) const = 0;
  /// One sample: y [m] -> x_hat [n].
  arma::vec reconstruct(const arma::vec& y) const { return arma::vec(reconstruct_batch(y)); }
  /// The sensing matrix, shape [m x n].
  const arma::mat& sensing_matrix() const { return a_; }

 protected:
  explicit CsReconstructor(arma::mat a);
  /// Throws std::invalid_argument unless y has m rows.
  void check_measurements(const arma::mat& y) const;
  arma::mat a_;
};

struct OmpOptions {
  /// Most atoms (support size) to select; 0 means m / 2 (beyond that the least-squares fit on the
  /// support overfits and degrades). Set it to k for a known sparsity k.
  std::size_t max_atoms = 0;
  /// Stop once ||y - A x||_2 <= residual_tol * ||y||_2 (relative residual).
  double residual_tol = 1e-6;
  /// Stop once the best normalised correlation max_j |a_j^T r| / ||a_j|| falls to
  /// correlation_stop * ||r||_2 * sqrt(2 ln(2n) / m), about the largest correlation a residual
  /// unrelated to the columns would show: what is left then looks like noise, and fitting more
  /// atoms only folds it into x. This is what keeps OMP useful on approximately sparse CSI (on 60
  /// COST 2100 drops per scenario, 1.0 was within ~1.7 dB of the best fixed support size at every
  /// CR in {4..64}, never above 0 dB, where 0 gives +1..+3 dB at CR >= 16). 0 disables the rule;
  /// do that for exactly sparse vectors whose k nonzeros are of similar size and k is large
  /// (the first correlation is then only ~1/sqrt(k) of ||y||).
  double correlation_stop = 1.0;
};

/// Orthogonal matching pursuit (Pati et al. 1993; Tropp & Gilbert 2007). Each step adds the
/// column with the largest normalised correlation |a_j^T r| / ||a_j|| to the support and refits
/// x on the support by least squares, via an incremental QR factorisation (classical Gram-Schmidt
/// with one re-orthogonalisation), so a step costs one A^T r plus O(m k). Stops at max_atoms, at
/// the residual tolerance, at the correlation (noise-level) rule, or when the new column is
/// numerically dependent on the support. Samples of a batch are solved one by one.
class OmpReconstructor final : public CsReconstructor {
 public:
  explicit OmpReconstructor(arma::mat a, OmpOptions options = {});
  arma::mat reconstruct_batch(const arma::mat& y) const override;

 private:
  arma::vec solve_one(const arma::vec& y) const;
  OmpOptions options_;
  arma::vec column_norms_;
};

struct LassoOptions {
  /// lambda = lambda_rel * ||A^T y||_inf, per sample. lambda >= ||A^T y||_inf gives x = 0, so
  /// lambda_rel in (0, 1) sets the sparsity relative to the strongest correlation and keeps the
  /// solution scale-equivariant (no noise level is needed: the feedback is noiseless apart from
  /// quantisation). On 100 COST 2100 indoor drops: CR 4 gives -11.8 / -10.0 / -7.8 dB at
  /// lambda_rel = 0.02 / 0.05 / 0.1 (smaller is better but slower to converge); at CR >= 16 any
  /// value in 0.02..0.2 is within 0.3 dB. 0.05 is the compromise. For noiseless, exactly sparse
  /// vectors use ~1e-4 with a few thousand iterations (or debias).
  double lambda_rel = 0.05;
  /// Most FISTA iterations (each costs one A x and one A^T r).
  std::size_t max_iterations = 500;
  /// Stop a sample once ||x_k - x_{k-1}||_2 <= tolerance * ||x_k||_2.
  double tolerance = 1e-6;
  /// After FISTA, refit the nonzero coefficients by least squares on their support (removes the
  /// l1 shrinkage bias; skipped for a sample whose support exceeds m / 2).
  bool debias = false;
};

/// LASSO, min_x 0.5 ||y - A x||_2^2 + lambda ||x||_1, solved by FISTA (Beck & Teboulle 2009) with
/// step 1/L, L = ||A||_2^2, and gradient-based adaptive restart of the momentum (O'Donoghue &
/// Candes 2015). L is computed at construction as the largest eigenvalue of the smaller Gram
/// matrix (A A^T or A^T A), not by power iteration: random matrices have nearly equal top
/// singular values, so power iteration converges slowly and an underestimate makes FISTA
/// diverge. The batch runs as matrix products (GEMM), with converged samples taken out.
class LassoReconstructor final : public CsReconstructor {
 public:
  explicit LassoReconstructor(arma::mat a, LassoOptions options = {});
  arma::mat reconstruct_batch(const arma::mat& y) const override;
  /// The Lipschitz constant L = ||A||_2^2 used for the step (times 1 + 1e-10).
  double lipschitz() const { return lipschitz_; }

 private:
  LassoOptions options_;
  double lipschitz_ = 0;
};

struct AmpOptions {
  /// Threshold tau_t = alpha * ||z_t||_2 / sqrt(m), where ||z_t||_2 / sqrt(m) estimates the
  /// standard deviation of the effective noise in x_t + A^T z_t. Unset: alpha(delta) = 1.5 +
  /// 0.35 log2(1 / (4 delta)) for delta = m / n < 1/4, else 1.5 (1.5, 1.85, 2.2, 2.55, 2.9 at CR
  /// 4, 8, 16, 32, 64). A fixed small alpha makes AMP diverge at high CR: the state evolution is
  /// stable only while the threshold's MSE on the zero entries, 2[(1 + a^2) Phi(-a) - a phi(a)],
  /// plus the large entries' share stays below delta, so alpha must grow as delta shrinks. The
  /// rule was fitted on 100 COST 2100 drops per scenario (indoor, outdoor LOS and NLOS), where it
  /// is within ~0.3 dB of the best alpha on a 0.25 grid at every CR.
  std::optional<double> alpha;
  /// Most AMP iterations (each costs one A x and one A^T z).
  std::size_t max_iterations = 200;
  /// Stop a sample once ||x_t - x_{t-1}||_2 <= tolerance * ||x_t||_2.
  double tolerance = 1e-7;
};

/// The threshold factor alpha(delta) AmpOptions uses when alpha is unset, delta = m / n.
double amp_default_alpha(double delta);

/// Approximate message passing with the soft-threshold denoiser eta(u; tau) = sign(u) max(|u| -
/// tau, 0) and the Onsager correction (Donoho, Maleki & Montanari, PNAS 2009):
///   x_{t+1} = eta(x_t + A^T z_t; tau_t),
///   z_{t+1} = y - A x_{t+1} + z_t * ||x_{t+1}||_0 / m.
/// Valid for A with i.i.d. zero-mean entries of variance 1/m (both SensingKind choices); with
/// other matrices the state evolution, and so the threshold rule, no longer holds. Divergence
/// guard: a sample whose ||z_t|| exceeds 4 ||y|| (z_0 = y; a stable run shrinks it) or turns
/// non-finite is stopped and returned at the iterate with the smallest ||z_t|| seen.
class AmpReconstructor final : public CsReconstructor {
 public:
  explicit AmpReconstructor(arma::mat a, AmpOptions options = {});
  arma::mat reconstruct_batch(const arma::mat& y) const override;
  /// The threshold factor in use.
  double alpha() const { return alpha_; }

 private:
  AmpOptions options_;
  double alpha_ = 0;
};

/// A reconstructor with default options, for a method chosen at run time.
std::unique_ptr<CsReconstructor> make_cs_reconstructor(CsMethod method, arma::mat a);

// ---------------------------------------------------------------------------------------------
// Metrics (free functions).

/// Linear normalised squared error ||h - h_hat||_F^2 / ||h||_F^2 of one sample.
/// Throws std::invalid_argument on a shape mismatch or if ||h||_F = 0.
double nmse_ratio(const arma::cx_mat& h, const arma::cx_mat& h_hat);
/// 10 log10 of nmse_ratio, in dB, of one sample.
double nmse_db(const arma::cx_mat& h, const arma::cx_mat& h_hat);
/// Batch NMSE as in CsiNet: 10 log10(mean_n ||h_n - h_hat_n||^2 / ||h_n||^2), the ratio averaged
/// over samples before the log. Throws std::invalid_argument if the spans differ in length or are
/// empty.
double nmse_db(std::span<const arma::cx_mat> h, std::span<const arma::cx_mat> h_hat);
/// Batch NMSE in dB, as above, on real flattened samples, one per column: x, x_hat [N x B].
double nmse_db_columns(const arma::mat& x, const arma::mat& x_hat);

/// CsiNet's default frequency grid for rho: a 257-point zero-padded DFT along the delay axis of
/// the 32-row angular-delay matrix, keeping bins 0..124 (numpy.fft.fft sign, exp(-j 2 pi k d /
/// 257), which inverts F_d above). Bin k is the frequency response at (fractional) subcarrier
/// k * Nc / 257 of the original grid, so the 125 bins cover about the first half of the band, at
/// ~4-subcarrier spacing for Nc = 1024.
inline constexpr std::size_t kRhoFftSize = 257;
inline constexpr std::size_t kRhoKeptBins = 125;

/// Cosine similarity rho from angular-delay matrices: each is taken to the frequency domain by an
/// n_fft-point zero-padded DFT along the delay axis, bins 0..n_keep-1 kept, and
///   rho = mean over kept bins k of |h_hat_k^H h_k| / (||h_hat_k||_2 ||h_k||_2),
/// with h_k the row of bin k (over the Nt angle bins; the antenna-domain value is the same, as
/// F_a is unitary). A bin where either vector is zero counts as 0. rho is in [0, 1], 1 for
/// h_ad_hat = c h_ad with any complex c != 0.
/// \param h_ad, h_ad_hat shape [n_delay x Nt], n_delay <= n_fft; n_keep in 1..n_fft.
double cosine_similarity(const arma::cx_mat& h_ad, const arma::cx_mat& h_ad_hat,
                         std::size_t n_fft = kRhoFftSize, std::size_t n_keep = kRhoKeptBins);
/// rho on given frequency-domain matrices, shape [Nc subcarriers x Nt antennas], each row one
/// subcarrier, e.g. the full 1024-subcarrier H_sf against from_angular_delay(H_ad_hat, 1024).
double cosine_similarity_freq(const arma::cx_mat& h_f, const arma::cx_mat& h_f_hat);

}  // namespace linksim
