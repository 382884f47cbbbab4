#include "cli/classifier_commands.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/training_specs.hpp"
#include "nn_compress/backends.hpp"
#include "nn_compress/csi_autoencoder.hpp"
#include "nn_compress/mod_classifier.hpp"
#include "nn_compress/model_file.hpp"
#include "sim/montecarlo.hpp"

namespace linksim {

const char* git_revision();  // generated at build time (cmake/git_revision.cmake)

namespace {

using cli::choice;
using cli::spec;
using nlohmann::json;

constexpr int kBadInput = 2;
constexpr double kSnrBinDb = 5;    ///< width of the accuracy-by-SNR bins in the model record
constexpr double kMaxDataGiB = 8;  ///< the most memory the generated samples may take

/// A comma-separated list, items trimmed; ConfigError naming the key for an empty item.
std::vector<std::string> split_list(const std::string& text, const std::string& where) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b == std::string::npos) throw ConfigError(where + ": empty item in '" + text + "'");
    items.push_back(item.substr(b, e - b + 1));
  }
  if (items.empty()) throw ConfigError(where + ": empty list");
  return items;
}

struct ClassifierConfig {
  PointConfig pc;
  json config = json::object();
  ClassifierShape shape;
  ModDataSpec data;
  ClassifierHyper hyper;
  std::string teacher;                         ///< model file, or empty
  std::optional<ModClassifier> teacher_model;  ///< loaded from `teacher`
  std::filesystem::path out;
  unsigned threads = 1;
};

ClassifierConfig read_classifier_config(const std::string& file,
                                        const std::vector<std::string>& sets, bool compress) {
  RawConfig raw = read_config_file(file);
  for (const auto& s : sets) apply_override(raw, s);
  const Scenario sc = validate(raw, classifier_schema(compress));
  std::map<std::string, std::string> values;
  for (const auto& [k, v] : sc.values) values[k] = v.front();
  ClassifierConfig c;
  c.pc = PointConfig(values);
  const PointConfig& pc = c.pc;
  for (const auto& [k, v] : values) c.config[k] = v;
  const auto key = [&](const char* k) { return file + ": key '" + k + "'"; };

  c.data.classes.clear();
  for (const std::string& name : split_list(pc.text("data.classes"), key("data.classes"))) {
    const auto m = modulation_named(name);
    if (!m)
      throw ConfigError(key("data.classes") + ": unknown modulation '" + name +
                        "'; valid: bpsk, qpsk, qam16");
    c.data.classes.push_back(*m);
  }
  if (c.data.classes.size() < 2) throw ConfigError(key("data.classes") + ": name 2 or more");
  for (std::size_t i = 0; i < c.data.classes.size(); ++i) {
    if (std::count(c.data.classes.begin(), c.data.classes.end(), c.data.classes[i]) > 1) {
      throw ConfigError(key("data.classes") + ": '" + std::string(to_string(c.data.classes[i])) +
                        "' is listed twice");
    }
  }
  c.data.symbols = pc.count("data.symbols");
  c.data.snr_min_db = pc.real("data.snr_min_db");
  c.data.snr_max_db = pc.real("data.snr_max_db");
  if (c.data.snr_min_db > c.data.snr_max_db) {
    throw ConfigError(key("data.snr_min_db") + ": must not exceed data.snr_max_db");
  }
  c.data.random_phase = pc.text("data.phase") == "random";
  // The three splits live in memory as float32 [2L x N].
  const double gib =
      static_cast<double>(pc.count("data.train") + pc.count("data.val") + pc.count("data.test")) *
      2.0 * static_cast<double>(c.data.symbols) * 4.0 / (1024.0 * 1024.0 * 1024.0);
  if (gib > kMaxDataGiB) {
    std::ostringstream m;
    m.setf(std::ios::fixed);
    m.precision(1);
    m << file << ": keys 'data.train', 'data.val', 'data.test', 'data.symbols': the samples would "
      << "take " << gib << " GiB (at most " << kMaxDataGiB << "); use fewer samples or symbols";
    throw ConfigError(m.str());
  }

  c.shape.classes = c.data.classes;
  c.shape.symbols = c.data.symbols;
  c.shape.widths.clear();
  for (const std::string& w : split_list(pc.text("model.widths"), key("model.widths"))) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(w, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != w.size() || v < 1 || v > 4096) {
      throw ConfigError(key("model.widths") + ": '" + w + "' is not a width in 1..4096");
    }
    c.shape.widths.push_back(static_cast<std::size_t>(v));
  }
  c.shape.head = pc.count("model.head");

  c.hyper.lr = pc.real("train.lr");
  c.hyper.epochs = pc.count("train.epochs");
  c.hyper.batch = pc.count("train.batch");
  c.hyper.seed = pc.count("run.seed");
  c.hyper.temperature = pc.real("distill.temperature");
  c.hyper.alpha = pc.real("distill.alpha");
  if (compress) {
    const std::string steps = pc.text("compress.steps");
    if (steps != "distill") {
      throw ConfigError(key("compress.steps") + ": '" + steps +
                        "': a classifier compresses by distill (a smaller student learns from "
                        "compress.model)");
    }
    c.teacher = pc.text("compress.model");  // (distill.teacher is not a key here)
  } else {
    c.teacher = pc.text("distill.teacher");
  }
  if (!c.teacher.empty()) {
    const char* k = compress ? "compress.model" : "distill.teacher";
    try {
      c.teacher_model.emplace(ModClassifier::load(c.teacher));
    } catch (const ModelFileError& e) {
      throw ConfigError(key(k) + ": " + e.what());
    }
    if (c.teacher_model->shape().classes != c.data.classes) {
      throw ConfigError(key(k) + ": " + c.teacher + " classifies other classes than data.classes");
    }
  }
  c.out = pc.text("run.model");
  if (c.out.empty()) throw ConfigError(file + ": run.model is empty");
  c.threads = static_cast<unsigned>(pc.count("run.threads"));
  if (c.threads == 0) c.threads = hardware_threads();
  return c;
}

