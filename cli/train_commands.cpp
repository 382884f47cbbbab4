#include "cli/train_commands.hpp"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "blocks/cs.hpp"
#include "channels/cost2100.hpp"
#include "channels/csi_dataset.hpp"
#include "cli/args.hpp"
#include "cli/classifier_commands.hpp"
#include "cli/training_specs.hpp"
#include "nn_compress/backends.hpp"
#include "nn_compress/compress_pipeline.hpp"
#include "nn_compress/csi_training.hpp"
#include "nn_compress/mod_classifier.hpp"
#include "sim/montecarlo.hpp"

namespace po = boost::program_options;

namespace linksim {

const char* git_revision();  // generated at build time (cmake/git_revision.cmake)

namespace {

using nlohmann::json;

constexpr int kBadInput = 2;

using cli::choice;
using cli::spec;

/// Keys that do not change the trained network (left out of the resume fingerprint).
bool outside_fingerprint(const std::string& key) {
  return key == "description" || key == "run.threads" || key == "run.model";
}

/// Keys added after models were trained and checkpointed: left out of the fingerprint unless the
/// scenario sets them, so the checkpoints of older recipes still resume.
bool added_later(const std::string& key) {
  return key == "model.init" || key == "train.loss" || key == "train.l1" || key == "train.l2" ||
         key.rfind("distill.", 0) == 0 || key == "prune.initial_sparsity" ||
         key == "prune.gradual_epochs" || key == "lowrank.rank" || key == "separable.rank";
}

/// The resume fingerprint of a validated scenario: canonical "key=value" lines.
std::string fingerprint_of(const RawConfig& raw, const Scenario& sc) {
  std::set<std::string> set_keys;
  for (const auto& [k, v] : raw.entries) set_keys.insert(k);
  std::string f;
  for (const auto& [k, v] : sc.values) {
    if (outside_fingerprint(k) || (added_later(k) && set_keys.count(k) == 0)) continue;
    f += k + "=" + v.front() + "\n";
  }
  return f;
}

/// Fails with a ConfigError naming distill.teacher when its model file does not load.
void check_teacher(const PointConfig& pc, const std::string& file) {
  const std::string teacher = pc.text("distill.teacher");
  if (teacher.empty()) return;
  try {
    (void)CsiAutoencoder::load(teacher);
  } catch (const ModelFileError& e) {
    throw ConfigError(file + ": key 'distill.teacher': " + e.what());
  }
}

/// The --out and --threads options of train and compress as key overrides, after `sets`.
std::vector<std::string> with_output_options(const cli::Parsed& p,
                                             const std::vector<std::string>& sets) {
  std::vector<std::string> all = sets;
  if (p.vm.count("out")) all.push_back("run.model=" + p.vm["out"].as<std::string>());
  if (p.vm.count("threads")) {
    all.push_back("run.threads=" + std::to_string(p.vm["threads"].as<long long>()));
  }
  return all;
}

/// The optimiser schedule, regularisation, early stopping, distillation and seed of a job from
/// the [train], [distill] and [run] keys.
void set_schedule(const PointConfig& pc, TrainJob& job) {
  job.hyper.lr = pc.real("train.lr");
  job.hyper.loss = *train_loss_named(pc.text("train.loss"));
  job.hyper.schedule = *lr_schedule_named(pc.text("train.schedule"));
  job.hyper.warmup_epochs = pc.real("train.warmup_epochs");
  job.hyper.step_epochs = pc.count("train.step_epochs");
  job.hyper.step_gamma = pc.real("train.step_gamma");
  job.hyper.lr_min = pc.real("train.lr_min");
  job.hyper.batch = pc.count("train.batch");
  job.hyper.epochs = pc.count("train.epochs");
  job.patience = pc.count("train.patience");
  job.hyper.l1 = pc.real("train.l1");
  job.hyper.l2 = pc.real("train.l2");
  job.teacher_model = pc.text("distill.teacher");
  job.distill_alpha = pc.real("distill.alpha");
  job.seed = pc.count("run.seed");
}

struct Split {
  std::size_t train = 0, val = 0, test = 0;
};

/// Flattened raw samples [2048 x n] of slices [first, first + n) of a dataset.
arma::fmat flatten_slices(const CsiDataset& d, std::size_t first, std::size_t n) {
  arma::fmat x(kCsiValues, n);
  for (std::size_t i = 0; i < n; ++i) {
    x.col(i) = arma::conv_to<arma::fvec>::from(flatten_csi(d.h_ad.slice(first + i)));
  }
  return x;
}

void check_shape(const CsiDataset& d, const std::string& file) {
  if (d.h_ad.n_rows != kCsiRows || d.h_ad.n_cols != kCsiAntennas) {
    throw DatasetError(file + ": samples are " + std::to_string(d.h_ad.n_rows) + " x " +
                       std::to_string(d.h_ad.n_cols) +
                       " (delay rows x antennas); the CsiNet-family models take 32 x 32");
  }
}

/// Loads or generates the raw samples of the three splits.
struct RawSplits {
  arma::fmat train, val, test;
  json data_record;
};

RawSplits load_data(const PointConfig& pc, const Split& split, unsigned threads,
                    std::ostream& log) {
  RawSplits r;
  const std::string file = pc.text("data.file");
  const std::string val_file = pc.text("data.val_file");
  const std::string test_file = pc.text("data.test_file");
  json rec;
  if (file.empty()) {
    if (!val_file.empty() || !test_file.empty()) {
      throw ConfigError("data.val_file / data.test_file need data.file (the training file)");
    }
    const std::string channel = pc.text("data.channel");
    const auto scenario = cost2100_scenario_named(channel);
    const std::uint64_t seed = pc.count("data.seed");
    const std::size_t total = split.train + split.val + split.test;
    log << "generating " << total << " " << channel << " drops (seed " << seed << ", " << threads
        << " threads) ...\n"
        << std::flush;
    const CsiDataset d = generate_csi_dataset(*scenario, total, seed, threads, false);
    r.train = flatten_slices(d, 0, split.train);
    r.val = flatten_slices(d, split.train, split.val);
    r.test = flatten_slices(d, split.train + split.val, split.test);
    rec = {{"source", "generated"},
           {"channel", channel},
           {"seed", seed},
           {"split", "drops 0.. train, then validation, then test"}};
    for (const auto& [k, v] : d.attributes) rec["generator"][k] = v;
  } else {
    const CsiDataset d = read_csi_file(file);
    check_shape(d, file);
    std::size_t need =
        split.train + (val_file.empty() ? split.val : 0) + (test_file.empty() ? split.test : 0);
    if (d.h_ad.n_slices < need) {
      throw ConfigError("data.file " + file + " holds " + std::to_string(d.h_ad.n_slices) +
                        " samples; the split (data.train, data.val, data.test) needs " +
                        std::to_string(need));
    }
    r.train = flatten_slices(d, 0, split.train);
    std::size_t next = split.train;
    rec = {{"source", "file"}, {"file", file}, {"file_samples", d.h_ad.n_slices}};
    const auto part = [&](const std::string& other, std::size_t n, const char* key) {
      if (other.empty()) {
        arma::fmat x = flatten_slices(d, next, n);
        next += n;
        return x;
      }
      const CsiDataset o = read_csi_file(other);
      check_shape(o, other);
      if (o.h_ad.n_slices < n) {
        throw ConfigError(std::string("data.") + key + "_file " + other + " holds " +
                          std::to_string(o.h_ad.n_slices) + " samples; data." + key + " needs " +
                          std::to_string(n));
      }
      rec[std::string(key) + "_file"] = other;
      return flatten_slices(o, 0, n);
    };
    r.val = part(val_file, split.val, "val");
    r.test = part(test_file, split.test, "test");
  }
  rec["train_samples"] = split.train;
  rec["validation_samples"] = split.val;
  rec["test_samples"] = split.test;
  r.data_record = rec;
  return r;
}

std::string status_text(TrainStatus s) {
  switch (s) {
    case TrainStatus::Finished:
      return "finished";
    case TrainStatus::EarlyStopped:
      return "stopped early";
    case TrainStatus::Interrupted:
      return "interrupted";
    case TrainStatus::AlreadyDone:
      return "already trained";
  }
  return "?";
}

/// A validated training scenario.
struct TrainConfig {
  PointConfig pc;
  TrainJob job;  ///< every setting from the file (not the command-line-only ones)
  json config;   ///< every key with its canonical value
};

TrainConfig read_train_config(const std::string& file, const std::vector<std::string>& sets) {
  RawConfig raw = read_config_file(file);
  for (const auto& s : sets) apply_override(raw, s);
  const Scenario sc = validate(raw, train_schema());
  std::map<std::string, std::string> values;
  for (const auto& [k, v] : sc.values) values[k] = v.front();
  TrainConfig tc;
  tc.pc = PointConfig(values);
  const PointConfig& pc = tc.pc;
  if (pc.text("run.model").empty()) throw ConfigError(file + ": run.model is empty");
  TrainJob& job = tc.job;
  job.arch = *csi_arch_named(pc.text("model.arch"));
  job.cr = pc.count("model.cr");
  try {
    csi_code_values(job.arch, job.cr);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(file + ": key 'model.cr': " + e.what());
  }
  set_schedule(pc, job);
  job.threads = static_cast<unsigned>(pc.count("run.threads"));
  if (job.threads == 0) job.threads = hardware_threads();
  job.model_file = pc.text("run.model");
  job.init_model = pc.text("model.init");
  if (!job.init_model.empty()) {
    std::optional<CsiAutoencoder> loaded;
    try {
      loaded.emplace(CsiAutoencoder::load(job.init_model));
    } catch (const ModelFileError& e) {
      throw ConfigError(file + ": key 'model.init': " + e.what());
    }
    const CsiAutoencoder& init = *loaded;
    if (init.arch() != job.arch || init.cr() != job.cr) {
      throw ConfigError(file + ": key 'model.init': " + job.init_model.string() + " is " +
                        std::string(arch_name(init.arch())) + " at CR " +
                        std::to_string(init.cr()) + ", not " + pc.text("model.arch") + " at CR " +
                        pc.text("model.cr"));
    }
  }
  check_teacher(pc, file);
  tc.config = json::object();
  for (const auto& [k, v] : values) tc.config[k] = v;
  job.fingerprint = fingerprint_of(raw, sc);
  return tc;
}
}  // namespace

std::vector<ParamSpec> train_schema() {
  std::vector<std::string> archs, channels;
  for (CsiArch a : kCsiArchs) archs.emplace_back(arch_name(a));
  for (Cost2100Scenario s : kCost2100Scenarios) channels.emplace_back(channel_name(s));
  std::vector<ParamSpec> s;
  s.push_back(spec("description", ParamKind::Text, "", "one line shown in the model file"));
  s.push_back(choice("model.arch", archs, "csinet", "network architecture"));
  s.push_back(spec("model.cr", ParamKind::Int, "4",
                   "compression ratio 1/cr: M = 2048 / cr code values (+1 fed-back scale)", 1,
                   2048));
  s.push_back(spec("model.init", ParamKind::Text, "",
                   "start from this model file's weights (same arch and cr) instead of a fresh "
                   "initialisation: fine-tuning, or a longer schedule from a shipped model"));
  s.push_back(spec("data.file", ParamKind::Text, "",
                   "training data: HDF5 from `linksim dataset` or a CsiNet .mat; empty: generate "
                   "data.channel"));
  s.push_back(spec("data.val_file", ParamKind::Text, "",
                   "validation samples from this file (default: data.file after the training "
                   "samples)"));
  s.push_back(spec("data.test_file", ParamKind::Text, "",
                   "test samples from this file (default: data.file after the validation "
                   "samples)"));
  s.push_back(choice("data.channel", channels, "cost2100_indoor",
                     "COST 2100 channel to generate when data.file is empty"));
  s.push_back(spec("data.seed", ParamKind::Int, "2000",
                   "generator master seed (the CSI test scenarios use 1000: keep them apart)"));
  s.push_back(spec("data.train", ParamKind::Int, "20000", "training samples", 1, 1e6));
  s.push_back(spec("data.val", ParamKind::Int, "2000", "validation samples", 1, 1e6));
  s.push_back(spec("data.test", ParamKind::Int, "2000", "test samples (0: none)", 0, 1e6));
  s.push_back(choice("train.optimizer", {"adam"}, "adam", "optimiser (Adam, betas 0.9/0.999)"));
  s.push_back(spec("train.lr", ParamKind::Real, "0.001", "base learning rate", 1e-9, 10));
  s.push_back(choice("train.loss", {"mse", "nmse"}, "mse",
                     "data term: mse (CsiNet's MSE on the normalised values) or nmse (the mean "
                     "per-sample NMSE, the reported metric; the best epoch is then the one of "
                     "lowest validation NMSE)"));
  s.push_back(choice("train.schedule", {"constant", "step", "cosine"}, "constant",
                     "learning-rate schedule: constant, step (x step_gamma every step_epochs) "
                     "or cosine (to lr_min at the last epoch)"));
  s.push_back(spec("train.warmup_epochs", ParamKind::Real, "0",
                   "linear warm-up from 0 over these epochs (any schedule)", 0, 1e5));
  s.push_back(
      spec("train.step_epochs", ParamKind::Int, "30", "step schedule: epochs per decay", 1, 1e6));
  s.push_back(
      spec("train.step_gamma", ParamKind::Real, "0.1", "step schedule: decay factor", 0, 1));
  s.push_back(
      spec("train.lr_min", ParamKind::Real, "0", "cosine schedule: final learning rate", 0, 10));
  s.push_back(spec("train.batch", ParamKind::Int, "200", "samples per step", 1, 100000));
  s.push_back(spec("train.epochs", ParamKind::Int, "100", "epochs (passes over the training set)",
                   1, 100000));
  s.push_back(spec("train.patience", ParamKind::Int, "0",
                   "early stopping: epochs without a better validation loss (0: off)", 0, 100000));
  s.push_back(spec("train.l1", ParamKind::Real, "0",
                   "L1 regularisation: the loss adds l1 * sum |w| over the weights (not biases); "
                   "sparser weights, gentler pruning (seed 004)",
                   0, 1));
  s.push_back(spec("train.l2", ParamKind::Real, "0",
                   "L2 regularisation: the loss adds l2 * sum w^2 over the weights; smaller "
                   "ranges, gentler quantisation (seed 004)",
                   0, 1));
  s.push_back(spec("distill.teacher", ParamKind::Text, "",
                   "knowledge distillation: a trained model (.lsnn / .lsnnc, any architecture "
                   "and CR) whose reconstruction the network also learns to match"));
  s.push_back(spec("distill.alpha", ParamKind::Real, "0.5",
                   "distillation weight: loss = (1 - alpha) MSE(output, input) + alpha "
                   "MSE(output, teacher's output)",
                   0, 1));
  s.push_back(spec("run.seed", ParamKind::Int, "1", "network initialisation and shuffling seed"));
  s.push_back(spec("run.threads", ParamKind::Int, "0", "LibTorch threads (0: all cores)", 0, 1024));
  ParamSpec model = spec("run.model", ParamKind::Text, "",
                         "output model file; the checkpoint, CSV log and loss plot go next to it");
  model.required = true;
  s.push_back(model);
  return s;
}

int cmd_train(const std::vector<std::string>& args) {
  po::options_description opts(
      "usage: linksim train FILE.ini [options]\n\n"
      "Trains a CSI feedback autoencoder (CsiNet, CRNet, CsiNet+, ConvCsiNet, ConvSquCsiNet) from "
      "a\n"
      "training scenario (keys: scenarios/README.md, or scenarios/train_*.ini). Writes the model\n"
      "file (run.model) with its training recipe, and next to it a checkpoint (.ckpt, every\n"
      "epoch), a CSV log (.train.csv) and a loss plot (.loss.svg). Run it again after an\n"
      "interruption: it continues from the checkpoint of the same configuration.\n"
      "Progress on stderr: epoch, learning rate, train and validation loss, validation NMSE,\n"
      "samples/s, ETA.\n"
      "With model.arch = modclass it trains a modulation classifier instead (keys:\n"
      "nn_compress/README.md, or scenarios/train_modclass_*.ini; distill.teacher distils "
      "one).\n\noptions");
  std::vector<std::string> sets;
  opts.add_options()("help,h", "show this help")(
      "set", po::value<std::vector<std::string>>(&sets)->composing(),
      "override a key: --set model.cr=16 (repeatable)")("out,o", po::value<std::string>(),
                                                        "model file (overrides run.model)")(
      "threads,t", po::value<long long>(), "LibTorch threads (overrides run.threads; 0 = all)")(
      "resume",
      "continue from the checkpoint (the default whenever one of the same "
      "configuration exists)")(
      "force", "discard a checkpoint of another configuration, or retrain a finished model")(
      "stop-after", po::value<long long>(),
      "return after this many epochs, as if interrupted (the checkpoint continues it)")(
      "no-plot", "do not call gnuplot")("quiet,q", "no live in-epoch progress line");
  const cli::Parsed p = cli::parse(args, opts, "FILE");
  if (p.help) {
    std::cout << opts << "\n";
    return 0;
  }
  const std::string file = cli::required_positional(p, "FILE", "train");
  const std::vector<std::string> all_sets = with_output_options(p, sets);
  if (is_classifier_scenario(file, all_sets)) return run_classifier_scenario(file, all_sets, false);
  const TrainConfig tc = read_train_config(file, all_sets);
  const PointConfig& pc = tc.pc;
  TrainJob job = tc.job;
  job.force = p.vm.count("force") != 0;
  if (p.vm.count("stop-after")) {
    const long long n = p.vm["stop-after"].as<long long>();
    if (n < 1) throw po::error("--stop-after must be at least 1");
    job.stop_after = static_cast<std::size_t>(n);
  }
  job.plot = p.vm.count("no-plot") == 0;
  job.live_progress = p.vm.count("quiet") == 0 && ::isatty(STDERR_FILENO) != 0;
  const json& config = tc.config;
  const Split split{pc.count("data.train"), pc.count("data.val"), pc.count("data.test")};

  tune_allocator();
  set_torch_threads(job.threads);
  std::error_code ec;
  const auto dir = job.model_file.parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);

