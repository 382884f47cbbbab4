// qa_nn_training: training of the CSI autoencoders (nn_compress/csi_trainer.hpp and
// csi_training.hpp) on tiny generated sets: the loss falls over a few steps, the learning-rate
// schedules take their documented values, a run interrupted after one epoch and resumed from its
// checkpoint ends bit-identical to an uninterrupted run (one thread), and a checkpoint of another
// configuration or a corrupt one is refused.
#define BOOST_TEST_MODULE qa_nn_training
#include <boost/test/unit_test.hpp>

#include <sstream>

#include "blocks/cs.hpp"
#include "channels/csi_dataset.hpp"
#include "nn_compress/csi_training.hpp"
#include "qa_common.hpp"

using namespace linksim;

namespace {

/// Normalised indoor samples [2048 x n] and their scales.
arma::fmat indoor_normalised(std::size_t n, std::uint64_t seed, arma::frowvec& scales) {
  const CsiDataset d = generate_csi_dataset(Cost2100Scenario::IndoorHall5GHz, n, seed, 1, false);
  arma::fmat x(kCsiValues, n);
  for (std::size_t i = 0; i < n; ++i) {
    x.col(i) = arma::conv_to<arma::fvec>::from(flatten_csi(d.h_ad.slice(i)));
  }
  return normalise_csi(x, scales);
}

TrainData tiny_data() {
  TrainData d;
  arma::frowvec unused;
  d.train = indoor_normalised(96, 101, unused);
  d.val = indoor_normalised(24, 102, d.val_scales);
  d.test = indoor_normalised(16, 103, d.test_scales);
  return d;
}

TrainJob tiny_job(const std::filesystem::path& model) {
  TrainJob job;
  job.arch = CsiArch::CsiNet;
  job.cr = 64;
  job.hyper.batch = 32;
  job.hyper.epochs = 2;
  job.hyper.schedule = LrSchedule::Cosine;
  job.hyper.warmup_epochs = 0.5;
  job.seed = 9;
  job.threads = 1;
  job.model_file = model;
  job.fingerprint = "tiny\n";
  job.plot = false;
  return job;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_few_training_steps_reduce_the_loss) {
  set_torch_threads(1);
  arma::frowvec scales;
  const arma::fmat u = indoor_normalised(64, 1, scales);
  TrainHyper h;
  h.batch = 16;
  CsiTrainer trainer(CsiArch::CsiNet, 4, 3, h);
  const Evaluation before = trainer.evaluate(u);
  double first = 0, last = 0;
  for (std::size_t e = 0; e < 30; ++e) {
    const double loss = trainer.train_epoch(u, e);
    if (e == 0) first = loss;
    last = loss;
  }
  const Evaluation after = trainer.evaluate(u);
  BOOST_TEST(trainer.steps() == 30U * 4U);
  // The network starts at u_hat = 0.5 (the mean), so the first epoch's loss is the data power;
  // 120 steps take it down by more than 3 dB.
  BOOST_TEST(last < 0.5 * first, "train loss " << first << " -> " << last);
  BOOST_TEST(after.loss < before.loss, "eval loss " << before.loss << " -> " << after.loss);
  BOOST_TEST(after.nmse_db < before.nmse_db - 1.0);
  // The evaluation NMSE is the raw-scale NMSE (the per-sample scale cancels).
  const RawMetrics raw = raw_metrics(trainer.model(), u, scales);
  BOOST_TEST(std::abs(raw.nmse_db - after.nmse_db) < 1e-3);
  BOOST_TEST(raw.rho > 0.0);
  BOOST_TEST(raw.rho <= 1.0);
}

BOOST_AUTO_TEST_CASE(the_nmse_loss_trains_on_the_reported_metric) {
  set_torch_threads(1);
  arma::frowvec scales;
  const arma::fmat u = indoor_normalised(64, 1, scales);
  TrainHyper h;
  h.batch = 16;
  h.loss = TrainLoss::Nmse;
  BOOST_TEST(std::string(loss_name(TrainLoss::Nmse)) == "nmse");
  BOOST_TEST((train_loss_named("nmse") == TrainLoss::Nmse));
  BOOST_TEST(!train_loss_named("mae").has_value());
  CsiTrainer trainer(CsiArch::CsiNet, 4, 3, h);
  const Evaluation before = trainer.evaluate(u);
  for (std::size_t e = 0; e < 30; ++e) trainer.train_epoch(u, e);
  const Evaluation after = trainer.evaluate(u);
  BOOST_TEST(after.nmse_db < before.nmse_db - 1.0);
  BOOST_TEST(std::abs(10.0 * std::log10(after.nmse) - after.nmse_db) < 1e-9);
  // The same run on the MSE ends elsewhere: the loss weighs the samples differently.
  h.loss = TrainLoss::Mse;
  CsiTrainer mse(CsiArch::CsiNet, 4, 3, h);
  for (std::size_t e = 0; e < 30; ++e) mse.train_epoch(u, e);
  BOOST_TEST(std::abs(mse.evaluate(u).nmse_db - after.nmse_db) > 1e-4);
}

BOOST_AUTO_TEST_CASE(learning_rate_schedules) {
  TrainHyper h;
  h.lr = 1e-3;
  h.epochs = 10;
  BOOST_TEST(learning_rate(h, 0.0) == 1e-3);
  BOOST_TEST(learning_rate(h, 9.9) == 1e-3);
  h.schedule = LrSchedule::Step;
  h.step_epochs = 3;
  h.step_gamma = 0.5;
  BOOST_TEST(learning_rate(h, 2.9) == 1e-3);
  BOOST_TEST(learning_rate(h, 3.0) == 0.5e-3);
  BOOST_TEST(learning_rate(h, 6.5) == 0.25e-3);
  h.schedule = LrSchedule::Cosine;
  h.warmup_epochs = 2;
  h.lr_min = 1e-5;
  BOOST_TEST(learning_rate(h, 0.0) == 0.0);
  BOOST_TEST(std::abs(learning_rate(h, 1.0) - 0.5e-3) < 1e-15);
  BOOST_TEST(std::abs(learning_rate(h, 2.0) - 1e-3) < 1e-15);
  BOOST_TEST(std::abs(learning_rate(h, 6.0) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-15);
  BOOST_TEST(std::abs(learning_rate(h, 10.0) - 1e-5) < 1e-15);
  BOOST_TEST((lr_schedule_named("cosine") == LrSchedule::Cosine));
  BOOST_TEST(!lr_schedule_named("exponential").has_value());
}

BOOST_AUTO_TEST_CASE(resume_from_a_checkpoint_matches_an_uninterrupted_run) {
  const TrainData data = tiny_data();
  qa::TempDir dir("nn_training");
  std::ostringstream log;
  // Uninterrupted: 2 epochs.
  const TrainOutcome full = run_training(tiny_job(dir / "full.lsnn"), data, log);
  BOOST_TEST((full.status == TrainStatus::Finished));
  BOOST_TEST(full.epochs_run == 2U);
  // Interrupted after epoch 1, then resumed by a second call with the same job.
  TrainJob job = tiny_job(dir / "split.lsnn");
  job.stop_after = 1;
  const TrainOutcome first = run_training(job, data, log);
  BOOST_TEST((first.status == TrainStatus::Interrupted));
  BOOST_TEST(first.epochs_run == 1U);
  BOOST_TEST(std::filesystem::exists(checkpoint_path(dir / "split.lsnn")));
  job.stop_after = 0;
  std::ostringstream resumed_log;
  const TrainOutcome second = run_training(job, data, resumed_log);
  BOOST_TEST(resumed_log.str().find("resuming") != std::string::npos);
  BOOST_TEST((second.status == TrainStatus::Finished));
  BOOST_TEST(second.epochs_run == 2U);
  BOOST_TEST(second.best_epoch == full.best_epoch);
  BOOST_TEST(second.val_nmse_db == full.val_nmse_db);
  BOOST_TEST(second.test_nmse_db == full.test_nmse_db);
  // Bit-identical parameters and BatchNorm statistics.
  const auto a = CsiAutoencoder::load(dir / "full.lsnn").state();
  const auto b = CsiAutoencoder::load(dir / "split.lsnn").state();
  BOOST_REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(a[i].name == b[i].name);
    BOOST_TEST((a[i].values == b[i].values), a[i].name);
  }
  // The model file records the recipe and the metrics; the log and the CSV are written.
  const std::string rec = CsiAutoencoder::load(dir / "split.lsnn").training_record();
  BOOST_TEST(rec.find("\"status\": \"finished\"") != std::string::npos);
  BOOST_TEST(rec.find("\"epochs_run\": 2") != std::string::npos);
  const std::string csv = qa::read_text(training_log_path(dir / "split.lsnn"));
  BOOST_TEST(csv.rfind("epoch,lr,train_loss,val_loss,val_nmse_db", 0) == 0U);
  BOOST_TEST(std::count(csv.begin(), csv.end(), '\n') == 3);
  // A third call finds the finished checkpoint and does nothing.
  BOOST_TEST((run_training(job, data, log).status == TrainStatus::AlreadyDone));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_of_another_configuration_or_a_corrupt_one_is_refused) {
  TrainData data = tiny_data();
  data.train = data.train.cols(0, 31);
  qa::TempDir dir("nn_training_refuse");
  std::ostringstream log;
  TrainJob job = tiny_job(dir / "m.lsnn");
  job.hyper.epochs = 1;
  run_training(job, data, log);
  TrainJob other = job;
  other.fingerprint = "something else\n";
  BOOST_CHECK_THROW(run_training(other, data, log), ConfigError);
  other.force = true;
  BOOST_TEST((run_training(other, data, log).status == TrainStatus::Finished));
  // Corrupt checkpoint: refused without --force.
  const auto ckpt = checkpoint_path(job.model_file);
  std::string bytes = qa::read_text(ckpt);
  bytes[bytes.size() / 2] ^= 1;
  qa::write_text(ckpt, bytes);
  TrainJob again = other;
  again.force = false;
  BOOST_CHECK_THROW(run_training(again, data, log), ModelFileError);
}

namespace {

/// Raw-scale samples of normalised ones: x = (u - 0.5) 2 s per column.
arma::mat raw_of(const arma::fmat& u, const arma::frowvec& scales) {
  arma::mat x = arma::conv_to<arma::mat>::from(u) - 0.5;
  x.each_row() %= 2.0 * arma::conv_to<arma::rowvec>::from(scales);
  return x;
}

/// Sum over the weights (rank >= 2) of f(w).
template <class F>
double weight_sum(const CsiAutoencoder& m, F&& f) {
  double s = 0;
  for (const NamedArray& a : m.state()) {
    if (a.shape.size() < 2) continue;
    for (const float v : a.values) s += f(static_cast<double>(v));
  }
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(gradual_pruning_reaches_the_final_sparsity_and_saves_a_final_epoch) {
  const TrainData data = tiny_data();
  qa::TempDir dir("nn_training_gradual");
  std::ostringstream log;
  TrainJob job = tiny_job(dir / "g.lsnn");
  job.hyper.epochs = 4;
  GradualPruning g;
  for (const NamedArray& a : CsiAutoencoder(job.arch, job.cr, 1).state()) {
    if (a.shape.size() == 2) g.names.push_back(a.name);  // the fully connected weights
  }
  BOOST_REQUIRE(g.names.size() == 2U);
  g.schedule.initial_sparsity = 0.2;
  g.schedule.final_sparsity = 0.6;
  g.schedule.frequency = 1;
  g.schedule.steps = 2;  // epochs 1, 2 and 3 at 0.2, 0.55, 0.6; epoch 4 at 0.6
  job.gradual = g;
  const TrainOutcome o = run_training(job, data, log);
  BOOST_TEST((o.status == TrainStatus::Finished));
  BOOST_TEST(o.best_epoch >= 3U, "saved epoch " << o.best_epoch << " precedes the final sparsity");
  const CsiAutoencoder m = CsiAutoencoder::load(job.model_file);
  for (const NamedArray& a : m.state()) {
    if (std::find(g.names.begin(), g.names.end(), a.name) == g.names.end()) continue;
    const auto zeros = static_cast<std::size_t>(std::count(a.values.begin(), a.values.end(), 0.0F));
    // magnitude_prune_mask's exact count for this size.
    std::vector<float> ramp(a.values.size());
    for (std::size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i + 1);
    const KeepMask expected = magnitude_prune_mask(ramp, 0.6);
    const auto expected_zeros =
        static_cast<std::size_t>(std::count(expected.begin(), expected.end(), 0));
    BOOST_TEST(zeros == expected_zeros, a.name);
  }
  BOOST_TEST(m.training_record().find("\"gradual_pruning\"") != std::string::npos);
  // Too few epochs to reach the final sparsity: refused before training.
  TrainJob short_job = job;
  short_job.model_file = dir / "short.lsnn";
  short_job.hyper.epochs = 2;
  BOOST_CHECK_THROW(run_training(short_job, data, log), ConfigError);
}

BOOST_AUTO_TEST_CASE(distillation_pulls_the_student_towards_the_teacher) {
  set_torch_threads(1);
  arma::frowvec scales;
  const arma::fmat u = indoor_normalised(64, 11, scales);
  const arma::mat x = raw_of(u, scales);
  // A teacher that is not the identity: an untrained network of another seed and CR.
  const CsiAutoencoder teacher(CsiArch::CsiNet, 16, 77);
  const arma::mat t = teacher.reconstruct(x);
  TrainHyper h;
  h.batch = 16;
  h.lr = 2e-3;
  const auto distance_to_teacher = [&](double alpha) {
    CsiTrainer s(CsiArch::CsiNet, 64, 3, h);
    if (alpha > 0) s.set_teacher(CsiAutoencoder::with_state(teacher, teacher.state()), alpha);
    for (std::size_t e = 0; e < 15; ++e) s.train_epoch(u, e);
    return arma::accu(arma::square(s.model().reconstruct(x) - t));
  };
  const double plain = distance_to_teacher(0.0), taught = distance_to_teacher(1.0);
  BOOST_TEST(taught < 0.5 * plain, "distance to the teacher " << plain << " -> " << taught);
  CsiTrainer s(CsiArch::CsiNet, 64, 3, h);
  BOOST_CHECK_THROW(s.set_teacher(CsiAutoencoder(CsiArch::CsiNet, 64, 1), 1.5),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(l1_and_l2_regularisation_shrink_the_weights) {
  set_torch_threads(1);
  arma::frowvec scales;
  const arma::fmat u = indoor_normalised(64, 12, scales);
  const auto trained = [&](double l1, double l2) {
    TrainHyper h;
    h.batch = 16;
    h.l1 = l1;
    h.l2 = l2;
    CsiTrainer s(CsiArch::CsiNet, 64, 3, h);
    for (std::size_t e = 0; e < 5; ++e) s.train_epoch(u, e);
    return CsiAutoencoder::with_state(s.model(), s.model().state());
  };
  const CsiAutoencoder plain = trained(0, 0), with_l1 = trained(1e-5, 0),
                       with_l2 = trained(0, 1e-4);
  const auto abs_sum = [](double v) { return std::abs(v); };
  const auto square_sum = [](double v) { return v * v; };
  BOOST_TEST(weight_sum(with_l1, abs_sum) < 0.9 * weight_sum(plain, abs_sum));
  BOOST_TEST(weight_sum(with_l2, square_sum) < 0.9 * weight_sum(plain, square_sum));
}
