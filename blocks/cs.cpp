// Classical CS CSI feedback: sensing, quantisation, OMP / LASSO (FISTA) / AMP and CSI metrics.
#include "blocks/cs.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <vector>

namespace linksim {

namespace {

/// Soft threshold of each column j of u at thr(j): sign(u) max(|u| - thr, 0).
arma::mat soft_threshold_columns(const arma::mat& u, const arma::rowvec& thr) {
  arma::mat mag = arma::abs(u);
  mag.each_row() -= thr;
  mag.clamp(0.0, std::numeric_limits<double>::infinity());
  return arma::sign(u) % mag;
}

/// Euclidean norm of each column, shape [1 x B].
arma::rowvec column_norms(const arma::mat& x) {
  return arma::sqrt(arma::sum(arma::square(x), 0));
}

/// Indices of the entries of `keep` that are true.
arma::uvec true_indices(const std::vector<bool>& keep) {
  std::vector<arma::uword> idx;
  for (std::size_t i = 0; i < keep.size(); ++i) {
    if (keep[i]) idx.push_back(i);
  }
  return arma::uvec(idx);
}

/// Keeps only the columns `k` of every matrix (or row vector) given.
template <class... M>
void keep_columns(const arma::uvec& k, M&... m) {
  ((m = m.cols(k).eval()), ...);
}

/// The batch state of an iterative solver that freezes columns as they converge, so each column's
/// result does not depend on the other columns of the batch (up to BLAS rounding).
struct ActiveSet {
  arma::uvec columns;  // original column index of each working column

