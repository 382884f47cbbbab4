// Training of the CSI autoencoders (LibTorch behind a pimpl; this header does not include torch):
// Adam on the MSE between the normalised input u and the output u_hat (CsiNet's loss; see
// nn_compress/csi_autoencoder.hpp for the normalisation), mini-batches in a shuffled order that
// is a function of (seed, epoch) only, a learning-rate schedule evaluated per step, and
// checkpoints holding everything needed to continue bit-identically (single thread).
#pragma once

#include <armadillo>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nn_compress/compress.hpp"
#include "nn_compress/csi_autoencoder.hpp"

namespace linksim {

enum class LrSchedule {
  Constant,  ///< "constant": lr
  Step,      ///< "step": lr * gamma^floor(epoch / step_epochs)
  Cosine     ///< "cosine": lr_min + (lr - lr_min) (1 + cos(pi t / T)) / 2 after the warm-up
};
std::string_view schedule_name(LrSchedule schedule);
std::optional<LrSchedule> lr_schedule_named(std::string_view name);

/// The data term of the training loss, on normalised samples u and outputs u_hat.
enum class TrainLoss {
  Mse,  ///< "mse": mean over values and samples of (u_hat - u)^2 (CsiNet's loss)
  /// "nmse": mean over samples of ||u_hat - u||^2 / ||u - 0.5||^2, the reported NMSE itself
  /// (the per-sample scale cancels), so samples of low power relative to their peak weigh as
  /// much as the others; validation and early stopping then track the NMSE too.
  Nmse
};
std::string_view loss_name(TrainLoss loss);
std::optional<TrainLoss> train_loss_named(std::string_view name);

struct TrainHyper {
  double lr = 1e-3;  ///< Adam's base learning rate (betas 0.9, 0.999, eps 1e-8)
  TrainLoss loss = TrainLoss::Mse;
  LrSchedule schedule = LrSchedule::Constant;
  double warmup_epochs = 0;      ///< linear warm-up from 0 to lr over these epochs (any schedule)
  std::size_t step_epochs = 30;  ///< Step: epochs per decay
  double step_gamma = 0.1;       ///< Step: decay factor
  double lr_min = 0;             ///< Cosine: the learning rate reached at the last epoch
  std::size_t batch = 200;       ///< samples per step (the last step of an epoch may be smaller)
  std::size_t epochs = 100;      ///< the schedule's length T in epochs
  /// Regularisation of the weights (parameters of rank >= 2; never biases or BatchNorm): the loss
  /// adds l1 * sum |w| (sparser networks, gentler pruning) and l2 * sum w^2 (smaller ranges,
  /// gentler quantisation), as seed 004 trains before compressing. 0: off.
  double l1 = 0;
  double l2 = 0;
};

/// Learning rate at training progress `t` in epochs (fractional: step s of an epoch of n steps
/// is at t = epoch + s / n).
double learning_rate(const TrainHyper& hyper, double t);

/// Metrics of a set of normalised samples.
struct Evaluation {
  double loss = 0;     ///< MSE between u and u_hat, mean over values and samples
  double nmse = 0;     ///< mean_n ||u_hat - u||^2 / ||u - 0.5||^2 (linear)
  double nmse_db = 0;  ///< 10 log10 mean_n ||u_hat - u||^2 / ||u - 0.5||^2; equal to the NMSE of
                       ///< the raw-scale reconstruction (the per-sample scale cancels)
  std::size_t samples = 0;
};

/// A constraint kept on one parameter through training (fine-tuning a compressed model): after
/// every optimiser step the parameter is projected back onto it.
struct WeightConstraint {
  std::string name;  ///< parameter name, as in CsiAutoencoder::state()
  /// Empty, or one entry per value: entries with 0 stay exactly zero (pruned), the mask kept
  /// fixed.
  std::vector<std::uint8_t> keep;
  /// Empty, or one cluster index (< clusters) per value: the entries of a cluster share one
  /// value, after every step the mean of their updated values (the centroid update of Deep
  /// Compression's weight sharing, with the gradient averaged rather than summed).
  std::vector<std::uint32_t> cluster;
  std::size_t clusters = 0;
  /// 0, or the matrix rank a [rows x cols] parameter is held at (low-rank factorisation): after
  /// every step it is projected onto its leading `rank`-dimensional column space, W <- Q Q^T W,
  /// with Q from one subspace iteration per step, warm-started at the truncated SVD.
  std::size_t rank = 0;
  /// 0, or the separable rank a conv kernel K [out, in, kh, kw] is held at (compress.hpp
  /// separate_conv): the same projection on K as the matrix M[(c, y), (o, x)] = K[o, c, y, x].
  std::size_t separable_rank = 0;
};

/// Gradual magnitude pruning during training (Zhu & Gupta 2017) with one pruning step per epoch:
/// before epoch e, each named weight is pruned on its own to schedule.sparsity_at(e) (steps and
/// begin_step counted in epochs), the smallest |w| first, so an entry pruned before stays pruned.
/// The mask is then held fixed through the epoch like any WeightConstraint.
struct GradualPruning {
  std::vector<std::string> names;   ///< parameter names, as in CsiAutoencoder::state()
  GradualPruningSchedule schedule;  ///< in epochs: frequency 1, steps = pruning epochs
  /// The first epoch (0-based) trained at the final sparsity.
  std::size_t final_epoch() const {
    return static_cast<std::size_t>(schedule.begin_step + schedule.steps * schedule.frequency);
  }
};

class CsiTrainer {
 public:
  /// A fresh network (CsiAutoencoder(arch, cr, seed)) and Adam optimiser.
  CsiTrainer(CsiArch arch, std::size_t cr, std::uint64_t seed, const TrainHyper& hyper);
  ~CsiTrainer();
  CsiTrainer(const CsiTrainer&) = delete;
  CsiTrainer& operator=(const CsiTrainer&) = delete;

