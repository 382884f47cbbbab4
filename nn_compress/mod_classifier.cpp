#include "nn_compress/mod_classifier.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <numeric>
#include <ostream>
#include <random>
#include <stdexcept>

#include "nn_compress/distillation.hpp"
#include "nn_compress/model_file.hpp"
#include "sim/random.hpp"

namespace linksim {

using json = nlohmann::json;

namespace {

constexpr const char* kFormat = "linksim-modclass-1";
constexpr const char* kTask = "modulation_classifier";
constexpr const char* kArch = "modclass";
constexpr Modulation kModulations[] = {Modulation::Bpsk, Modulation::Qpsk, Modulation::Qam16};

void check_shape(const ClassifierShape& s) {
  if (s.classes.size() < 2) throw std::invalid_argument("modclass: at least 2 classes");
  if (s.widths.empty()) throw std::invalid_argument("modclass: at least one per-symbol layer");
  if (s.head == 0 || std::count(s.widths.begin(), s.widths.end(), 0U) > 0) {
    throw std::invalid_argument("modclass: layer widths must be positive");
  }
}

/// The network of the header comment; input [B, L, 2], output logits [B, C].
struct Net : torch::nn::Module {
  std::vector<torch::nn::Linear> point;
  torch::nn::Linear head{nullptr}, out{nullptr};

  explicit Net(const ClassifierShape& s) {
    std::int64_t in = 2;
    for (std::size_t k = 0; k < s.widths.size(); ++k) {
      const auto w = static_cast<std::int64_t>(s.widths[k]);
      point.push_back(register_module("point" + std::to_string(k), torch::nn::Linear(in, w)));
      in = w;
    }
    head = register_module("head", torch::nn::Linear(in, static_cast<std::int64_t>(s.head)));
    out = register_module("out", torch::nn::Linear(static_cast<std::int64_t>(s.head),
                                                   static_cast<std::int64_t>(s.classes.size())));
    for (auto& p : named_parameters()) {
      if (p.value().dim() >= 2) {
        torch::nn::init::xavier_uniform_(p.value());
      } else {
        torch::nn::init::zeros_(p.value());
      }
    }
  }

