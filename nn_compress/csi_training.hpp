// A whole training run of a CSI autoencoder, as `linksim train` does it: epochs of CsiTrainer,
// validation after every epoch, early stopping on the validation loss, a checkpoint after every
// epoch (resumed automatically when it belongs to the same configuration), the best model
// written to the model file with its training record, a CSV log and a gnuplot loss curve.
// No LibTorch in this header.
//
// Files next to the model file M (e.g. models/csinet_indoor_cr4.lsnn):
//   M with extension .ckpt       checkpoint (network, Adam state, best network, loop state)
//   M with extension .train.csv  one row per epoch: epoch, lr, train_loss, val_loss,
//                                val_nmse_db, epoch_s, samples_per_s
//   M with extension .loss.svg   loss curves (gnuplot; skipped with a warning without gnuplot)
#pragma once

#include <armadillo>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include "nn_compress/csi_trainer.hpp"

namespace linksim {

struct TrainJob {
  CsiArch arch = CsiArch::CsiNet;
  std::size_t cr = 4;
  TrainHyper hyper;
  std::size_t patience = 0;  ///< stop after this many epochs without a better validation loss
                             ///< (0: never stop early)
  std::uint64_t seed = 1;    ///< network initialisation and shuffling
  unsigned threads = 0;      ///< LibTorch intra-op threads (0: all cores)
  std::filesystem::path model_file;
  /// When not empty: a model file (same arch and cr) whose weights replace the fresh
  /// initialisation at the start of a new training (fine-tuning, or a longer schedule continuing
  /// a shipped model). A resumed checkpoint takes precedence.
  std::filesystem::path init_model;
  /// When not empty: weights (CsiAutoencoder::state()) that start a new training, taking
  /// precedence over init_model (fine-tuning a model compressed in memory).
  std::vector<NamedArray> init_state;
  /// Kept through training: pruning masks and shared weights (CsiTrainer::set_constraints).
  std::vector<WeightConstraint> constraints;
  /// Pruning raised epoch by epoch during this training (see GradualPruning); the saved (best)
  /// model is chosen among the epochs from gradual->final_epoch() on, which must exist.
  std::optional<GradualPruning> gradual;
  /// When not empty: a model file that teaches (CsiTrainer::set_teacher) with weight
  /// distill_alpha.
  std::filesystem::path teacher_model;
  double distill_alpha = 0.5;
  /// Canonical text of every setting that affects the result: a checkpoint is only resumed
  /// when its fingerprint is the same.
  std::string fingerprint;
  /// JSON object stored under training.recipe in the model file (data settings, split, config).
  std::string recipe_json = "{}";
  bool force = false;          ///< ignore a checkpoint of another configuration, or retrain a
                               ///< finished one, instead of stopping with an error / no-op
  std::size_t stop_after = 0;  ///< return after this many epochs of this call (0: no limit), as
                               ///< if interrupted (tests of resume)
  bool live_progress = false;  ///< a refreshing in-epoch progress line on the log
  bool plot = true;            ///< draw the loss curve with gnuplot
};

/// Normalised samples (normalise_csi) of the three splits, with their per-sample scales.
struct TrainData {
  arma::fmat train, val, test;  ///< [2048 x N] each; test may be empty
  arma::frowvec val_scales, test_scales;
};

enum class TrainStatus {
  Finished,      ///< all epochs run
  EarlyStopped,  ///< patience exhausted
  Interrupted,   ///< stop_after reached; the checkpoint continues it
  AlreadyDone    ///< a finished checkpoint of the same configuration was found; nothing run
};

struct TrainOutcome {
  TrainStatus status = TrainStatus::Finished;
  std::size_t epochs_run = 0;  ///< epochs completed in total (over every call)
  std::size_t best_epoch = 0;  ///< 1-based epoch of the saved (best) model
  /// The best epoch's validation objective: its MSE loss, or its linear NMSE with
  /// TrainLoss::Nmse.
  double best_val_loss = 0;
  /// Raw-scale metrics of the saved model (NMSE dB, rho on CsiNet's 125-of-257 grid); NaN when
  /// not computed (interrupted) or the split is empty.
  double val_nmse_db = 0, val_rho = 0, test_nmse_db = 0, test_rho = 0;
};

std::filesystem::path checkpoint_path(const std::filesystem::path& model_file);
std::filesystem::path training_log_path(const std::filesystem::path& model_file);
std::filesystem::path loss_plot_path(const std::filesystem::path& model_file);

/// Runs (or resumes) the job; progress on `log`. Throws ConfigError when a checkpoint of another
/// configuration is in the way (without force), ModelFileError for a corrupt checkpoint.
TrainOutcome run_training(const TrainJob& job, const TrainData& data, std::ostream& log);

/// Raw-scale NMSE (dB) and mean rho of a model on normalised samples with their scales.
struct RawMetrics {
  double nmse_db = 0, rho = 0;
};
RawMetrics raw_metrics(const CsiAutoencoder& model, const arma::fmat& u,
                       const arma::frowvec& scales);

}  // namespace linksim
