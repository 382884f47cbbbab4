// Automatic modulation recognition (seed 003) with a small NN classifier, and its knowledge
// distillation (teacher -> student with a temperature and a weight alpha, seeds 003 / 004).
// LibTorch stays behind a pimpl: this header does not include torch.
//
// Data. One sample is L received symbols of one modulation (BPSK, QPSK or 16-QAM: our Gray
// constellations, unit average energy), r_k = e^{j phi} s_k + n_k with the s_k i.i.d. uniform over
// the constellation, a carrier phase phi uniform in [0, 2 pi) per sample (a receiver that is not
// phase-locked; or phi = 0) and n_k ~ CN(0, N0), N0 = 10^(-Es/N0 dB / 10), the Es/N0 of each
// sample uniform in [snr_min_db, snr_max_db]. Flattened, one sample per column:
//   x [2L x N], x(2k, n) = Re r_k, x(2k + 1, n) = Im r_k.
// Labels are balanced: sample i (its global index) has class i mod C.
//
// Network ("modclass", a Deep Sets classifier: the symbols are i.i.d., so the order carries no
// information). The same small MLP maps every symbol's (Re, Im) through dense layers of widths
// w_1 .. w_n with ReLU; the features are averaged over the L symbols; a head (one ReLU layer of
// width h, then a linear layer) gives the C class logits.
#pragma once

#include <armadillo>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/constellation.hpp"

namespace linksim {

/// The samples' distribution (see the file comment).
struct ModDataSpec {
  std::vector<Modulation> classes = {Modulation::Bpsk, Modulation::Qpsk, Modulation::Qam16};
  std::size_t symbols = 128;  ///< L, symbols per sample
  double snr_min_db = 0;      ///< Es/N0 range (dB), uniform per sample
  double snr_max_db = 20;
  bool random_phase = true;  ///< phi uniform in [0, 2 pi); false: phi = 0
};

struct ModSamples {
  arma::fmat x;       ///< [2L x N] received symbols (see the file comment)
  arma::uvec labels;  ///< [N] class index into ModDataSpec::classes
  arma::vec esn0_db;  ///< [N] Es/N0 of each sample (dB)
};

/// Samples [first, first + n) of the data set of `seed`: sample i draws from its own stream
/// (derive_seed(seed, 0, i)), so a sample does not depend on the split it lands in. Throws
/// std::invalid_argument for no classes, L = 0 or snr_min_db > snr_max_db.
ModSamples make_mod_samples(const ModDataSpec& spec, std::size_t first, std::size_t n,
                            std::uint64_t seed);

/// Modulation names as in scenario files ("bpsk", "qpsk", "qam16").
std::optional<Modulation> modulation_named(std::string_view name);

struct ClassifierShape {
  std::vector<Modulation> classes = {Modulation::Bpsk, Modulation::Qpsk, Modulation::Qam16};
  std::size_t symbols = 128;                   ///< L the network was trained on (any L runs)
  std::vector<std::size_t> widths = {64, 64};  ///< per-symbol layers w_1 .. w_n (n >= 1)
  std::size_t head = 64;                       ///< h
};

/// Parameters of a shape: sum of the layers' weights and biases,
/// (2 + 1) w_1 + sum_k (w_k + 1) w_{k+1} + (w_n + 1) h + (h + 1) C.
std::size_t classifier_parameter_count(const ClassifierShape& shape);

class ModClassifier {
 public:
  /// A fresh network (Glorot-uniform weights, zero biases), reproducible for `seed`. Throws
  /// std::invalid_argument for fewer than 2 classes, no layers or a zero width.
  ModClassifier(const ClassifierShape& shape, std::uint64_t seed);
  ModClassifier(ModClassifier&&) noexcept;
  ModClassifier& operator=(ModClassifier&&) noexcept;
  ~ModClassifier();

  const ClassifierShape& shape() const;
  std::size_t parameter_count() const;
  /// Class logits [C x N] of samples x [2L x N] (any L >= 1; evaluation, no gradients). Throws
  /// std::invalid_argument for an odd row count or a non-finite value.
  arma::mat logits(const arma::fmat& x) const;

  /// A JSON object describing how the model was made (stored under "training").
  void set_training_record(const std::string& json_object);
  /// The metadata written into model files: task, architecture, classes, shape, parameters and
  /// the training record.
  std::string metadata_json() const;
  /// Writes the model file (nn_compress/model_file.hpp, kind model) atomically.
  void save(const std::filesystem::path& file) const;
  /// Reads a classifier model file; ModelFileError for anything unusable.
  static ModClassifier load(const std::filesystem::path& file);
  /// True when `file` is a readable model file whose metadata names this task (no throw).
  static bool is_classifier_file(const std::filesystem::path& file);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  explicit ModClassifier(std::unique_ptr<Impl> impl);
  friend Impl& impl_of(ModClassifier& model);
};

/// Share of columns whose largest logit is at the label. logits [C x N], labels [N].
double classification_accuracy(const arma::mat& logits, const arma::uvec& labels);
/// Share of columns where two logit matrices pick the same class.
double prediction_agreement(const arma::mat& a, const arma::mat& b);

struct ClassifierHyper {
  double lr = 1e-3;  ///< Adam (betas 0.9, 0.999); cosine decay to lr / 20 at the end
  std::size_t epochs = 10;
  std::size_t batch = 256;
  std::uint64_t seed = 1;  ///< shuffling
  /// Knowledge distillation (nn_compress/distillation.hpp, Hinton et al.): with a teacher the
  /// loss is alpha T^2 KL(teacher_T || student_T) + (1 - alpha) CE(student, label).
  double temperature = 4;
  double alpha = 0.5;
};

struct ClassifierEpoch {
  double train_loss = 0;     ///< mean loss of the epoch (distillation loss with a teacher)
  double val_accuracy = 0;   ///< on the validation samples
  double val_agreement = 0;  ///< with the teacher's predictions (NaN without a teacher)
  double seconds = 0;
};

/// Trains `student` on `train` (Adam, mini-batches in an order fixed by (seed, epoch)), keeping
/// the weights of the epoch of best validation accuracy; one line per epoch on `log`. With a
/// teacher the student distils it (teacher in evaluation mode). Returns the epochs' records.
/// Throws std::invalid_argument when the samples do not match the student's classes or L.
std::vector<ClassifierEpoch> train_classifier(ModClassifier& student, const ModSamples& train,
                                              const ModSamples& val, const ClassifierHyper& hyper,
                                              const ModClassifier* teacher, std::ostream& log);

}  // namespace linksim