  try {
    // A finished checkpoint of the same configuration needs no data at all.
    const auto ckpt = checkpoint_path(job.model_file);
    if (p.vm.count("resume") && !std::filesystem::exists(ckpt, ec)) {
      std::cerr << "nothing to resume (no " << ckpt.string() << "): starting a new training\n";
    }
    if (!job.force && std::filesystem::exists(ckpt, ec)) {
      json st;
      try {
        st = json::parse(CsiTrainer::peek_checkpoint(ckpt));
      } catch (const ModelFileError& e) {
        throw ModelFileError(std::string(e.what()) + "; use --force to start over");
      }
      if (st.value("fingerprint", "") == job.fingerprint && st.value("finished", false) &&
          std::filesystem::exists(job.model_file, ec)) {
        std::cerr << "already trained: " << job.model_file.string() << " (checkpoint "
                  << ckpt.string() << " is finished); --force retrains\n";
        std::cout << job.model_file.string() << "\n";
        return 0;
      }
    }
    std::cerr << "training " << arch_name(job.arch) << " at CR " << job.cr << " ("
              << csi_code_values(job.arch, job.cr) << " code values + 1 scale), "
              << job.hyper.epochs << " epochs, batch " << job.hyper.batch << ", " << job.threads
              << " threads -> " << job.model_file.string() << "\n";
    RawSplits raw_data = load_data(pc, split, job.threads, std::cerr);
    TrainData data;
    arma::frowvec unused;
    data.train = normalise_csi(raw_data.train, unused);
    raw_data.train.reset();
    data.val = normalise_csi(raw_data.val, data.val_scales);
    data.test = normalise_csi(raw_data.test, data.test_scales);
    json recipe = {{"config_file", file},
                   {"description", pc.text("description")},
                   {"config", config},
                   {"data", raw_data.data_record},
                   {"git_revision", git_revision()},
                   {"command", "linksim train " + file}};
    for (const auto& s : sets)
      recipe["command"] = recipe["command"].get<std::string>() + " --set " + s;
    job.recipe_json = recipe.dump();
    const TrainOutcome o = run_training(job, data, std::cerr);
    std::cerr << "training " << status_text(o.status) << ": " << o.epochs_run << " epochs, best "
              << o.best_epoch << "\n";
    std::cout << job.model_file.string() << "\n";
    return 0;
  } catch (const ModelFileError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  }
}

