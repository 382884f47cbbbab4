// Knowledge distillation for classifiers (Hinton, Vinyals, Dean 2015), as seed 003 / 004 distil
// modulation classifiers: the student learns from the teacher's temperature-softened outputs and
// from the labels. Plain Armadillo (no LibTorch), so any trainer can use the loss and its
// gradient. (The CSI autoencoders distil by regression instead: CsiTrainer::set_teacher.)
#pragma once

#include <armadillo>

namespace linksim {

/// Loss and gradient of one batch.
struct DistillationLoss {
  double loss = 0;  ///< mean over the batch
  arma::mat grad;   ///< dloss / dstudent logits, [classes x batch]
};

/// For logits s (student) and t (teacher), [classes x batch], one column per sample, labels y
/// [batch] (each < classes), temperature T > 0 and weight alpha in [0, 1]:
///   loss = mean_n [ alpha T^2 KL(softmax(t_n / T) || softmax(s_n / T))
///                   + (1 - alpha) (-log softmax(s_n)[y_n]) ],
/// the T^2 keeping the soft term's gradient on the scale of the hard one; its gradient is
///   dloss/ds_n = [alpha T (softmax(s_n / T) - softmax(t_n / T))
///                 + (1 - alpha) (softmax(s_n) - onehot(y_n))] / batch.
/// Softmax is computed stably (max subtracted). Throws std::invalid_argument for mismatched
/// shapes, a label out of range, T <= 0 or alpha outside [0, 1].
DistillationLoss distillation_loss(const arma::mat& student, const arma::mat& teacher,
                                   const arma::uvec& labels, double temperature, double alpha);

}  // namespace linksim