  explicit ActiveSet(arma::uword b) : columns(arma::regspace<arma::uvec>(0, b - 1)) {}
  bool empty() const { return columns.is_empty(); }
};

/// Least-squares refit of x on its support (columns of a where x != 0), in place.
void debias_on_support(const arma::mat& a, const arma::vec& y, arma::vec& x) {
  const arma::uvec support = arma::find(x);
  if (support.is_empty() || support.n_elem > a.n_rows / 2) return;
  arma::vec coef;
  if (arma::solve(coef, a.cols(support), y, arma::solve_opts::no_approx)) x(support) = coef;
}

}  // namespace

arma::vec flatten_csi(const arma::cx_mat& h) {
  const arma::uword plane = h.n_elem;
  arma::vec x(2 * plane);
  for (arma::uword r = 0; r < h.n_rows; ++r) {
    for (arma::uword k = 0; k < h.n_cols; ++k) {
      x(r * h.n_cols + k) = h(r, k).real();
      x(plane + r * h.n_cols + k) = h(r, k).imag();
    }
  }
  return x;
}

arma::cx_mat unflatten_csi(const arma::vec& x, std::size_t rows, std::size_t cols) {
  const arma::uword plane = rows * cols;
  if (x.n_elem != 2 * plane) throw std::invalid_argument("unflatten_csi: size != 2 rows cols");
  arma::cx_mat h(rows, cols);
  for (arma::uword r = 0; r < rows; ++r) {
    for (arma::uword k = 0; k < cols; ++k) {
      h(r, k) = {x(r * cols + k), x(plane + r * cols + k)};
    }
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// Sensing and quantisation.

std::size_t measurements_for_ratio(std::size_t n, std::size_t cr) {
  if (cr == 0 || cr > n) throw std::invalid_argument("measurements_for_ratio: need 1 <= cr <= n");
  return n / cr;
}

arma::mat make_sensing_matrix(std::size_t m, std::size_t n, SensingKind kind, RandomStream& rng) {
  if (m == 0 || n == 0) throw std::invalid_argument("make_sensing_matrix: empty shape");
  arma::mat a(m, n);
  const double scale = 1.0 / std::sqrt(static_cast<double>(m));
  switch (kind) {
    case SensingKind::Gaussian:
      rng.fill_normal(std::span<double>(a.memptr(), a.n_elem), scale);
      break;
    case SensingKind::Rademacher: {
      double* p = a.memptr();
      for (arma::uword i = 0; i < a.n_elem; i += 64) {
        const std::uint64_t word = rng.next_u64();
        const arma::uword end = std::min<arma::uword>(a.n_elem, i + 64);
        for (arma::uword j = i; j < end; ++j) p[j] = ((word >> (j - i)) & 1U) ? scale : -scale;
      }
      break;
    }
  }
  return a;
}

namespace {

/// The uniform quantiser's grid: 2^bits levels of width `step` over [-clip, clip].
struct QuantizerGrid {
  double levels;
  double step;
};

QuantizerGrid quantizer_grid(unsigned bits, double clip) {
  if (bits < 1 || bits > 32) throw std::invalid_argument("quantizer: bits must be in 1..32");
  if (!(clip > 0) || !std::isfinite(clip)) {
    throw std::invalid_argument("quantizer: clip must be finite and > 0");
  }
  const double levels = std::ldexp(1.0, static_cast<int>(bits));
  return {levels, 2.0 * clip / levels};
}

}  // namespace

arma::uvec quantize_uniform(const arma::vec& y, unsigned bits, double clip) {
  const auto [levels, step] = quantizer_grid(bits, clip);
  arma::uvec q(y.n_elem);
  for (arma::uword i = 0; i < y.n_elem; ++i) {
    if (std::isnan(y(i))) throw std::invalid_argument("quantize_uniform: NaN input");
    const double idx = std::clamp(std::floor((y(i) + clip) / step), 0.0, levels - 1.0);
    q(i) = static_cast<arma::uword>(idx);
  }
  return q;
}

arma::vec dequantize_uniform(const arma::uvec& q, unsigned bits, double clip) {
  const auto [levels, step] = quantizer_grid(bits, clip);
  arma::vec y(q.n_elem);
  for (arma::uword i = 0; i < q.n_elem; ++i) {
    if (static_cast<double>(q(i)) >= levels) {
      throw std::invalid_argument("dequantize_uniform: index out of range");
    }
    y(i) = -clip + (static_cast<double>(q(i)) + 0.5) * step;
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// Reconstruction.

CsReconstructor::CsReconstructor(arma::mat a) : a_(std::move(a)) {
  if (a_.is_empty()) throw std::invalid_argument("CsReconstructor: empty sensing matrix");
  if (!a_.is_finite()) throw std::invalid_argument("CsReconstructor: non-finite sensing matrix");
}

void CsReconstructor::check_measurements(const arma::mat& y) const {
  if (y.n_rows != a_.n_rows) throw std::invalid_argument("CsReconstructor: y needs m rows");
}

// OMP -----------------------------------------------------------------------------------------

OmpReconstructor::OmpReconstructor(arma::mat a, OmpOptions options)
    : CsReconstructor(std::move(a)), options_(options), column_norms_(column_norms(a_).t()) {}

arma::mat OmpReconstructor::reconstruct_batch(const arma::mat& y) const {
  check_measurements(y);
  arma::mat x(a_.n_cols, y.n_cols);
  for (arma::uword j = 0; j < y.n_cols; ++j) x.col(j) = solve_one(y.col(j));
  return x;
}

arma::vec OmpReconstructor::solve_one(const arma::vec& y) const {
  const arma::uword m = a_.n_rows;
  const arma::uword n = a_.n_cols;
  arma::uword k_max = options_.max_atoms == 0 ? std::max<arma::uword>(1, m / 2)
                                              : std::min<arma::uword>(options_.max_atoms, m);
  k_max = std::min(k_max, n);
  arma::vec x(n, arma::fill::zeros);
  const double y_norm = arma::norm(y);
  if (y_norm == 0 || !y.is_finite()) return x;

  arma::vec inv_norm(n, arma::fill::zeros);  // 1 / ||a_j||, 0 for zero (or selected) columns
  for (arma::uword j = 0; j < n; ++j) {
    if (column_norms_(j) > 0) inv_norm(j) = 1.0 / column_norms_(j);
  }
  // Largest normalised correlation expected of a residual unrelated to the columns, per ||r||.
  const double noise_level =
      std::sqrt(2.0 * std::log(2.0 * static_cast<double>(n)) / static_cast<double>(m));
  arma::mat q(m, k_max);                         // orthonormal basis of the support's columns
  arma::mat r(k_max, k_max, arma::fill::zeros);  // A_S = Q R
  std::vector<arma::uword> support;
  arma::vec res = y;
  for (arma::uword k = 0; k < k_max; ++k) {
    if (arma::norm(res) <= options_.residual_tol * y_norm) break;
    const arma::vec corr = arma::abs(a_.t() * res) % inv_norm;
    const arma::uword j = corr.index_max();
    if (!(corr(j) > 0)) break;
    if (corr(j) <= options_.correlation_stop * arma::norm(res) * noise_level) break;
    arma::vec v = a_.col(j);
    if (k > 0) {  // classical Gram-Schmidt, twice ("twice is enough")
      const auto qk = q.cols(0, k - 1);
      const arma::vec h1 = qk.t() * v;
      v -= qk * h1;
      const arma::vec h2 = qk.t() * v;
      v -= qk * h2;
      r.col(k).head(k) = h1 + h2;
    }
    const double v_norm = arma::norm(v);
    if (v_norm <= 1e-10 * column_norms_(j)) break;  // dependent on the support
    q.col(k) = v / v_norm;
    r(k, k) = v_norm;
    res -= q.col(k) * arma::dot(q.col(k), res);
    support.push_back(j);
    inv_norm(j) = 0;  // never pick it again
  }
  if (support.empty()) return x;
  const arma::uword s = support.size();
  const arma::vec qty = q.cols(0, s - 1).t() * y;
  const arma::vec coef = arma::solve(arma::trimatu(r.submat(0, 0, s - 1, s - 1)), qty);
  x(arma::uvec(support)) = coef;
  return x;
}

// LASSO (FISTA) --------------------------------------------------------------------------------

LassoReconstructor::LassoReconstructor(arma::mat a, LassoOptions options)
    : CsReconstructor(std::move(a)), options_(options) {
  if (!(options_.lambda_rel > 0) || !(options_.tolerance >= 0)) {
    throw std::invalid_argument("LassoReconstructor: need lambda_rel > 0 and tolerance >= 0");
  }
  // ||A||_2^2 is the largest eigenvalue of the smaller Gram matrix. Computed exactly: power
  // iteration converges slowly on random matrices, whose top singular values are close, and an
  // underestimate of L makes FISTA diverge.
  const arma::mat gram = a_.n_rows <= a_.n_cols ? arma::mat(a_ * a_.t()) : arma::mat(a_.t() * a_);
  const arma::vec eig = arma::eig_sym(gram);
  lipschitz_ = eig.max() * (1.0 + 1e-10);
  if (!(lipschitz_ > 0)) throw std::invalid_argument("LassoReconstructor: zero sensing matrix");
}

arma::mat LassoReconstructor::reconstruct_batch(const arma::mat& y) const {
  check_measurements(y);
  const double step = 1.0 / lipschitz_;
  arma::mat out(a_.n_cols, y.n_cols, arma::fill::zeros);
  if (y.n_cols == 0) return out;

  ActiveSet active(y.n_cols);
  arma::mat yw = y;
  arma::rowvec thr = step * options_.lambda_rel * arma::max(arma::abs(a_.t() * y), 0);
  arma::mat x(a_.n_cols, y.n_cols, arma::fill::zeros);  // x_k
  arma::mat z = x;                                      // extrapolated point
  arma::rowvec t(y.n_cols, arma::fill::ones);

  for (std::size_t it = 0; it < options_.max_iterations && !active.empty(); ++it) {
    const arma::mat grad = a_.t() * (a_ * z - yw);
    const arma::mat x_new = soft_threshold_columns(z - step * grad, thr);
    const arma::mat dx = x_new - x;
    // Gradient restart: momentum is dropped where it points uphill.
    const arma::rowvec uphill = arma::sum((z - x_new) % dx, 0);
    const arma::rowvec t_next = (1.0 + arma::sqrt(1.0 + 4.0 * arma::square(t))) / 2.0;
    arma::rowvec beta = (t - 1.0) / t_next;
    t = t_next;
    for (arma::uword j = 0; j < t.n_elem; ++j) {
      if (uphill(j) > 0) {
        beta(j) = 0;
        t(j) = 1;
      }
    }
    z = x_new;
    z += dx.each_row() % beta;
    x = x_new;

    const arma::rowvec change = column_norms(dx);
    const arma::rowvec size = column_norms(x);
    const bool last = it + 1 == options_.max_iterations;
    std::vector<bool> keep(x.n_cols);
    bool any_done = false;
    for (arma::uword j = 0; j < x.n_cols; ++j) {
      const bool done = last || change(j) <= options_.tolerance * size(j);
      keep[j] = !done;
      if (done) {
        out.col(active.columns(j)) = x.col(j);
        any_done = true;
      }
    }
    if (any_done) {
      const arma::uvec k = true_indices(keep);
      active.columns = active.columns(k).eval();
      keep_columns(k, x, z, yw, t, thr);
    }
  }
  if (options_.debias) {
    for (arma::uword j = 0; j < out.n_cols; ++j) {
      arma::vec xj = out.col(j);
      debias_on_support(a_, y.col(j), xj);
      out.col(j) = xj;
    }
  }
  return out;
}

// AMP ------------------------------------------------------------------------------------------

double amp_default_alpha(double delta) {
  if (!(delta > 0)) throw std::invalid_argument("amp_default_alpha: need delta > 0");
  return delta >= 0.25 ? 1.5 : 1.5 + 0.35 * std::log2(0.25 / delta);
}

AmpReconstructor::AmpReconstructor(arma::mat a, AmpOptions options)
    : CsReconstructor(std::move(a)), options_(options) {
  alpha_ = options_.alpha.value_or(
      amp_default_alpha(static_cast<double>(a_.n_rows) / static_cast<double>(a_.n_cols)));
  if (!(alpha_ > 0) || !(options_.tolerance >= 0)) {
    throw std::invalid_argument("AmpReconstructor: need alpha > 0 and tolerance >= 0");
  }
}

arma::mat AmpReconstructor::reconstruct_batch(const arma::mat& y) const {
  check_measurements(y);
  const double m = static_cast<double>(a_.n_rows);
  arma::mat out(a_.n_cols, y.n_cols, arma::fill::zeros);
  if (y.n_cols == 0) return out;

  ActiveSet active(y.n_cols);
  arma::mat yw = y;
  arma::mat x(a_.n_cols, y.n_cols, arma::fill::zeros);
  arma::mat z = y;  // corrected residual z_t
  // Divergence guard: the iterate with the smallest ||z_t|| so far, and the blow-up level.
  arma::rowvec z_norm = column_norms(z);
  arma::rowvec best_norm = z_norm;
  arma::mat x_best = x;
  arma::rowvec limit = 4.0 * z_norm;
  for (std::size_t it = 0; it < options_.max_iterations && !active.empty(); ++it) {
    const arma::rowvec tau = alpha_ * z_norm / std::sqrt(m);
    const arma::mat x_new = soft_threshold_columns(x + a_.t() * z, tau);
    // Onsager term: z_t * <eta'> / delta = z_t * ||x_{t+1}||_0 / m.
    const arma::rowvec onsager = arma::conv_to<arma::rowvec>::from(
                                     arma::sum(arma::conv_to<arma::umat>::from(x_new != 0.0), 0)) /
                                 m;
    z.each_row() %= onsager;
    z += yw - a_ * x_new;
    z_norm = column_norms(z);

    const arma::rowvec change = column_norms(x_new - x);
    const arma::rowvec size = column_norms(x_new);
    x = x_new;
    const bool last = it + 1 == options_.max_iterations;
    std::vector<bool> keep(x.n_cols);
    bool any_done = false;
    for (arma::uword j = 0; j < x.n_cols; ++j) {
      const bool diverged = !(z_norm(j) <= limit(j)) || !x.col(j).is_finite();
      if (!diverged && z_norm(j) < best_norm(j)) {
        best_norm(j) = z_norm(j);
        x_best.col(j) = x.col(j);
      }
      const bool done =
          diverged || last || change(j) <= options_.tolerance * size(j) || z_norm(j) == 0;
      keep[j] = !done;
      if (done) {
        out.col(active.columns(j)) = diverged ? x_best.col(j) : x.col(j);
        any_done = true;
      }
    }
    if (any_done) {
      const arma::uvec k = true_indices(keep);
      active.columns = active.columns(k).eval();
      keep_columns(k, x, z, yw, z_norm, best_norm, x_best, limit);
    }
  }
  return out;
}

std::unique_ptr<CsReconstructor> make_cs_reconstructor(CsMethod method, arma::mat a) {
  switch (method) {
    case CsMethod::Lasso:
      return std::make_unique<LassoReconstructor>(std::move(a));
    case CsMethod::Omp:
      return std::make_unique<OmpReconstructor>(std::move(a));
    case CsMethod::Amp:
      return std::make_unique<AmpReconstructor>(std::move(a));
  }
  throw std::invalid_argument("make_cs_reconstructor: unknown method");
}

// ---------------------------------------------------------------------------------------------
// Metrics.

double nmse_ratio(const arma::cx_mat& h, const arma::cx_mat& h_hat) {
  if (h.n_rows != h_hat.n_rows || h.n_cols != h_hat.n_cols) {
    throw std::invalid_argument("nmse: shape mismatch");
  }
  const double ref = arma::accu(arma::square(arma::abs(h)));
  if (!(ref > 0)) throw std::invalid_argument("nmse: reference has zero energy");
  return arma::accu(arma::square(arma::abs(h - h_hat))) / ref;
}

double nmse_db(const arma::cx_mat& h, const arma::cx_mat& h_hat) {
  return 10.0 * std::log10(nmse_ratio(h, h_hat));
}

double nmse_db(std::span<const arma::cx_mat> h, std::span<const arma::cx_mat> h_hat) {
  if (h.empty() || h.size() != h_hat.size()) {
    throw std::invalid_argument("nmse: need equally many samples, at least one");
  }
  double sum = 0;
  for (std::size_t i = 0; i < h.size(); ++i) sum += nmse_ratio(h[i], h_hat[i]);
  return 10.0 * std::log10(sum / static_cast<double>(h.size()));
}

double nmse_db_columns(const arma::mat& x, const arma::mat& x_hat) {
  if (x.n_cols == 0 || x.n_rows != x_hat.n_rows || x.n_cols != x_hat.n_cols) {
    throw std::invalid_argument("nmse: shape mismatch or no samples");
  }
  const arma::rowvec ref = arma::sum(arma::square(x), 0);
  if (!(ref.min() > 0)) throw std::invalid_argument("nmse: a reference has zero energy");
  const arma::rowvec err = arma::sum(arma::square(x - x_hat), 0);
  return 10.0 * std::log10(arma::mean(err / ref));
}

double cosine_similarity_freq(const arma::cx_mat& h_f, const arma::cx_mat& h_f_hat) {
  if (h_f.is_empty() || h_f.n_rows != h_f_hat.n_rows || h_f.n_cols != h_f_hat.n_cols) {
    throw std::invalid_argument("cosine_similarity: shape mismatch or empty");
  }
  double sum = 0;
  for (arma::uword k = 0; k < h_f.n_rows; ++k) {
    const arma::cx_rowvec a = h_f.row(k);
    const arma::cx_rowvec b = h_f_hat.row(k);
    const double den = arma::norm(a) * arma::norm(b);
    if (den > 0) sum += std::abs(arma::cdot(b, a)) / den;
  }
  return sum / static_cast<double>(h_f.n_rows);
}

double cosine_similarity(const arma::cx_mat& h_ad, const arma::cx_mat& h_ad_hat, std::size_t n_fft,
                         std::size_t n_keep) {
  if (h_ad.n_rows > n_fft || n_keep == 0 || n_keep > n_fft) {
    throw std::invalid_argument("cosine_similarity: need rows <= n_fft and 1 <= n_keep <= n_fft");
  }
  if (h_ad.n_rows != h_ad_hat.n_rows || h_ad.n_cols != h_ad_hat.n_cols) {
    throw std::invalid_argument("cosine_similarity: shape mismatch");
  }
  // W(k, d) = exp(-j 2 pi k d / n_fft): the zero-padded DFT's kept bins, as a matrix product.
  arma::cx_mat w(n_keep, h_ad.n_rows);
  for (arma::uword d = 0; d < h_ad.n_rows; ++d) {
    for (arma::uword k = 0; k < n_keep; ++k) {
      const double phase = -2.0 * std::numbers::pi * static_cast<double>((k * d) % n_fft) /
                           static_cast<double>(n_fft);
      w(k, d) = std::polar(1.0, phase);
    }
  }
  return cosine_similarity_freq(w * h_ad, w * h_ad_hat);
}

}  // namespace linksim