/// Accuracy in Es/N0 bins of kSnrBinDb from the data's lower end (the last one ends at the upper
/// end, inclusive).
json accuracy_by_snr(const arma::mat& logits, const ModSamples& s, const ModDataSpec& d) {
  json bins = json::array();
  for (double lo = d.snr_min_db; lo < d.snr_max_db || lo == d.snr_min_db; lo += kSnrBinDb) {
    const double hi = std::min(lo + kSnrBinDb, d.snr_max_db);
    const bool last = hi >= d.snr_max_db;  // [lo, hi), the last bin [lo, max]
    const double top = last ? std::nextafter(hi, hi + 1) : hi;
    const arma::uvec in = arma::find(s.esn0_db >= lo && s.esn0_db < top);
    if (in.is_empty()) continue;
    bins.push_back({{"esn0_db", {lo, hi}},
                    {"samples", in.n_elem},
                    {"accuracy", classification_accuracy(logits.cols(in), s.labels(in))}});
  }
  return bins;
}

std::string percent(double share) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(2);
  o << 100.0 * share << "%";
  return o.str();
}

}  // namespace

bool is_classifier_scenario(const std::string& file, const std::vector<std::string>& sets) {
  try {
    RawConfig raw = read_config_file(file);
    for (const auto& s : sets) apply_override(raw, s);
    std::string arch;
    for (const auto& [k, v] : raw.entries) {
      if (k == "model.arch") arch = v;  // the last one wins, as in validate
    }
    return arch == "modclass";
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<ParamSpec> classifier_schema(bool compress) {
  std::vector<ParamSpec> s;
  s.push_back(spec("description", ParamKind::Text, "", "one line shown in results"));
  s.push_back(choice("model.arch", {"modclass"}, "modclass",
                     "modclass: a per-symbol MLP, the mean over symbols, then a head (Deep Sets)"));
  s.push_back(spec("model.widths", ParamKind::Text, "64,64",
                   "widths of the per-symbol layers, comma-separated (each 1..4096)"));
  s.push_back(
      spec("model.head", ParamKind::Int, "64", "width of the head's hidden layer", 1, 4096));
  s.push_back(spec("data.classes", ParamKind::Text, "bpsk,qpsk,qam16",
                   "modulations to tell apart, comma-separated (bpsk, qpsk, qam16)"));
  s.push_back(
      spec("data.symbols", ParamKind::Int, "128", "received symbols per sample (L)", 1, 65536));
  s.push_back(spec("data.snr_min_db", ParamKind::Real, "0",
                   "Es/N0 of a sample: uniform in [snr_min_db, snr_max_db] (dB)", -50, 100));
  s.push_back(spec("data.snr_max_db", ParamKind::Real, "20", "upper end of the Es/N0 range (dB)",
                   -50, 100));
  s.push_back(choice("data.phase", {"random", "zero"}, "random",
                     "carrier phase per sample: uniform in [0, 2 pi) (receiver not phase-locked) "
                     "or zero"));
  s.push_back(spec("data.seed", ParamKind::Int, "3000", "data seed"));
  s.push_back(spec("data.train", ParamKind::Int, "30000", "training samples", 1, 1e7));
  s.push_back(spec("data.val", ParamKind::Int, "3000", "validation samples", 1, 1e7));
  s.push_back(spec("data.test", ParamKind::Int, "6000", "test samples", 1, 1e7));
  s.push_back(spec("train.lr", ParamKind::Real, "0.001",
                   "Adam's learning rate (cosine decay to a twentieth of it)", 1e-9, 10));
  s.push_back(spec("train.epochs", ParamKind::Int, "10", "epochs (the best on validation is kept)",
                   1, 100000));
  s.push_back(spec("train.batch", ParamKind::Int, "256", "samples per step", 1, 100000));
  if (!compress) {
    s.push_back(spec("distill.teacher", ParamKind::Text, "",
                     "knowledge distillation: a trained classifier whose softened outputs the "
                     "network also learns (empty: labels only)"));
  }
  s.push_back(spec("distill.temperature", ParamKind::Real, "4",
                   "distillation temperature T (softmax of logits / T)", 0.01, 100));
  s.push_back(spec("distill.alpha", ParamKind::Real, compress ? "0.7" : "0.5",
                   "distillation weight: loss = alpha T^2 KL(teacher_T || student_T) + "
                   "(1 - alpha) cross-entropy with the labels",
                   0, 1));
  if (compress) {
    ParamSpec model = spec("compress.model", ParamKind::Text, "", "the trained teacher (.lsnn)");
    model.required = true;
    s.push_back(model);
    ParamSpec steps = spec("compress.steps", ParamKind::Text, "distill",
                           "distill (the only classifier step: the [model] student learns from "
                           "compress.model)");
    s.push_back(steps);
  }
  s.push_back(spec("run.seed", ParamKind::Int, "1", "initialisation and shuffling seed"));
  s.push_back(spec("run.threads", ParamKind::Int, "0", "LibTorch threads (0: all cores)", 0, 1024));
  ParamSpec model = spec("run.model", ParamKind::Text, "", "output model file (.lsnn)");
  model.required = true;
  s.push_back(model);
  return s;
}

int run_classifier_scenario(const std::string& file, const std::vector<std::string>& sets,
                            bool compress) {
  const ClassifierConfig c = read_classifier_config(file, sets, compress);
  const PointConfig& pc = c.pc;
  tune_allocator();
  set_torch_threads(c.threads);
  try {
    const std::optional<ModClassifier>& teacher = c.teacher_model;
    const std::uint64_t seed = pc.count("data.seed");
    const std::size_t n_train = pc.count("data.train"), n_val = pc.count("data.val"),
                      n_test = pc.count("data.test");
    std::cerr << (compress ? "distilling " : "training ") << "modclass (widths "
              << pc.text("model.widths") << ", head " << c.shape.head << ", "
              << classifier_parameter_count(c.shape) << " parameters)"
              << (teacher ? " from " + c.teacher : std::string()) << " on " << n_train
              << " samples, " << c.hyper.epochs << " epochs, " << c.threads << " threads -> "
              << c.out.string() << "\n";
    const ModSamples train = make_mod_samples(c.data, 0, n_train, seed);
    const ModSamples val = make_mod_samples(c.data, n_train, n_val, seed);
    const ModSamples test = make_mod_samples(c.data, n_train + n_val, n_test, seed);
    ModClassifier model(c.shape, pc.count("run.seed"));
    const std::vector<ClassifierEpoch> epochs =
        train_classifier(model, train, val, c.hyper, teacher ? &*teacher : nullptr, std::cerr);

    const arma::mat test_logits = model.logits(test.x);
    const double test_accuracy = classification_accuracy(test_logits, test.labels);
    json history = json::array();
    for (std::size_t e = 0; e < epochs.size(); ++e) {
      json h = {{"epoch", e + 1},
                {"train_loss", epochs[e].train_loss},
                {"val_accuracy", epochs[e].val_accuracy},
                {"seconds", epochs[e].seconds}};
      if (teacher) h["val_agreement"] = epochs[e].val_agreement;
      history.push_back(h);
    }
    std::string command = std::string(compress ? "linksim compress " : "linksim train ") + file;
    for (const auto& s : sets) command += " --set " + s;
    json record = {{"config_file", file},
                   {"description", pc.text("description")},
                   {"config", c.config},
                   {"git_revision", git_revision()},
                   {"command", command},
                   {"data",
                    {{"source", "generated"},
                     {"split", "samples 0.. train, then validation, then test"},
                     {"seed", seed}}},
                   {"history", history},
                   {"test_accuracy", test_accuracy},
                   {"test_accuracy_by_esn0", accuracy_by_snr(test_logits, test, c.data)}};
    double teacher_accuracy = 0, agreement = 0;
    if (teacher) {
      const arma::mat t = teacher->logits(test.x);
      teacher_accuracy = classification_accuracy(t, test.labels);
      agreement = prediction_agreement(test_logits, t);
      record["distillation"] = {{"teacher", c.teacher},
                                {"teacher_parameters", teacher->parameter_count()},
                                {"teacher_bytes", std::filesystem::file_size(c.teacher)},
                                {"teacher_test_accuracy", teacher_accuracy},
                                {"test_agreement_with_teacher", agreement},
                                {"temperature", c.hyper.temperature},
                                {"alpha", c.hyper.alpha}};
    }
    model.set_training_record(record.dump());
    std::error_code ec;
    if (!c.out.parent_path().empty()) std::filesystem::create_directories(c.out.parent_path(), ec);
    model.save(c.out);
    const auto bytes = std::filesystem::file_size(c.out);
    std::cerr << "saved " << c.out.string() << ": " << model.parameter_count() << " parameters, "
              << bytes << " bytes; test accuracy " << percent(test_accuracy) << " on " << n_test
              << " samples";
    if (teacher) {
      std::cerr << " (teacher " << percent(teacher_accuracy) << ", "
                << std::filesystem::file_size(c.teacher) << " bytes; agreement "
                << percent(agreement) << ")";
    }
    std::cerr << "\n";
    std::cout << c.out.string() << "\n";
    return 0;
  } catch (const ModelFileError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  }
}

int validate_classifier_scenario(const std::string& file, const std::vector<std::string>& sets) {
  const bool compress = [&] {
    const RawConfig raw = read_config_file(file);
    for (const auto& [k, v] : raw.entries) {
      if (k.rfind("compress.", 0) == 0) return true;
    }
    return false;
  }();
  const ClassifierConfig c = read_classifier_config(file, sets, compress);
  std::cout << file << ": OK, modulation classifier " << (compress ? "distillation" : "training")
            << ": " << classifier_parameter_count(c.shape) << " parameters, "
            << c.data.classes.size() << " classes, " << c.pc.text("data.train") << "/"
            << c.pc.text("data.val") << "/" << c.pc.text("data.test")
            << " train/validation/test samples"
            << (c.teacher.empty() ? std::string() : ", teacher " + c.teacher) << " -> "
            << c.out.string() << "\n";
  return 0;
}

int classifier_model_info(const std::string& file) {
  try {
    const ModClassifier model = ModClassifier::load(file);
    json j = json::parse(model.metadata_json());
    j["file"] = file;
    j["file_bytes"] = std::filesystem::file_size(file);
    std::cout << j.dump(2) << "\n";
    return 0;
  } catch (const ModelFileError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  }
}

}  // namespace linksim
