// qa_classifier: the modulation classifier and its knowledge distillation
// (nn_compress/mod_classifier.hpp). The data follow the model of the header (constellation
// points, carrier phase, noise at the drawn Es/N0, balanced labels); the parameter count follows
// the closed form; a short training separates BPSK / QPSK / 16-QAM at high SNR; a student
// distilled with alpha = 1 and scrambled labels still learns the teacher's decisions (so the
// teacher's soft targets, not the labels, taught it); save -> load gives the same logits and a
// corrupted file is rejected.
#define BOOST_TEST_MODULE qa_classifier
#include <boost/test/unit_test.hpp>

#include <armadillo>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nn_compress/mod_classifier.hpp"
#include "nn_compress/model_file.hpp"

using namespace linksim;

namespace {

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("qa_classifier_" + name);
}

/// A spec at high SNR, no carrier phase: the classes are easy to tell apart.
ModDataSpec easy_spec() {
  ModDataSpec s;
  s.symbols = 64;
  s.snr_min_db = 20;
  s.snr_max_db = 25;
  s.random_phase = false;
  return s;
}

ClassifierShape small_shape(std::size_t symbols) {
  ClassifierShape s;
  s.symbols = symbols;
  s.widths = {16, 16};
  s.head = 16;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(samples_follow_the_data_model) {
  ModDataSpec spec;
  spec.symbols = 256;
  spec.snr_min_db = 10;
  spec.snr_max_db = 10;
  spec.random_phase = true;
  const ModSamples s = make_mod_samples(spec, 5, 300, 42);
  BOOST_TEST(s.x.n_rows == 512U);
  BOOST_TEST(s.x.n_cols == 300U);
  for (std::size_t c = 0; c < 300; ++c) {
    BOOST_TEST(s.labels(c) == (5 + c) % 3);  // balanced, by global index
    BOOST_TEST(s.esn0_db(c) == 10.0);
  }
  // Mean symbol power Es + N0 = 1.1 at 10 dB: over 300 x 256 symbols, within 1%.
  const double power =
      arma::accu(arma::square(arma::conv_to<arma::mat>::from(s.x))) / (300.0 * 256.0);
  BOOST_TEST(std::abs(power - 1.1) < 0.011);
  // A sample does not depend on the split it is drawn in.
  const ModSamples one = make_mod_samples(spec, 7, 1, 42);
  BOOST_TEST(arma::approx_equal(one.x.col(0), s.x.col(2), "absdiff", 0.0F));
  // Without noise or phase, every symbol is a constellation point of its class.
  ModDataSpec clean = easy_spec();
  clean.snr_min_db = clean.snr_max_db = 300;
  const ModSamples c = make_mod_samples(clean, 0, 3, 1);
  for (std::size_t k = 0; k < 64; ++k) {
    const std::complex<double> b(c.x(2 * k, 0), c.x(2 * k + 1, 0));
    const std::complex<double> q(c.x(2 * k, 1), c.x(2 * k + 1, 1));
    const std::complex<double> m(c.x(2 * k, 2), c.x(2 * k + 1, 2));
    BOOST_TEST(std::abs(std::abs(b.real()) - 1.0) < 1e-6);
    BOOST_TEST(std::abs(b.imag()) < 1e-6);
    BOOST_TEST(std::abs(std::abs(q.real()) - std::sqrt(0.5)) < 1e-6);
    BOOST_TEST(std::abs(std::abs(q.imag()) - std::sqrt(0.5)) < 1e-6);
    const double level = std::abs(m.real()) * std::sqrt(10.0);  // 1 or 3
    BOOST_TEST((std::abs(level - 1.0) < 1e-5 || std::abs(level - 3.0) < 1e-5));
  }
  spec.snr_min_db = 11;
  BOOST_CHECK_THROW(make_mod_samples(spec, 0, 1, 1), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(parameter_count_matches_the_closed_form) {
  ClassifierShape s = small_shape(64);
  s.widths = {8, 4};
  s.head = 5;
  // (2 + 1) 8 + (8 + 1) 4 + (4 + 1) 5 + (5 + 1) 3 = 24 + 36 + 25 + 18
  BOOST_TEST(classifier_parameter_count(s) == 103U);
  BOOST_TEST(ModClassifier(s, 1).parameter_count() == 103U);
  s.widths = {};
  BOOST_CHECK_THROW(ModClassifier(s, 1), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(training_separates_the_modulations_and_round_trips) {
  const ModDataSpec spec = easy_spec();
  const ModSamples train = make_mod_samples(spec, 0, 3000, 7);
  const ModSamples val = make_mod_samples(spec, 3000, 600, 7);
  ModClassifier model(small_shape(64), 3);
  const double before = classification_accuracy(model.logits(val.x), val.labels);
  ClassifierHyper h;
  h.epochs = 6;
  h.batch = 100;
  h.lr = 3e-3;
  std::ostringstream log;
  const auto epochs = train_classifier(model, train, val, h, nullptr, log);
  BOOST_TEST(epochs.size() == 6U);
  const double after = classification_accuracy(model.logits(val.x), val.labels);
  BOOST_TEST_MESSAGE("accuracy " << before << " -> " << after);
  BOOST_TEST(after > 0.95);  // chance: 1/3
  BOOST_TEST(epochs.back().train_loss < epochs.front().train_loss);

  const auto file = temp_file("model.lsnn");
  model.save(file);
  const ModClassifier loaded = ModClassifier::load(file);
  BOOST_TEST(ModClassifier::is_classifier_file(file));
  BOOST_TEST(arma::approx_equal(loaded.logits(val.x), model.logits(val.x), "absdiff", 0.0));
  // One flipped payload byte: the checksum rejects the file.
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-5, std::ios::end);
    char b = 0;
    f.get(b);
    f.seekp(-5, std::ios::end);
    f.put(static_cast<char>(b ^ 0x10));
  }
  BOOST_CHECK_THROW(ModClassifier::load(file), ModelFileError);
  BOOST_TEST(!ModClassifier::is_classifier_file(file));
  std::filesystem::remove(file);
}

BOOST_AUTO_TEST_CASE(distillation_transfers_the_teachers_decisions) {
  const ModDataSpec spec = easy_spec();
  const ModSamples train = make_mod_samples(spec, 0, 3000, 11);
  const ModSamples val = make_mod_samples(spec, 3000, 600, 11);
  ClassifierShape big = small_shape(64);
  big.widths = {32, 32};
  big.head = 32;
  ModClassifier teacher(big, 5);
  ClassifierHyper h;
  h.epochs = 6;
  h.batch = 100;
  h.lr = 3e-3;
  std::ostringstream log;
  train_classifier(teacher, train, val, h, nullptr, log);
  const arma::mat t_val = teacher.logits(val.x);
  BOOST_TEST(classification_accuracy(t_val, val.labels) > 0.95);

  // Labels scrambled (shifted by one class): with alpha = 1 only the teacher teaches, and the
  // student still learns the true classes; with alpha = 0 it learns the wrong ones.
  const auto shift = [](arma::uvec labels) {
    labels.transform([](arma::uword l) { return (l + 1) % 3; });
    return labels;
  };
  ModSamples wrong = train;
  wrong.labels = shift(train.labels);
  h.alpha = 1.0;
  h.temperature = 2.0;
  h.epochs = 15;
  ModClassifier student(small_shape(64), 9);
  train_classifier(student, wrong, val, h, &teacher, log);
  const arma::mat s_val = student.logits(val.x);
  BOOST_TEST_MESSAGE("distilled on scrambled labels: agreement "
                     << prediction_agreement(s_val, t_val) << ", accuracy "
                     << classification_accuracy(s_val, val.labels));
  BOOST_TEST(prediction_agreement(s_val, t_val) > 0.95);
  BOOST_TEST(classification_accuracy(s_val, val.labels) > 0.9);

  h.alpha = 0.0;
  ModSamples wrong_val = val;
  wrong_val.labels = shift(val.labels);
  ModClassifier fooled(small_shape(64), 9);
  train_classifier(fooled, wrong, wrong_val, h, &teacher, log);
  BOOST_TEST(classification_accuracy(fooled.logits(val.x), val.labels) < 0.1);
}
