#include "nn_compress/csi_training.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "blocks/cs.hpp"
#include "sim/config.hpp"

namespace linksim {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::filesystem::path with_suffix(const std::filesystem::path& model, const std::string& suffix) {
  std::filesystem::path p = model;
  p.replace_extension();
  return p.string() + suffix;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  std::ostringstream o;
  if (s >= 3600)
    o << s / 3600 << "h " << (s % 3600) / 60 << "m";
  else if (s >= 60)
    o << s / 60 << "m " << s % 60 << "s";
  else
    o << s << "s";
  return o.str();
}

json number_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

/// A gnuplot string literal: single quotes, with ' doubled.
std::string gnuplot_quoted(const std::string& text) {
  std::string q = "'";
  for (char ch : text) q += ch == '\'' ? std::string("''") : std::string(1, ch);
  return q + "'";
}

/// Runs `gnuplot -e script` inside `dir` (fork/exec, no shell). Returns "" or an error.
std::string run_gnuplot(const std::filesystem::path& dir, const std::string& script) {
  const pid_t pid = ::fork();
  if (pid < 0) return "cannot start gnuplot";
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
    }
    if (::chdir(dir.c_str()) == 0) {
      ::execlp("gnuplot", "gnuplot", "-e", script.c_str(), static_cast<char*>(nullptr));
    }
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 127
               ? "gnuplot not found (scripts/setup.sh installs it)"
               : "gnuplot failed";
  }
  return "";
}

/// The loop state kept in the checkpoint.
struct LoopState {
  std::size_t next_epoch = 0;  ///< 0-based epoch to run next
  double best_val_loss = std::numeric_limits<double>::infinity();
  std::size_t best_epoch = 0;  ///< 1-based; 0 = none yet
  std::size_t since_best = 0;
  bool stopped_early = false;
  bool finished = false;
  double train_seconds = 0;  ///< summed over calls: training steps only
  double wall_seconds = 0;   ///< summed over calls: epochs including validation
  json history = json::array();
  json final_record = json::object();

  json to_json(const std::string& fingerprint) const {
    return {{"fingerprint", fingerprint},
            {"next_epoch", next_epoch},
            {"best_val_loss", number_or_null(best_val_loss)},
            {"best_epoch", best_epoch},
            {"since_best", since_best},
            {"stopped_early", stopped_early},
            {"finished", finished},
            {"train_seconds", train_seconds},
            {"wall_seconds", wall_seconds},
            {"history", history},
            {"final_record", final_record}};
  }
  static LoopState from_json(const json& j, const std::string& src) {
    try {
      LoopState s;
      s.next_epoch = j.at("next_epoch").get<std::size_t>();
      s.best_val_loss = j.at("best_val_loss").is_null() ? std::numeric_limits<double>::infinity()
                                                        : j.at("best_val_loss").get<double>();
      s.best_epoch = j.at("best_epoch").get<std::size_t>();
      s.since_best = j.at("since_best").get<std::size_t>();
      s.stopped_early = j.at("stopped_early").get<bool>();
      s.finished = j.at("finished").get<bool>();
      s.train_seconds = j.at("train_seconds").get<double>();
      s.wall_seconds = j.at("wall_seconds").get<double>();
      s.history = j.at("history");
      s.final_record = j.at("final_record");
      return s;
    } catch (const json::exception& e) {
      throw ModelFileError(src + ": checkpoint state incomplete (" + e.what() + ")");
    }
  }
};

void write_log_csv(const std::filesystem::path& file, const json& history) {
  std::ostringstream o;
  o << "epoch,lr,train_loss,val_loss,val_nmse_db,epoch_s,samples_per_s\n";
  for (const auto& h : history) {
    o << h.at("epoch").get<std::size_t>() << ',' << fmt("%.6g", h.at("lr").get<double>()) << ','
      << fmt("%.8g", h.at("train_loss").get<double>()) << ','
      << fmt("%.8g", h.at("val_loss").get<double>()) << ','
      << fmt("%.4f", h.at("val_nmse_db").get<double>()) << ','
      << fmt("%.3f", h.at("epoch_s").get<double>()) << ','
      << fmt("%.1f", h.at("samples_per_s").get<double>()) << '\n';
  }
  write_text_atomically(file, o.str());
}

