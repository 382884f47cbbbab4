#include "blocks/csi_feedback.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

namespace linksim {
namespace {

std::string_view method_name(CsMethod m) {
  switch (m) {
    case CsMethod::Lasso:
      return "lasso";
    case CsMethod::Omp:
      return "omp";
    case CsMethod::Amp:
      return "amp";
  }
  return "?";
}

class CsFeedback final : public CsiFeedback {
 public:
  explicit CsFeedback(const CsFeedbackOptions& o) : options_(o) {
    if (o.feedback_bits > 32) {
      throw std::invalid_argument("feedback bits must be 0 (unquantised) or 1..32, not " +
                                  std::to_string(o.feedback_bits));
    }
    RandomStream rng(o.sensing_seed);
    const std::size_t m = measurements_for_ratio(o.n, o.cr);
    reconstructor_ = make_cs_reconstructor(o.method, make_sensing_matrix(m, o.n, o.sensing, rng));
  }

  std::string name() const override { return std::string(method_name(options_.method)); }

  arma::mat encode(const arma::mat& x) const override {
    if (x.n_rows != options_.n) {
      throw std::invalid_argument("CS feedback: expected " + std::to_string(options_.n) +
                                  " values per sample, got " + std::to_string(x.n_rows));
    }
    arma::mat y = reconstructor_->sensing_matrix() * x;
    if (options_.feedback_bits == 0) return y;
    const double m = static_cast<double>(y.n_rows);
    for (arma::uword c = 0; c < y.n_cols; ++c) {
      const arma::vec col = y.col(c);
      const double clip = 3.0 * arma::norm(col) / std::sqrt(m);
      if (clip > 0) {
        y.col(c) = dequantize_uniform(quantize_uniform(col, options_.feedback_bits, clip),
                                      options_.feedback_bits, clip);
      }
    }
    return y;
  }

  arma::mat decode(const arma::mat& feedback) const override {
    return reconstructor_->reconstruct_batch(feedback);
  }

  std::size_t feedback_values() const override { return reconstructor_->sensing_matrix().n_rows; }

 private:
  CsFeedbackOptions options_;
  std::unique_ptr<CsReconstructor> reconstructor_;
};

}  // namespace

std::unique_ptr<CsiFeedback> make_cs_feedback(const CsFeedbackOptions& options) {
  return std::make_unique<CsFeedback>(options);
}

MrtCounts mrt_qpsk_link(const arma::cx_mat& h_true, const arma::cx_mat& h_est, double n0,
                        std::size_t symbols_per_subcarrier, RandomStream& rng) {
  if (h_true.n_rows != h_est.n_rows || h_true.n_cols != h_est.n_cols) {
    throw std::invalid_argument("mrt_qpsk_link: true channel " + std::to_string(h_true.n_rows) +
                                "x" + std::to_string(h_true.n_cols) + " vs estimate " +
                                std::to_string(h_est.n_rows) + "x" + std::to_string(h_est.n_cols));
  }
  if (symbols_per_subcarrier == 0) {
    throw std::invalid_argument("mrt_qpsk_link: symbols_per_subcarrier must be >= 1");
  }
  MrtCounts out;
  const std::size_t nc = h_true.n_rows;
  const std::size_t per_symbol = 2;
  const double sigma = std::sqrt(n0 / 2.0);  // per real dimension
  const double amp = 1.0 / std::sqrt(2.0);   // QPSK per-dimension amplitude, Es = 1
  const std::size_t n_sym = symbols_per_subcarrier;
  std::vector<std::uint8_t> bits(per_symbol * n_sym);
  std::vector<double> noise(2 * n_sym);
  for (std::size_t k = 0; k < nc; ++k) {
    // Effective gain g = h_k^T w_k, w_k = conj(h_est_k) / ||h_est_k||.
    const arma::cx_rowvec he = h_est.row(k);
    const double norm = arma::norm(he);
    const std::complex<double> g =
        norm > 0 ? arma::accu(h_true.row(k) % arma::conj(he)) / norm : std::complex<double>(0.0);
    const double p_err = 0.5 * std::erfc(std::abs(g) / std::sqrt(n0) / std::sqrt(2.0));
    rng.fill_bits(bits);
    rng.fill_normal(noise, sigma);
    for (std::size_t s = 0; s < n_sym; ++s) {
      const std::uint8_t b0 = bits[2 * s], b1 = bits[2 * s + 1];
      const std::complex<double> x(b0 ? -amp : amp, b1 ? -amp : amp);
      const std::complex<double> r = g * x + std::complex<double>(noise[2 * s], noise[2 * s + 1]);
      // Matched filter with the known gain; g = 0 leaves a pure-noise decision.
      const std::complex<double> z = r * std::conj(g);
      out.bit_errors += static_cast<std::uint64_t>((z.real() < 0) != (b0 != 0)) +
                        static_cast<std::uint64_t>((z.imag() < 0) != (b1 != 0));
    }
    out.bits += per_symbol * n_sym;
    out.expected_errors += p_err * static_cast<double>(per_symbol * n_sym);
  }
  return out;
}

}  // namespace linksim