bool is_training_scenario(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a.empty() || a[0] == '-') continue;
    try {
      const RawConfig raw = read_config_file(a);
      for (const auto& [key, value] : raw.entries) {
        if (key.rfind("model.", 0) == 0 || key.rfind("train.", 0) == 0 ||
            key.rfind("compress.", 0) == 0) {
          return true;
        }
      }
    } catch (const std::exception&) {
      return false;
    }
    return false;
  }
  return false;
}

namespace {

/// The keys of a compression scenario: [compress], [prune], [cluster], [quantize], and the
/// training keys ([data], [train], [run]) that drive a finetune step. The architecture and CR
/// come from the input model.
std::vector<ParamSpec> compress_schema() {
  std::vector<ParamSpec> s;
  for (ParamSpec& p : train_schema()) {
    if (p.key.rfind("model.", 0) == 0) continue;
    if (p.key == "run.model") {
      p.doc =
          "output: the compact model file (.lsnnc); a finetune step keeps its checkpoint, "
          "log and best network next to it (.finetune.*)";
    }
    s.push_back(std::move(p));
  }
  ParamSpec input = spec("compress.model", ParamKind::Text, "", "the model to compress (.lsnn)");
  input.required = true;
  s.push_back(input);
  ParamSpec steps =
      spec("compress.steps", ParamKind::Text, "",
           "comma list, in order: prune, cluster, kmeans, finetune, gradual, lowrank, "
           "separable, int8, fp16, uniform (e.g. prune, finetune, int8); none: store as it is "
           "(fp32)");
  steps.required = true;
  s.push_back(steps);
  s.push_back(choice("compress.layers", {"dense", "all_except_first_and_last", "all"}, "dense",
                     "which weights the steps compress (dense: the fully connected layers)"));
  s.push_back(choice("compress.entropy", {"off", "on"}, "off",
                     "Huffman-code the stored sections where that is smaller"));
  s.push_back(choice("prune.method",
                     {"magnitude", "threshold", "rows", "blocks4x1", "blocks16x1", "2:4"},
                     "magnitude", "pruning criterion"));
  s.push_back(spec("prune.sparsity", ParamKind::Real, "0.5",
                   "fraction of each layer's weights pruned (magnitude, rows, blocks)", 0, 0.999));
  s.push_back(spec("prune.threshold", ParamKind::Real, "0.05",
                   "threshold pruning: |w| below it is pruned", 0, 1e6));
  s.push_back(choice("prune.scope", {"per_layer", "global"}, "per_layer",
                     "magnitude pruning: each layer to the sparsity, or one global ranking"));
  s.push_back(spec("prune.initial_sparsity", ParamKind::Real, "0",
                   "gradual step: the sparsity of its first epoch (it rises to prune.sparsity)", 0,
                   0.999));
  s.push_back(spec("prune.gradual_epochs", ParamKind::Int, "5",
                   "gradual step: epochs over which the sparsity rises (cubic schedule of Zhu & "
                   "Gupta); the rest of train.epochs fine-tune at prune.sparsity",
                   1, 100000));
  s.push_back(spec("cluster.clusters", ParamKind::Int, "32", "shared weights per layer", 1, 65536));
  s.push_back(choice("cluster.init", {"kmeans++", "linear", "density"}, "kmeans++",
                     "centroid initialisation of the cluster step"));
  s.push_back(spec("cluster.seed", ParamKind::Int, "1", "k-means++ seed"));
  s.push_back(
      spec("quantize.bits", ParamKind::Int, "8", "bits of the kmeans and uniform steps", 2, 16));
  s.push_back(spec("lowrank.rank", ParamKind::Int, "64",
                   "lowrank step: rank of each dense layer's SVD factors (capped at the layer's "
                   "smaller side)",
                   1, 1e6));
  s.push_back(spec("separable.rank", ParamKind::Int, "0",
                   "separable step: vertical-then-horizontal paths per conv kernel (seed 002's "
                   "w x 1 / 1 x h decomposition); 0: min(in, out) channels per kernel",
                   0, 1e6));
  for (ParamSpec& p : s) {
    if (p.key == "train.epochs") p.default_value = "10";
    if (p.key == "train.lr") p.default_value = "0.0001";
  }
  return s;
}

CompressPlan read_plan(const PointConfig& pc, const std::string& file) {
  CompressPlan plan;
  std::stringstream list(pc.text("compress.steps"));
  std::string item;
  std::string valid;
  for (const CompressStep s :
       {CompressStep::Prune, CompressStep::Cluster, CompressStep::KMeans, CompressStep::Finetune,
        CompressStep::Gradual, CompressStep::LowRank, CompressStep::Separable, CompressStep::Int8,
        CompressStep::Fp16, CompressStep::Uniform}) {
    valid += (valid.empty() ? "" : ", ") + std::string(compress_step_name(s));
  }
  while (std::getline(list, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    const std::string name = item.substr(first, item.find_last_not_of(" \t") - first + 1);
    if (name == "none" && pc.text("compress.steps").find(',') == std::string::npos) break;
    const auto step = compress_step_named(name);
    if (!step) {
      throw ConfigError(file + ": key 'compress.steps': '" + name +
                        "' is not a step; valid: " + valid);
    }
    plan.steps.push_back(*step);
  }
  plan.layers = *compress_layers_named(pc.text("compress.layers"));
  plan.entropy = pc.text("compress.entropy") == "on";
  plan.prune_method = *prune_method_named(pc.text("prune.method"));
  plan.sparsity = pc.real("prune.sparsity");
  plan.threshold = static_cast<float>(pc.real("prune.threshold"));
  plan.prune_global = pc.text("prune.scope") == "global";
  plan.initial_sparsity = pc.real("prune.initial_sparsity");
  plan.gradual_epochs = pc.count("prune.gradual_epochs");
  plan.clustering.clusters = pc.count("cluster.clusters");
  const std::string init = pc.text("cluster.init");
  plan.clustering.init = init == "linear"    ? ClusterInit::Linear
                         : init == "density" ? ClusterInit::Density
                                             : ClusterInit::KMeansPlusPlus;
  plan.clustering.seed = pc.count("cluster.seed");
  plan.bits = static_cast<unsigned>(pc.count("quantize.bits"));
  plan.rank = pc.count("lowrank.rank");
  plan.separable_rank = pc.count("separable.rank");
  return plan;
}

/// `a/b.lsnnc` -> `a/b.finetune.lsnn` for a plan's first fine-tuning step (finetune or
/// gradual), `a/b.finetune<k>.lsnn` for its k-th: each step's model file (its .ckpt etc. follow).
std::filesystem::path finetune_model_path(const std::filesystem::path& out, std::size_t k) {
  std::filesystem::path p = out;
  p.replace_extension(".finetune" + (k > 1 ? std::to_string(k) : std::string()) + ".lsnn");
  return p;
}

/// A validated compression scenario with its input model loaded.
struct CompressConfig {
  PointConfig pc;
  CompressPlan plan;
  json config;  ///< every key with its canonical value
  std::string fingerprint;
  std::filesystem::path out;
  std::string input_path;
  std::optional<CsiAutoencoder> input;
};

CompressConfig read_compress_config(const std::string& file, const std::vector<std::string>& sets) {
  RawConfig raw = read_config_file(file);
  for (const auto& s : sets) apply_override(raw, s);
  const Scenario sc = validate(raw, compress_schema());
  std::map<std::string, std::string> values;
  json config = json::object();
  for (const auto& [k, v] : sc.values) {
    values[k] = v.front();
    config[k] = v.front();
  }
  const std::string fingerprint = fingerprint_of(raw, sc);
  CompressConfig cc;
  cc.pc = PointConfig(values);
  cc.config = config;
  cc.fingerprint = fingerprint;
  cc.plan = read_plan(cc.pc, file);
  try {
    validate_compress_plan(cc.plan);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(file + ": key 'compress.steps': " + e.what());
  }
  check_teacher(cc.pc, file);
  cc.out = cc.pc.text("run.model");
  if (cc.out.empty()) throw ConfigError(file + ": run.model is empty");
  cc.input_path = cc.pc.text("compress.model");
  try {
    cc.input.emplace(CsiAutoencoder::load(cc.input_path));
  } catch (const ModelFileError& e) {
    throw ConfigError(file + ": key 'compress.model': " + e.what());
  }
  return cc;
}

}  // namespace

int cmd_validate_training(const std::vector<std::string>& args) {
  po::options_description opts("usage: linksim validate TRAINING_FILE [--set key=value ...]");
  std::vector<std::string> sets;
  opts.add_options()("help,h", "show this help")(
      "set", po::value<std::vector<std::string>>(&sets)->composing(), "override a key");
  const cli::Parsed p = cli::parse(args, opts, "FILE");
  if (p.help) {
    std::cout << opts << "\n";
    return 0;
  }
  const std::string file = cli::required_positional(p, "FILE", "validate");
  if (is_classifier_scenario(file, sets)) return validate_classifier_scenario(file, sets);
  const RawConfig raw = read_config_file(file);
  if (std::any_of(raw.entries.begin(), raw.entries.end(),
                  [](const auto& e) { return e.first.rfind("compress.", 0) == 0; })) {
    const CompressConfig cc = read_compress_config(file, sets);
    std::cout << file << ": OK, compression scenario: " << cc.pc.text("compress.steps") << " of "
              << cc.input_path << " (" << arch_name(cc.input->arch()) << " at CR " << cc.input->cr()
              << ") -> " << cc.out.string() << "\n";
    return 0;
  }
  const TrainConfig tc = read_train_config(file, sets);
  const PointConfig& pc = tc.pc;
  std::cout << file << ": OK, training scenario: " << arch_name(tc.job.arch) << " at CR "
            << tc.job.cr << ", " << pc.text("data.train") << "/" << pc.text("data.val") << "/"
            << pc.text("data.test") << " train/validation/test samples, " << tc.job.hyper.epochs
            << " epochs -> " << tc.job.model_file.string() << "\n";
  return 0;
}

int cmd_model_info(const std::vector<std::string>& args) {
  po::options_description opts(
      "usage: linksim model-info FILE\n\n"
      "Validates a model file written by `linksim train` and prints, as one JSON object, what it\n"
      "is (architecture, compression ratio, code size, parameters, input normalisation) and how\n"
      "it was made (data, split, seed, hyper-parameters, epochs, validation and test NMSE and\n"
      "rho). Exit code 2 for a missing, truncated, corrupt or mismatched file.\n\noptions");
  opts.add_options()("help,h", "show this help");
  const cli::Parsed p = cli::parse(args, opts, "FILE");
  if (p.help) {
    std::cout << opts << "\n";
    return 0;
  }
  const std::string file = cli::required_positional(p, "FILE", "model-info");
  if (ModClassifier::is_classifier_file(file)) return classifier_model_info(file);
  try {
    const CsiAutoencoder model = CsiAutoencoder::load(file);
    json j = json::parse(model.metadata_json());
    j["file"] = file;
    j["file_bytes"] = std::filesystem::file_size(file);
    if (!model.compression_record().empty()) {  // a compact model: storage per layer
      const CompactModelReport r = compact_model_report(file);
      json layers = json::array();
      for (const LayerStorage& l : r.layers) {
        layers.push_back({{"name", l.name},
                          {"encoding", l.encoding_text},
                          {"values", l.values},
                          {"nonzeros", l.nonzeros},
                          {"bytes", l.bytes}});
      }
      j["storage"] = {{"header_bytes", r.header_bytes},
                      {"metadata_bytes", r.metadata_bytes},
                      {"layers", layers}};
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  } catch (const ModelFileError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  }
}

int cmd_compress(const std::vector<std::string>& args) {
  po::options_description opts(
      "usage: linksim compress FILE.ini [options]\n\n"
      "Compresses a CSI autoencoder (a model from `linksim train`) by the steps of a compression\n"
      "scenario, in order: prune (magnitude / threshold / rows / 4x1 blocks / 2:4), cluster\n"
      "(k-means weight sharing), kmeans (2^bits centroids), finetune (training with the masks\n"
      "and shared weights kept), gradual (fine-tuning while magnitude pruning rises epoch by\n"
      "epoch), lowrank (SVD factors of the dense layers, kept at that rank by a later finetune),\n"
      "separable (conv kernels as kh x 1 then 1 x kw paths, likewise),\n"
      "int8 (dynamic-range, per-row scales), fp16, uniform (k-bit). Fine-tuning can\n"
      "distil from a teacher ([distill]) and regularise ([train] l1, l2).\n"
      "Writes the compact model (run.model, .lsnnc) whose size on disk is the model size;\n"
      "`linksim model-info` shows its storage per layer and how it was made. A finetune step is\n"
      "resumable like `linksim train` (its checkpoint sits next to the output as\n"
      ".finetune.ckpt). Keys: scenarios/README.md, or scenarios/compress/*.ini.\n"
      "With model.arch = modclass, compress.model is a modulation classifier and the one step,\n"
      "distill, trains the smaller [model] student from it "
      "(scenarios/compress/distill_modclass.ini).\n\noptions");
  std::vector<std::string> sets;
  opts.add_options()("help,h", "show this help")(
      "set", po::value<std::vector<std::string>>(&sets)->composing(),
      "override a key: --set prune.sparsity=0.7 (repeatable)")(
      "out,o", po::value<std::string>(), "compact model file (overrides run.model)")(
      "threads,t", po::value<long long>(), "LibTorch threads (overrides run.threads; 0 = all)")(
      "force", "start a fine-tuning over instead of resuming or reusing it")(
      "no-plot", "do not call gnuplot")("quiet,q", "no live in-epoch progress line");
  const cli::Parsed p = cli::parse(args, opts, "FILE");
  if (p.help) {
    std::cout << opts << "\n";
    return 0;
  }
  const std::string file = cli::required_positional(p, "FILE", "compress");
  const std::vector<std::string> all_sets = with_output_options(p, sets);
  if (is_classifier_scenario(file, all_sets)) return run_classifier_scenario(file, all_sets, true);
  const CompressConfig cc = read_compress_config(file, all_sets);
  const PointConfig& pc = cc.pc;
  const CompressPlan& plan = cc.plan;
  const json& config = cc.config;
  const std::string& fingerprint = cc.fingerprint;
  const std::filesystem::path& out = cc.out;
  const std::string& input_path = cc.input_path;
  const std::optional<CsiAutoencoder>& input = cc.input;
  unsigned threads = static_cast<unsigned>(pc.count("run.threads"));
  if (threads == 0) threads = hardware_threads();
  tune_allocator();
  set_torch_threads(threads);
  std::error_code ec;
  if (!out.parent_path().empty()) std::filesystem::create_directories(out.parent_path(), ec);

  std::string command = "linksim compress " + file;
  for (const auto& s : sets) command += " --set " + s;
  std::size_t finetune_step = 0;
  std::optional<TrainData> cached_data;  // loaded once for every fine-tuning step
  json data_record;
  const FineTuneFn finetune = [&](CsiAutoencoder& model,
                                  const std::vector<WeightConstraint>& constraints,
                                  const std::optional<GradualPruning>& gradual) {
    ++finetune_step;
    TrainJob job;
    job.arch = model.arch();
    job.cr = model.cr();
    set_schedule(pc, job);
    job.threads = threads;
    job.model_file = finetune_model_path(out, finetune_step);
    // The constraints follow from the configuration, the input model's file (its checksum is
    // in the model file's header) and the steps before, so the fingerprint covers them.
    job.fingerprint = fingerprint +
                      "input_bytes=" + std::to_string(std::filesystem::file_size(input_path)) +
                      "\n" +
                      (finetune_step > 1 ? "finetune_step=" + std::to_string(finetune_step) + "\n"
                                         : std::string());
    job.init_state = model.state();
    job.constraints = constraints;
    job.gradual = gradual;
    job.force = p.vm.count("force") != 0;
    job.plot = p.vm.count("no-plot") == 0;
    job.live_progress = p.vm.count("quiet") == 0 && ::isatty(STDERR_FILENO) != 0;
    const Split split{pc.count("data.train"), pc.count("data.val"), pc.count("data.test")};
    std::cerr << "fine-tuning " << arch_name(job.arch) << " at CR " << job.cr << " with "
              << constraints.size() << " constrained weights, " << job.hyper.epochs << " epochs -> "
              << job.model_file.string() << "\n";
    // A finished fine-tuning of the same configuration needs no data.
    const auto ckpt = checkpoint_path(job.model_file);
    if (!job.force && std::filesystem::exists(ckpt, ec) &&
        std::filesystem::exists(job.model_file, ec)) {
      const json st = json::parse(CsiTrainer::peek_checkpoint(ckpt));
      if (st.value("fingerprint", "") == job.fingerprint && st.value("finished", false)) {
        std::cerr << "already fine-tuned: " << job.model_file.string() << "\n";
        model = CsiAutoencoder::load(job.model_file);
        return;
      }
    }
    if (!cached_data) {
      RawSplits raw_data = load_data(pc, split, threads, std::cerr);
      TrainData& data = cached_data.emplace();
      arma::frowvec unused;
      data.train = normalise_csi(raw_data.train, unused);
      raw_data.train.reset();
      data.val = normalise_csi(raw_data.val, data.val_scales);
      data.test = normalise_csi(raw_data.test, data.test_scales);
      data_record = raw_data.data_record;
    }
    job.recipe_json = json({{"config_file", file},
                            {"config", config},
                            {"data", data_record},
                            {"git_revision", git_revision()},
                            {"command", command}})
                          .dump();
    run_training(job, *cached_data, std::cerr);
    model = CsiAutoencoder::load(job.model_file);
  };
  const json recipe = {{"input_model", input_path},
                       {"input_bytes", std::filesystem::file_size(input_path)},
                       {"config_file", file},
                       {"config", config},
                       {"git_revision", git_revision()},
                       {"command", command}};
  try {
    const CompressOutcome o = compress_csi_model(*input, plan, finetune, recipe.dump());
    write_compact_model(out, o.compact);
    const auto in_bytes = std::filesystem::file_size(input_path);
    const auto out_bytes = std::filesystem::file_size(out);
    for (const CompressedLayerInfo& l : o.layers) {
      std::cerr << "  " << l.name << ": " << describe(l.encoding) << ", " << l.nonzeros << " of "
                << l.values << " weights nonzero\n";
    }
    const double change =
        100.0 * (static_cast<double>(out_bytes) / static_cast<double>(in_bytes) - 1.0);
    std::cerr << "wrote " << out.string() << ": " << out_bytes << " bytes (" << std::fixed
              << std::setprecision(1) << std::abs(change)
              << (change <= 0 ? "% smaller" : "% larger") << " than " << input_path << ", "
              << in_bytes << " bytes), sparsity " << std::setprecision(3) << o.sparsity
              << " of the compressed weights\n"
              << std::defaultfloat;
  } catch (const std::invalid_argument& e) {
    throw ConfigError(file + ": " + e.what());
  } catch (const ModelFileError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  }
  std::cout << out.string() << "\n";
  return 0;
}

}  // namespace linksim