std::string plot_loss(const std::filesystem::path& model_file, const std::string& title) {
  const auto csv = training_log_path(model_file).filename().string();
  const auto svg = loss_plot_path(model_file).filename().string();
  std::ostringstream gp;
  gp << "set terminal svg size 800,560 dynamic enhanced font 'sans,12'; set output "
     << gnuplot_quoted(svg) << "; set datafile separator ','; set key top right; set grid; "
     << "set logscale y; set xlabel 'epoch'; set ylabel 'MSE loss (normalised input)'; "
     << "set ytics nomirror; set y2tics; set y2label 'validation NMSE (dB)'; set title "
     << gnuplot_quoted(title) << " noenhanced; plot " << gnuplot_quoted(csv)
     << " every ::1 using 1:3 with linespoints lw 2 pt 7 ps 0.4 title 'train loss', '' every ::1 "
        "using 1:4 with linespoints lw 2 pt 7 ps 0.4 title 'validation loss', '' every ::1 using "
        "1:5 axes x1y2 with lines dt 2 lw 1.5 title 'validation NMSE (dB)'";
  std::filesystem::path dir = model_file.parent_path();
  if (dir.empty()) dir = ".";
  return run_gnuplot(dir, gp.str());
}

json hyper_json(const TrainJob& job) {
  const TrainHyper& h = job.hyper;
  return {{"optimizer", "adam"},
          {"adam", {{"beta1", 0.9}, {"beta2", 0.999}, {"eps", 1e-8}}},
          {"loss", h.loss == TrainLoss::Mse
                       ? "mse between u = 0.5 + x / (2 max|x|) and the network output"
                       : "nmse: mean over samples of ||output - u||^2 / ||u - 0.5||^2, u = 0.5 + "
                         "x / (2 max|x|); best epoch by validation nmse"},
          {"lr", h.lr},
          {"schedule", std::string(schedule_name(h.schedule))},
          {"warmup_epochs", h.warmup_epochs},
          {"step_epochs", h.step_epochs},
          {"step_gamma", h.step_gamma},
          {"lr_min", h.lr_min},
          {"batch", h.batch},
          {"epochs", h.epochs},
          {"patience", job.patience},
          {"l1", h.l1},
          {"l2", h.l2}};
}

/// Before epoch `epoch`: each of the gradual pruning's weights masked to the schedule's sparsity
/// (combined with the job's own mask of it, if any), the other constraints as they are.
void set_epoch_constraints(CsiTrainer& trainer, const TrainJob& job, std::size_t epoch) {
  if (!job.gradual) return;
  const GradualPruning& g = *job.gradual;
  const double sparsity = g.schedule.sparsity_at(static_cast<std::int64_t>(epoch));
  std::vector<WeightConstraint> constraints = job.constraints;
  const std::vector<NamedArray> state = trainer.model().state();
  for (const std::string& name : g.names) {
    const auto a = std::find_if(state.begin(), state.end(),
                                [&](const NamedArray& x) { return x.name == name; });
    if (a == state.end()) throw ConfigError("gradual pruning: no weight named '" + name + "'");
    KeepMask keep = magnitude_prune_mask(a->values, sparsity);
    auto c = std::find_if(constraints.begin(), constraints.end(),
                          [&](const WeightConstraint& x) { return x.name == name; });
    if (c == constraints.end()) {
      constraints.push_back({name, {}, {}, 0});
      c = std::prev(constraints.end());
    }
    if (!c->keep.empty()) {
      for (std::size_t i = 0; i < keep.size(); ++i) keep[i] &= c->keep[i];
    }
    c->keep = std::move(keep);
  }
  trainer.set_constraints(constraints);
}

}  // namespace

std::filesystem::path checkpoint_path(const std::filesystem::path& model_file) {
  return with_suffix(model_file, ".ckpt");
}
std::filesystem::path training_log_path(const std::filesystem::path& model_file) {
  return with_suffix(model_file, ".train.csv");
}
std::filesystem::path loss_plot_path(const std::filesystem::path& model_file) {
  return with_suffix(model_file, ".loss.svg");
}