  /// One epoch over the columns of u (normalised samples [2048 x N], see normalise_csi), in a
  /// shuffled order fixed by (seed, epoch). Returns the epoch's mean MSE between u_hat and u (the
  /// data term alone, without distillation or regularisation terms).
  /// `progress(done, total)` is called after every step with samples done so far. Leaves the
  /// network in evaluation mode.
  double train_epoch(const arma::fmat& u, std::size_t epoch,
                     const std::function<void(std::size_t, std::size_t)>& progress = {});
  /// Loss and NMSE on normalised samples (evaluation mode, no gradients).
  Evaluation evaluate(const arma::fmat& u);

  /// Replaces the constraints (empty: none) and projects the parameters onto them at once.
  /// Throws std::invalid_argument for an unknown parameter, a size mismatch or a bad index.
  void set_constraints(const std::vector<WeightConstraint>& constraints);

  /// Knowledge distillation (regression on the teacher's output): the loss becomes
  /// (1 - alpha) MSE(u_hat, u) + alpha MSE(u_hat, t), with t = the teacher's reconstruction of u
  /// (evaluation mode, no gradients); with TrainLoss::Nmse both terms are normalised by
  /// ||u - 0.5||^2 per sample. Any architecture and CR may teach. alpha in [0, 1], else
  /// std::invalid_argument. Evaluation (validation loss, NMSE) still compares with u.
  void set_teacher(CsiAutoencoder teacher, double alpha);

  CsiAutoencoder& model();
  const CsiAutoencoder& model() const;
  /// Optimiser steps taken so far.
  std::uint64_t steps() const;

  /// Writes a checkpoint (model file kind checkpoint): the network, Adam's moments and step
  /// count, `best` (e.g. the best model so far, as CsiAutoencoder::state()) and the caller's
  /// JSON object `state_json`.
  void save_checkpoint(const std::filesystem::path& file, const std::string& state_json,
                       const std::vector<NamedArray>& best) const;
  /// Restores network and optimiser from a checkpoint written for the same architecture and cr;
  /// returns the caller's JSON and fills `best`. Throws ModelFileError.
  std::string load_checkpoint(const std::filesystem::path& file, std::vector<NamedArray>& best);
  /// The caller's JSON of a checkpoint without loading anything (after full validation).
  static std::string peek_checkpoint(const std::filesystem::path& file);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace linksim