  /// Each sample scaled to unit mean symbol power first (an AGC: the classifier does not depend
  /// on the received level), then the per-symbol layers, the mean over symbols and the head.
  torch::Tensor forward(torch::Tensor x) {
    const torch::Tensor power = x.pow(2).sum({1, 2}, /*keepdim=*/true) / x.size(1);
    x = x / (power + 1e-12).sqrt();
    for (auto& l : point) x = torch::relu(l->forward(x));
    return out->forward(torch::relu(head->forward(x.mean(1))));
  }
};

/// Columns cols[0 .. n) of x [2L x N] as a tensor [n, L, 2] (a column is L (Re, Im) pairs).
torch::Tensor gather_columns(const arma::fmat& x, const arma::uword* cols, std::size_t n) {
  const auto rows = static_cast<std::int64_t>(x.n_rows);
  torch::Tensor t = torch::empty({static_cast<std::int64_t>(n), rows / 2, 2}, torch::kFloat32);
  float* dst = t.data_ptr<float>();
  for (std::size_t i = 0; i < n; ++i) {
    std::copy_n(x.colptr(cols[i]), x.n_rows, dst + i * x.n_rows);
  }
  return t;
}

/// Logits [B, C] (float) as an Armadillo matrix [C x B]: the same bytes in column-major order.
arma::mat to_arma(const torch::Tensor& logits) {
  const torch::Tensor d = logits.detach().to(torch::kFloat64).contiguous();
  return arma::mat(d.data_ptr<double>(), static_cast<arma::uword>(d.size(1)),
                   static_cast<arma::uword>(d.size(0)));
}

std::string modulation_list() {
  std::string s;
  for (Modulation m : kModulations) s += (s.empty() ? "" : ", ") + std::string(to_string(m));
  return s;
}

}  // namespace

std::optional<Modulation> modulation_named(std::string_view name) {
  for (Modulation m : kModulations) {
    if (to_string(m) == name) return m;
  }
  return std::nullopt;
}

ModSamples make_mod_samples(const ModDataSpec& spec, std::size_t first, std::size_t n,
                            std::uint64_t seed) {
  if (spec.classes.empty()) throw std::invalid_argument("modulation data: no classes");
  if (spec.symbols == 0) throw std::invalid_argument("modulation data: symbols must be >= 1");
  if (!(spec.snr_min_db <= spec.snr_max_db)) {
    throw std::invalid_argument("modulation data: snr_min_db must not exceed snr_max_db");
  }
  std::vector<Constellation> constellations;
  for (Modulation m : spec.classes) constellations.emplace_back(m);
  const std::size_t L = spec.symbols;
  ModSamples s;
  s.x.set_size(2 * L, n);
  s.labels.set_size(n);
  s.esn0_db.set_size(n);
  std::vector<double> noise(2 * L);
  for (std::size_t c = 0; c < n; ++c) {
    const std::size_t i = first + c;
    RandomStream rng(derive_seed(seed, 0, i));
    const std::size_t label = i % spec.classes.size();
    const arma::cx_vec& points = constellations[label].points();
    const double esn0_db = spec.snr_min_db + (spec.snr_max_db - spec.snr_min_db) * rng.uniform();
    const double phi = spec.random_phase ? 2.0 * std::numbers::pi * rng.uniform() : 0.0;
    const std::complex<double> rot(std::cos(phi), std::sin(phi));
    rng.fill_normal(noise, std::sqrt(0.5 * std::pow(10.0, -esn0_db / 10.0)));  // per dimension
    float* col = s.x.colptr(c);
    for (std::size_t k = 0; k < L; ++k) {
      const std::complex<double> r = rot * points(rng.next_u64() % points.n_elem);
      col[2 * k] = static_cast<float>(r.real() + noise[2 * k]);
      col[2 * k + 1] = static_cast<float>(r.imag() + noise[2 * k + 1]);
    }
    s.labels(c) = label;
    s.esn0_db(c) = esn0_db;
  }
  return s;
}

std::size_t classifier_parameter_count(const ClassifierShape& shape) {
  std::size_t in = 2, count = 0;
  for (std::size_t w : shape.widths) {
    count += (in + 1) * w;
    in = w;
  }
  return count + (in + 1) * shape.head + (shape.head + 1) * shape.classes.size();
}

struct ModClassifier::Impl {
  ClassifierShape shape;
  std::shared_ptr<Net> net;
  json training = json::object();
};

ModClassifier::Impl& impl_of(ModClassifier& model) {
  return *model.impl_;
}

ModClassifier::ModClassifier(const ClassifierShape& shape, std::uint64_t seed) {
  check_shape(shape);
  auto impl = std::make_unique<Impl>();
  impl->shape = shape;
  torch::manual_seed(seed);
  impl->net = std::make_shared<Net>(shape);
  impl->net->eval();
  impl_ = std::move(impl);
}

ModClassifier::ModClassifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ModClassifier::ModClassifier(ModClassifier&&) noexcept = default;
ModClassifier& ModClassifier::operator=(ModClassifier&&) noexcept = default;
ModClassifier::~ModClassifier() = default;

const ClassifierShape& ModClassifier::shape() const {
  return impl_->shape;
}

std::size_t ModClassifier::parameter_count() const {
  std::size_t n = 0;
  for (const auto& p : impl_->net->parameters()) n += static_cast<std::size_t>(p.numel());
  return n;
}

arma::mat ModClassifier::logits(const arma::fmat& x) const {
  if (x.n_rows == 0 || x.n_rows % 2 != 0) {
    throw std::invalid_argument("modclass: samples need 2L rows (Re, Im of L symbols), got " +
                                std::to_string(x.n_rows));
  }
  if (!x.is_finite()) throw std::invalid_argument("modclass: non-finite input");
  c10::InferenceMode guard;
  impl_->net->eval();
  arma::mat out(impl_->shape.classes.size(), x.n_cols);
  if (x.n_cols == 0) return out;
  constexpr std::size_t kChunk = 4096;
  const arma::uvec all = arma::regspace<arma::uvec>(0, 1, x.n_cols - 1);
  for (std::size_t first = 0; first < x.n_cols; first += kChunk) {
    const std::size_t n = std::min<std::size_t>(kChunk, x.n_cols - first);
    out.cols(first, first + n - 1) =
        to_arma(impl_->net->forward(gather_columns(x, all.memptr() + first, n)));
  }
  return out;
}

void ModClassifier::set_training_record(const std::string& json_object) {
  json j = json::parse(json_object, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw std::invalid_argument("training record must be a JSON object");
  impl_->training = std::move(j);
}

std::string ModClassifier::metadata_json() const {
  const ClassifierShape& s = impl_->shape;
  json classes = json::array();
  for (Modulation m : s.classes) classes.push_back(std::string(to_string(m)));
  json j;
  j["format"] = kFormat;
  j["task"] = kTask;
  j["architecture"] = kArch;
  j["classes"] = classes;
  j["symbols"] = s.symbols;
  j["widths"] = s.widths;
  j["head"] = s.head;
  j["parameters"] = parameter_count();
  j["input"] =
      "x [2L x N]: Re, Im of L received symbols per column; each sample is scaled to unit mean "
      "symbol power inside the network";
  j["training"] = impl_->training;
  return j.dump(1);
}

void ModClassifier::save(const std::filesystem::path& file) const {
  ModelFileContents c;
  c.kind = ModelFileKind::Model;
  c.metadata_json = metadata_json();
  for (const auto& p : impl_->net->named_parameters()) {
    const torch::Tensor t = p.value().detach().contiguous();
    NamedArray a;
    a.name = p.key();
    a.shape.assign(t.sizes().begin(), t.sizes().end());
    a.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    c.arrays.push_back(std::move(a));
  }
  write_model_file(file, c);
}

ModClassifier ModClassifier::load(const std::filesystem::path& file) {
  const std::string src = file.string();
  const ModelFileContents c = read_model_file(file, ModelFileKind::Model);
  const json j = json::parse(c.metadata_json);
  if (j.value("task", "") != kTask || j.value("format", "") != kFormat) {
    throw ModelFileError(src + ": not a modulation classifier (metadata task '" +
                         j.value("task", "csi_feedback") + "', format '" + j.value("format", "") +
                         "'; this linksim reads " + kFormat + ")");
  }
  auto impl = std::make_unique<Impl>();
  ClassifierShape& s = impl->shape;
  try {
    s.classes.clear();
    for (const json& name : j.at("classes")) {
      const auto m = modulation_named(name.get<std::string>());
      if (!m) {
        throw ModelFileError(src + ": unknown class '" + name.get<std::string>() +
                             "' (valid: " + modulation_list() + ")");
      }
      s.classes.push_back(*m);
    }
    s.symbols = j.at("symbols").get<std::size_t>();
    s.widths = j.at("widths").get<std::vector<std::size_t>>();
    s.head = j.at("head").get<std::size_t>();
    check_shape(s);
  } catch (const json::exception& e) {
    throw ModelFileError(src + ": bad classifier metadata: " + e.what());
  } catch (const std::invalid_argument& e) {
    throw ModelFileError(src + ": " + e.what());
  }
  impl->net = std::make_shared<Net>(s);
  impl->net->eval();
  if (j.contains("training") && j.at("training").is_object()) impl->training = j.at("training");
  torch::NoGradGuard no_grad;
  auto params = impl->net->named_parameters();
  if (c.arrays.size() != params.size()) {
    throw ModelFileError(src + ": " + std::to_string(c.arrays.size()) +
                         " arrays, the network has " + std::to_string(params.size()));
  }
  for (const NamedArray& a : c.arrays) {
    torch::Tensor* p = params.find(a.name);
    if (p == nullptr) throw ModelFileError(src + ": unexpected array '" + a.name + "'");
    if (std::vector<std::int64_t>(p->sizes().begin(), p->sizes().end()) != a.shape) {
      throw ModelFileError(src + ": array '" + a.name + "' has the wrong shape");
    }
    p->copy_(torch::from_blob(const_cast<float*>(a.values.data()), p->sizes(), torch::kFloat32));
  }
  return ModClassifier(std::move(impl));
}

bool ModClassifier::is_classifier_file(const std::filesystem::path& file) {
  try {
    const ModelFileContents c = read_model_file(file, ModelFileKind::Model);
    return json::parse(c.metadata_json).value("task", "") == kTask;
  } catch (const std::exception&) {
    return false;
  }
}

double classification_accuracy(const arma::mat& logits, const arma::uvec& labels) {
  if (logits.n_cols != labels.n_elem) throw std::invalid_argument("accuracy: size mismatch");
  if (labels.is_empty()) return std::numeric_limits<double>::quiet_NaN();
  const arma::urowvec pick = arma::index_max(logits, 0);
  return static_cast<double>(arma::accu(pick.t() == labels)) / static_cast<double>(labels.n_elem);
}

double prediction_agreement(const arma::mat& a, const arma::mat& b) {
  if (a.n_cols != b.n_cols || a.n_rows != b.n_rows) {
    throw std::invalid_argument("agreement: size mismatch");
  }
  return classification_accuracy(a, arma::index_max(b, 0).t());
}

std::vector<ClassifierEpoch> train_classifier(ModClassifier& student, const ModSamples& train,
                                              const ModSamples& val, const ClassifierHyper& hyper,
                                              const ModClassifier* teacher, std::ostream& log) {
  ModClassifier::Impl& m = impl_of(student);
  const std::size_t classes = m.shape.classes.size();
  for (const ModSamples* d : {&train, &val}) {
    if (d->x.n_rows % 2 != 0 || d->x.n_cols != d->labels.n_elem ||
        (d->labels.n_elem > 0 && d->labels.max() >= classes)) {
      throw std::invalid_argument("train_classifier: samples do not match the classifier");
    }
  }
  if (train.x.n_cols == 0 || hyper.batch == 0 || hyper.epochs == 0) {
    throw std::invalid_argument("train_classifier: no samples, batch or epochs");
  }
  if (teacher != nullptr && teacher->shape().classes != m.shape.classes) {
    throw std::invalid_argument("train_classifier: the teacher has other classes");
  }
  // The teacher's logits, once (alpha = 0 without a teacher: the hard term alone).
  const arma::mat teacher_train = teacher ? teacher->logits(train.x) : arma::mat();
  const arma::mat teacher_val = teacher ? teacher->logits(val.x) : arma::mat();
  const double alpha = teacher ? hyper.alpha : 0.0;

  torch::optim::Adam adam(m.net->parameters(), torch::optim::AdamOptions(hyper.lr));
  const std::size_t n = train.x.n_cols;
  const std::size_t steps = (n + hyper.batch - 1) / hyper.batch;
  const double total = static_cast<double>(hyper.epochs * steps);
  std::vector<ClassifierEpoch> epochs;
  double best = -1;
  std::vector<torch::Tensor> best_state;
  arma::uvec order = arma::regspace<arma::uvec>(0, 1, n - 1);
  for (std::size_t e = 0; e < hyper.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    std::mt19937_64 shuffle(derive_seed(hyper.seed, 1, e));
    std::shuffle(order.begin(), order.end(), shuffle);
    m.net->train();
    double loss_sum = 0;
    for (std::size_t s = 0; s < steps; ++s) {
      const double t = static_cast<double>(e * steps + s) / total;
      const double lr = hyper.lr * (0.05 + 0.95 * 0.5 * (1 + std::cos(std::numbers::pi * t)));
      for (auto& g : adam.param_groups()) {
        static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
      }
      const std::size_t first = s * hyper.batch;
      const std::size_t count = std::min(hyper.batch, n - first);
      const arma::uvec idx = order.subvec(first, first + count - 1);
      const torch::Tensor logits = m.net->forward(gather_columns(train.x, idx.memptr(), count));
      const arma::mat z = to_arma(logits);
      const DistillationLoss d = distillation_loss(z, teacher ? teacher_train.cols(idx) : z,
                                                   train.labels(idx), hyper.temperature, alpha);
      arma::mat grad = d.grad;  // [C x B] column-major = [B, C] row-major
      adam.zero_grad();
      logits.backward(
          torch::from_blob(grad.memptr(),
                           {static_cast<std::int64_t>(count), static_cast<std::int64_t>(classes)},
                           torch::kFloat64)
              .to(torch::kFloat32));
      adam.step();
      loss_sum += d.loss * static_cast<double>(count);
    }
    m.net->eval();
    ClassifierEpoch rec;
    rec.train_loss = loss_sum / static_cast<double>(n);
    const arma::mat val_logits = student.logits(val.x);
    rec.val_accuracy = classification_accuracy(val_logits, val.labels);
    rec.val_agreement = teacher ? prediction_agreement(val_logits, teacher_val)
                                : std::numeric_limits<double>::quiet_NaN();
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool improved = rec.val_accuracy > best;
    if (improved) {
      best = rec.val_accuracy;
      best_state.clear();
      for (const auto& p : m.net->parameters()) best_state.push_back(p.detach().clone());
    }
    log << "epoch " << e + 1 << "/" << hyper.epochs << "  loss " << rec.train_loss
        << "  val accuracy " << rec.val_accuracy;
    if (teacher) log << "  agreement with teacher " << rec.val_agreement;
    log << (improved ? " *" : "") << "  " << rec.seconds << " s\n" << std::flush;
    epochs.push_back(rec);
  }
  torch::NoGradGuard no_grad;
  auto params = m.net->parameters();
  for (std::size_t k = 0; k < params.size(); ++k) params[k].copy_(best_state[k]);
  return epochs;
}

}  // namespace linksim