RawMetrics raw_metrics(const CsiAutoencoder& model, const arma::fmat& u,
                       const arma::frowvec& scales) {
  RawMetrics r{kNaN, kNaN};
  if (u.n_cols == 0) return r;
  // Raw-scale samples x = 2 s (u - 0.5), through the deployed encode/decode path.
  arma::mat x = arma::conv_to<arma::mat>::from(u);
  x -= 0.5;
  x.each_row() %= 2.0 * arma::conv_to<arma::rowvec>::from(scales);
  const arma::mat x_hat = model.reconstruct(x);
  double ratio = 0, rho = 0;
  std::size_t n = 0;
  for (arma::uword c = 0; c < x.n_cols; ++c) {
    const double p = arma::accu(arma::square(x.col(c)));
    if (p <= 0) continue;
    ratio += arma::accu(arma::square(x.col(c) - x_hat.col(c))) / p;
    rho += cosine_similarity(unflatten_csi(x.col(c), kCsiRows, kCsiAntennas),
                             unflatten_csi(x_hat.col(c), kCsiRows, kCsiAntennas));
    ++n;
  }
  if (n > 0) {
    r.nmse_db = 10.0 * std::log10(ratio / static_cast<double>(n));
    r.rho = rho / static_cast<double>(n);
  }
  return r;
}

