#include "nn_compress/distillation.hpp"

#include <cmath>
#include <stdexcept>

namespace linksim {
namespace {

/// Column-wise softmax of z / T and its log, stably.
void softmax_columns(const arma::mat& z, double temperature, arma::mat& p, arma::mat& log_p) {
  arma::mat scaled = z / temperature;
  scaled.each_row() -= arma::max(scaled, 0);
  const arma::rowvec log_sum = arma::log(arma::sum(arma::exp(scaled), 0));
  log_p = scaled;
  log_p.each_row() -= log_sum;
  p = arma::exp(log_p);
}

}  // namespace

DistillationLoss distillation_loss(const arma::mat& student, const arma::mat& teacher,
                                   const arma::uvec& labels, double temperature, double alpha) {
  if (student.n_rows != teacher.n_rows || student.n_cols != teacher.n_cols ||
      labels.n_elem != student.n_cols || student.n_cols == 0 || student.n_rows < 2) {
    throw std::invalid_argument(
        "distillation_loss: student and teacher logits must be [classes >= 2 x batch >= 1], "
        "with one label per sample");
  }
  if (!(temperature > 0) || !(alpha >= 0 && alpha <= 1)) {
    throw std::invalid_argument("distillation_loss: temperature must be > 0, alpha in [0, 1]");
  }
  if (arma::any(labels >= student.n_rows)) {
    throw std::invalid_argument("distillation_loss: a label is not a class index");
  }
  arma::mat ps_t, log_ps_t, pt_t, log_pt_t, ps, log_ps;
  softmax_columns(student, temperature, ps_t, log_ps_t);
  softmax_columns(teacher, temperature, pt_t, log_pt_t);
  softmax_columns(student, 1.0, ps, log_ps);
  const auto batch = static_cast<double>(student.n_cols);
  DistillationLoss out;
  // KL(pt || ps) = sum pt (log pt - log ps); terms with pt = 0 contribute 0.
  const double kl = arma::accu(pt_t % (log_pt_t - log_ps_t));
  double ce = 0;
  arma::mat onehot(arma::size(student), arma::fill::zeros);
  for (arma::uword n = 0; n < student.n_cols; ++n) {
    ce -= log_ps(labels(n), n);
    onehot(labels(n), n) = 1;
  }
  out.loss = (alpha * temperature * temperature * kl + (1 - alpha) * ce) / batch;
  out.grad = (alpha * temperature * (ps_t - pt_t) + (1 - alpha) * (ps - onehot)) / batch;
  return out;
}

}  // namespace linksim