TrainOutcome run_training(const TrainJob& job, const TrainData& data, std::ostream& log) {
  if (data.train.n_cols == 0 || data.val.n_cols == 0) {
    throw ConfigError("training needs at least one training and one validation sample");
  }
  if (job.hyper.epochs == 0) throw ConfigError("training needs at least one epoch");
  set_torch_threads(job.threads);
  const std::filesystem::path ckpt = checkpoint_path(job.model_file);
  CsiTrainer trainer(job.arch, job.cr, job.seed, job.hyper);
  LoopState st;
  std::vector<NamedArray> best;
  std::error_code ec;
  bool resumed = false;
  if (std::filesystem::exists(ckpt, ec)) {
    json peek;
    bool usable = true;
    try {
      peek = json::parse(CsiTrainer::peek_checkpoint(ckpt));
    } catch (const ModelFileError& e) {
      if (!job.force) {
        throw ModelFileError(std::string(e.what()) + "; use --force to start over");
      }
      usable = false;
    }
    const bool same = usable && peek.value("fingerprint", "") == job.fingerprint;
    if (!same && usable && !job.force) {
      throw ConfigError(ckpt.string() +
                        " holds a checkpoint of a different training configuration; use another "
                        "model path, or --force to discard it");
    }
    if (same && !job.force) {
      const std::string state = trainer.load_checkpoint(ckpt, best);
      st = LoopState::from_json(json::parse(state), ckpt.string());
      if (st.finished) {
        log << "already trained: " << ckpt.string() << " is finished (" << st.next_epoch
            << " epochs); --force retrains\n";
        TrainOutcome o;
        o.status = TrainStatus::AlreadyDone;
        o.epochs_run = st.next_epoch;
        o.best_epoch = st.best_epoch;
        o.best_val_loss = st.best_val_loss;
        const json& fr = st.final_record;
        const auto get = [&](const char* split, const char* key) {
          return fr.contains(split) && fr.at(split).value(key, json()).is_number()
                     ? fr.at(split).at(key).get<double>()
                     : kNaN;
        };
        o.val_nmse_db = get("validation", "nmse_db");
        o.val_rho = get("validation", "rho");
        o.test_nmse_db = get("test", "nmse_db");
        o.test_rho = get("test", "rho");
        return o;
      }
      log << "resuming from " << ckpt.string() << " at epoch " << st.next_epoch + 1 << " of "
          << job.hyper.epochs << "\n";
      resumed = true;
    } else if (job.force) {
      log << "--force: starting over (discarding " << ckpt.string() << ")\n";
    }
  }
  if (!resumed && !job.init_state.empty()) {
    trainer.model().load_state(job.init_state, "the weights to fine-tune");
  } else if (!resumed && !job.init_model.empty()) {
    const CsiAutoencoder init = CsiAutoencoder::load(job.init_model);
    if (init.arch() != job.arch || init.cr() != job.cr) {
      throw ConfigError(job.init_model.string() + " is " + std::string(arch_name(init.arch())) +
                        " at CR " + std::to_string(init.cr()) + "; this training is " +
                        std::string(arch_name(job.arch)) + " at CR " + std::to_string(job.cr));
    }
    trainer.model().load_state(init.state(), job.init_model.string());
    log << "starting from the weights of " << job.init_model.string() << "\n";
  }
  trainer.set_constraints(job.constraints);
  if (job.gradual && job.gradual->final_epoch() >= job.hyper.epochs) {
    throw ConfigError("gradual pruning reaches its final sparsity at epoch " +
                      std::to_string(job.gradual->final_epoch() + 1) +
                      "; train at least that many "
                      "epochs (train.epochs = " +
                      std::to_string(job.hyper.epochs) + ")");
  }
  if (!job.teacher_model.empty()) {
    trainer.set_teacher(CsiAutoencoder::load(job.teacher_model), job.distill_alpha);
    log << "distilling from " << job.teacher_model.string() << " (alpha " << job.distill_alpha
        << ")\n";
  }

  const auto record_for = [&](const char* status) {
    json rec = {{"status", status},
                {"recipe", json::parse(job.recipe_json)},
                {"hyper_parameters", hyper_json(job)},
                {"seed", job.seed},
                {"threads", job.threads},
                {"epochs_run", st.next_epoch},
                {"best_epoch", st.best_epoch},
                {"best_val_loss", number_or_null(st.best_val_loss)},
                {"train_samples", data.train.n_cols},
                {"validation_samples", data.val.n_cols},
                {"test_samples", data.test.n_cols},
                {"train_seconds", st.train_seconds},
                {"wall_seconds", st.wall_seconds},
                {"ms_per_sample", st.next_epoch > 0 ? 1e3 * st.train_seconds /
                                                          (static_cast<double>(st.next_epoch) *
                                                           static_cast<double>(data.train.n_cols))
                                                    : 0.0}};
    if (job.gradual) {
      const GradualPruningSchedule& g = job.gradual->schedule;
      rec["gradual_pruning"] = {
          {"weights", job.gradual->names},      {"initial_sparsity", g.initial_sparsity},
          {"final_sparsity", g.final_sparsity}, {"first_epoch", g.begin_step + 1},
          {"pruning_epochs", g.steps},          {"schedule", "Zhu & Gupta 2017, cubic"}};
    }
    if (!job.teacher_model.empty()) {
      rec["distillation"] = {{"teacher", job.teacher_model.string()}, {"alpha", job.distill_alpha}};
    }
    return rec;
  };

  const std::size_t n_train = data.train.n_cols;
  std::size_t run_here = 0;
  double wall_here = 0;
  const bool done_before = st.next_epoch >= job.hyper.epochs || st.stopped_early;
  while (!done_before && st.next_epoch < job.hyper.epochs) {
    const std::size_t epoch = st.next_epoch;
    const auto t0 = Clock::now();
    auto last_draw = t0;
    const auto progress = [&](std::size_t done, std::size_t total) {
      if (!job.live_progress) return;
      const auto now = Clock::now();
      if (now - last_draw < std::chrono::milliseconds(500) && done < total) return;
      last_draw = now;
      const double s = std::chrono::duration<double>(now - t0).count();
      log << "\r  epoch " << epoch + 1 << ": " << done << "/" << total << " samples, "
          << fmt("%.0f", static_cast<double>(done) / std::max(s, 1e-9)) << " samples/s   "
          << std::flush;
    };
    set_epoch_constraints(trainer, job, epoch);
    const double train_loss = trainer.train_epoch(data.train, epoch, progress);
    const auto t1 = Clock::now();
    if (job.live_progress) log << "\r" << std::string(60, ' ') << "\r";
    const Evaluation ev = trainer.evaluate(data.val);
    const auto t2 = Clock::now();
    const double train_s = std::chrono::duration<double>(t1 - t0).count();
    const double epoch_s = std::chrono::duration<double>(t2 - t0).count();
    st.train_seconds += train_s;
    st.wall_seconds += epoch_s;
    wall_here += epoch_s;
    ++run_here;
    st.next_epoch = epoch + 1;
    const double lr_end = learning_rate(job.hyper, static_cast<double>(epoch + 1) - 1e-12);
    const double sps = static_cast<double>(n_train) / std::max(train_s, 1e-9);
    st.history.push_back({{"epoch", epoch + 1},
                          {"lr", lr_end},
                          {"train_loss", train_loss},
                          {"val_loss", ev.loss},
                          {"val_nmse_db", ev.nmse_db},
                          {"epoch_s", epoch_s},
                          {"samples_per_s", sps}});
    // While gradual pruning still raises the sparsity, no epoch is a candidate (nor counts
    // against the patience).
    const bool candidate = !job.gradual || epoch >= job.gradual->final_epoch();
    // The validation objective: the training loss's own measure.
    const double objective = job.hyper.loss == TrainLoss::Nmse ? ev.nmse : ev.loss;
    const bool improved = candidate && objective < st.best_val_loss;
    if (improved) {
      st.best_val_loss = objective;
      st.best_epoch = epoch + 1;
      st.since_best = 0;
      best = trainer.model().state();
    } else if (candidate) {
      ++st.since_best;
    }
    if (job.patience > 0 && st.since_best >= job.patience && st.next_epoch < job.hyper.epochs) {
      st.stopped_early = true;
    }
    const double eta = wall_here / static_cast<double>(run_here) *
                       static_cast<double>(st.stopped_early ? 0 : job.hyper.epochs - st.next_epoch);
    log << "epoch " << epoch + 1 << "/" << job.hyper.epochs << "  lr " << fmt("%.2e", lr_end)
        << "  train " << fmt("%.4e", train_loss) << "  val " << fmt("%.4e", ev.loss)
        << "  val NMSE " << fmt("%.2f", ev.nmse_db) << " dB" << (improved ? " *" : "  ") << "  "
        << fmt("%.0f", sps) << " samples/s  " << fmt("%.1f", epoch_s) << " s  ETA "
        << duration_text(eta) << "\n"
        << std::flush;
    if (improved) {
      trainer.model().set_training_record(record_for("in_progress").dump());
      trainer.model().save(job.model_file);
    }
    trainer.save_checkpoint(ckpt, st.to_json(job.fingerprint).dump(), best);
    write_log_csv(training_log_path(job.model_file), st.history);
    if (job.plot) {
      const std::string err =
          plot_loss(job.model_file, job.model_file.filename().string() + ": training");
      if (!err.empty()) log << "warning: no loss plot: " << err << "\n";
    }
    if (st.stopped_early) {
      log << "early stop: no better validation loss for " << job.patience << " epochs\n";
      break;
    }
    if (job.stop_after > 0 && run_here >= job.stop_after && st.next_epoch < job.hyper.epochs) {
      TrainOutcome o;
      o.status = TrainStatus::Interrupted;
      o.epochs_run = st.next_epoch;
      o.best_epoch = st.best_epoch;
      o.best_val_loss = st.best_val_loss;
      o.val_nmse_db = o.val_rho = o.test_nmse_db = o.test_rho = kNaN;
      log << "stopping after " << run_here << " epoch(s) as asked; run again to continue\n";
      return o;
    }
  }

  // Finalise: the best network, its raw-scale metrics, the model file, a finished checkpoint.
  CsiAutoencoder final_model(job.arch, job.cr, job.seed);
  final_model.load_state(best, ckpt.string());
  const RawMetrics val = raw_metrics(final_model, data.val, data.val_scales);
  const RawMetrics test = raw_metrics(final_model, data.test, data.test_scales);
  st.finished = true;
  json rec = record_for(st.stopped_early ? "early_stopped" : "finished");
  rec["validation"] = {{"nmse_db", number_or_null(val.nmse_db)},
                       {"rho", number_or_null(val.rho)},
                       {"samples", data.val.n_cols}};
  rec["test"] = {{"nmse_db", number_or_null(test.nmse_db)},
                 {"rho", number_or_null(test.rho)},
                 {"samples", data.test.n_cols}};
  rec["rho_grid"] = "125 of 257 zero-padded delay-DFT bins (CsiNet's)";
  st.final_record = rec;
  final_model.set_training_record(rec.dump());
  final_model.save(job.model_file);
  trainer.save_checkpoint(ckpt, st.to_json(job.fingerprint).dump(), best);
  log << "saved " << job.model_file.string() << " (epoch " << st.best_epoch << " of "
      << st.next_epoch << "): validation NMSE " << fmt("%.2f", val.nmse_db) << " dB, rho "
      << fmt("%.3f", val.rho);
  if (data.test.n_cols > 0) {
    log << "; test NMSE " << fmt("%.2f", test.nmse_db) << " dB, rho " << fmt("%.3f", test.rho);
  }
  log << "\n";
  TrainOutcome o;
  o.status = st.stopped_early ? TrainStatus::EarlyStopped : TrainStatus::Finished;
  o.epochs_run = st.next_epoch;
  o.best_epoch = st.best_epoch;
  o.best_val_loss = st.best_val_loss;
  o.val_nmse_db = val.nmse_db;
  o.val_rho = val.rho;
  o.test_nmse_db = test.nmse_db;
  o.test_rho = test.rho;
  return o;
}

}  // namespace linksim
