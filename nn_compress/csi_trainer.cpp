#include "nn_compress/csi_trainer.hpp"

#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>
#include <optional>
#include <random>

#include "nn_compress/csi_network.hpp"

namespace linksim {
namespace {

using nlohmann::json;

constexpr const char* kCheckpointFormat = "linksim-nn-checkpoint";

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// The sample order of an epoch: Fisher-Yates with a mt19937_64 seeded from (seed, epoch), and
/// unbiased bounded draws (rejection), so the order is the same with every standard library.
std::vector<arma::uword> epoch_order(std::size_t n, std::uint64_t seed, std::size_t epoch) {
  std::vector<arma::uword> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(splitmix64(seed ^ splitmix64(0x7261696eULL + epoch)));
  for (std::size_t i = n; i > 1; --i) {
    // j uniform in [0, i): reject the low values that would bias r % i.
    const std::uint64_t bound = i;
    const std::uint64_t threshold = (0 - bound) % bound;
    std::uint64_t r = rng();
    while (r < threshold) r = rng();
    const auto j = static_cast<std::size_t>(r % bound);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

torch::Tensor gather(const arma::fmat& u, const arma::uword* idx, std::size_t n) {
  torch::Tensor t =
      torch::empty({static_cast<std::int64_t>(n), 2, static_cast<std::int64_t>(kCsiRows),
                    static_cast<std::int64_t>(kCsiAntennas)},
                   torch::kFloat32);
  float* p = t.data_ptr<float>();
  for (std::size_t b = 0; b < n; ++b) {
    const float* c = u.colptr(idx[b]);
    std::copy(c, c + kCsiValues, p + b * kCsiValues);
  }
  return t;
}

torch::Tensor columns(const arma::fmat& u, arma::uword first, std::size_t n) {
  return torch::from_blob(const_cast<float*>(u.colptr(first)),
                          {static_cast<std::int64_t>(n), 2, static_cast<std::int64_t>(kCsiRows),
                           static_cast<std::int64_t>(kCsiAntennas)},
                          torch::kFloat32);
}

NamedArray to_array(const std::string& name, const torch::Tensor& t) {
  const torch::Tensor f = t.detach().to(torch::kFloat32).contiguous();
  NamedArray a;
  a.name = name;
  for (auto d : f.sizes()) a.shape.push_back(d);
  a.values.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  return a;
}

std::string state_key(const torch::Tensor& p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

}  // namespace

std::string_view schedule_name(LrSchedule s) {
  switch (s) {
    case LrSchedule::Constant:
      return "constant";
    case LrSchedule::Step:
      return "step";
    case LrSchedule::Cosine:
      return "cosine";
  }
  return "?";
}

std::optional<LrSchedule> lr_schedule_named(std::string_view name) {
  for (LrSchedule s : {LrSchedule::Constant, LrSchedule::Step, LrSchedule::Cosine}) {
    if (schedule_name(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view loss_name(TrainLoss loss) {
  switch (loss) {
    case TrainLoss::Mse:
      return "mse";
    case TrainLoss::Nmse:
      return "nmse";
  }
  return "?";
}

std::optional<TrainLoss> train_loss_named(std::string_view name) {
  for (TrainLoss l : {TrainLoss::Mse, TrainLoss::Nmse}) {
    if (loss_name(l) == name) return l;
  }
  return std::nullopt;
}

double learning_rate(const TrainHyper& h, double t) {
  if (h.warmup_epochs > 0 && t < h.warmup_epochs) return h.lr * t / h.warmup_epochs;
  switch (h.schedule) {
    case LrSchedule::Constant:
      return h.lr;
    case LrSchedule::Step: {
      const double k = std::floor(t / static_cast<double>(std::max<std::size_t>(1, h.step_epochs)));
      return h.lr * std::pow(h.step_gamma, k);
    }
    case LrSchedule::Cosine: {
      const double span = static_cast<double>(h.epochs) - h.warmup_epochs;
      const double x = span > 0 ? std::clamp((t - h.warmup_epochs) / span, 0.0, 1.0) : 1.0;
      return h.lr_min + (h.lr - h.lr_min) * 0.5 * (1.0 + std::cos(std::numbers::pi * x));
    }
  }
  return h.lr;
}

struct CsiTrainer::Impl {
  Impl(CsiArch arch, std::size_t cr, std::uint64_t master_seed, const TrainHyper& h)
      : model(arch, cr, master_seed),
        net(network_of(model)),
        seed(master_seed),
        hyper(h),
        adam(net.module().parameters(), torch::optim::AdamOptions(h.lr)) {
    for (const torch::Tensor& p : net.module().parameters()) {
      if (p.dim() >= 2) weights.push_back(p);
    }
  }
  CsiAutoencoder model;
  detail::CsiNetwork& net;
  std::uint64_t seed;
  TrainHyper hyper;
  torch::optim::Adam adam;
  std::uint64_t steps = 0;
  std::vector<torch::Tensor> weights;  ///< parameters of rank >= 2 (the regularised ones)
  std::optional<CsiAutoencoder> teacher;
  double alpha = 0;
  /// set_constraints, as tensors on the parameters they constrain.
  struct Projection {
    torch::Tensor param;
    torch::Tensor keep;     ///< undefined, or float 0/1 of the parameter's shape
    torch::Tensor cluster;  ///< undefined, or int64 indices [numel]
    std::int64_t clusters = 0;
    torch::Tensor basis;     ///< undefined, or Q [rows x rank] of a rank constraint
    bool separable = false;  ///< the rank is that of the kernel's separable matrix
  };

  /// The matrix a rank constraint acts on: the parameter, or a kernel's separable matrix
  /// M [(in kh) x (out kw)].
  static torch::Tensor constrained_matrix(const Projection& p) {
    if (!p.separable) return p.param;
    const auto s = p.param.sizes();  // [out, in, kh, kw]
    return p.param.permute({1, 2, 0, 3}).reshape({s[1] * s[2], s[0] * s[3]});
  }
  std::vector<Projection> projections;

  void project() {
    if (projections.empty()) return;
    torch::NoGradGuard no_grad;
    for (Projection& p : projections) {
      if (p.cluster.defined()) {
        const torch::Tensor flat = p.param.view(-1);
        const torch::Tensor sums =
            torch::zeros({p.clusters}, flat.options()).index_add_(0, p.cluster, flat);
        const torch::Tensor counts =
            torch::bincount(p.cluster, {}, p.clusters).to(flat.scalar_type()).clamp_min(1);
        flat.copy_((sums / counts).index_select(0, p.cluster));
      }
      if (p.keep.defined()) p.param.mul_(p.keep);
      if (p.basis.defined()) {  // one subspace iteration, then M <- Q Q^T M
        const torch::Tensor m = constrained_matrix(p);
        p.basis = std::get<0>(at::linalg_qr(m.matmul(m.t().matmul(p.basis))));
        const torch::Tensor projected = p.basis.matmul(p.basis.t().matmul(m));
        if (p.separable) {
          const auto s = p.param.sizes();
          p.param.copy_(projected.reshape({s[1], s[2], s[0], s[3]}).permute({2, 0, 1, 3}));
        } else {
          p.param.copy_(projected);
        }
      }
    }
  }

  void set_lr(double lr) {
    for (auto& g : adam.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
  }
};

CsiTrainer::CsiTrainer(CsiArch arch, std::size_t cr, std::uint64_t seed, const TrainHyper& hyper)
    : impl_(std::make_unique<Impl>(arch, cr, seed, hyper)) {
  if (hyper.batch == 0) throw std::invalid_argument("training batch must be positive");
}

CsiTrainer::~CsiTrainer() = default;

void CsiTrainer::set_constraints(const std::vector<WeightConstraint>& constraints) {
  std::map<std::string, torch::Tensor> params;
  for (const auto& p : impl_->net.module().named_parameters()) params.emplace(p.key(), p.value());
  std::vector<Impl::Projection> out;
  for (const WeightConstraint& c : constraints) {
    const auto it = params.find(c.name);
    if (it == params.end()) {
      throw std::invalid_argument("constraint on unknown parameter '" + c.name + "'");
    }
    Impl::Projection p;
    p.param = it->second;
    const auto n = static_cast<std::size_t>(p.param.numel());
    if (!c.keep.empty()) {
      if (c.keep.size() != n) {
        throw std::invalid_argument("constraint on '" + c.name +
                                    "': " + std::to_string(c.keep.size()) + " mask entries for " +
                                    std::to_string(n) + " values");
      }
      std::vector<float> keep(c.keep.begin(), c.keep.end());
      p.keep = torch::from_blob(keep.data(), p.param.sizes(), torch::kFloat32)
                   .to(p.param.scalar_type())
                   .clone();
    }
    if (!c.cluster.empty()) {
      if (c.cluster.size() != n || c.clusters == 0 ||
          *std::max_element(c.cluster.begin(), c.cluster.end()) >= c.clusters) {
        throw std::invalid_argument("constraint on '" + c.name +
                                    "': cluster indices do not match the parameter");
      }
      std::vector<std::int64_t> idx(c.cluster.begin(), c.cluster.end());
      p.cluster =
          torch::from_blob(idx.data(), {static_cast<std::int64_t>(n)}, torch::kInt64).clone();
      p.clusters = static_cast<std::int64_t>(c.clusters);
    }
    if (c.rank > 0 || c.separable_rank > 0) {
      p.separable = c.separable_rank > 0;
      const std::size_t rank = p.separable ? c.separable_rank : c.rank;
      if (c.rank > 0 && c.separable_rank > 0) {
        throw std::invalid_argument("constraint on '" + c.name + "': rank or separable rank");
      }
      if (p.param.dim() != (p.separable ? 4 : 2)) {
        throw std::invalid_argument(
            "constraint on '" + c.name + "': a " +
            (p.separable ? "separable rank needs a conv kernel" : "rank needs a matrix"));
      }
      torch::NoGradGuard no_grad;
      const torch::Tensor m = Impl::constrained_matrix(p);
      if (rank > static_cast<std::size_t>(std::min(m.size(0), m.size(1)))) {
        throw std::invalid_argument("constraint on '" + c.name + "': rank " + std::to_string(rank) +
                                    " needs a matrix at least that wide");
      }
      const torch::Tensor u = std::get<0>(at::linalg_svd(m, /*full_matrices=*/false));
      p.basis = u.narrow(1, 0, static_cast<std::int64_t>(rank)).contiguous();
    }
    out.push_back(std::move(p));
  }
  impl_->projections = std::move(out);
  impl_->project();
}

void CsiTrainer::set_teacher(CsiAutoencoder teacher, double alpha) {
  if (!(alpha >= 0 && alpha <= 1)) {
    throw std::invalid_argument("distillation: alpha must be in [0, 1]");
  }
  network_of(teacher).module().eval();
  impl_->teacher.emplace(std::move(teacher));
  impl_->alpha = alpha;
}

CsiAutoencoder& CsiTrainer::model() {
  return impl_->model;
}
const CsiAutoencoder& CsiTrainer::model() const {
  return impl_->model;
}
std::uint64_t CsiTrainer::steps() const {
  return impl_->steps;
}

double CsiTrainer::train_epoch(const arma::fmat& u, std::size_t epoch,
                               const std::function<void(std::size_t, std::size_t)>& progress) {
  if (u.n_rows != kCsiValues) throw std::invalid_argument("train_epoch: expected 2048 rows");
  const std::size_t n = u.n_cols;
  if (n == 0) throw std::invalid_argument("train_epoch: no training samples");
  const std::vector<arma::uword> order = epoch_order(n, impl_->seed, epoch);
  const std::size_t batch = impl_->hyper.batch;
  const std::size_t steps_per_epoch = (n + batch - 1) / batch;
  torch::nn::Module& mod = impl_->net.module();
  mod.train();
  double loss_sum = 0;
  for (std::size_t s = 0; s < steps_per_epoch; ++s) {
    const std::size_t first = s * batch;
    const std::size_t count = std::min(batch, n - first);
    impl_->set_lr(learning_rate(impl_->hyper,
                                static_cast<double>(epoch) +
                                    static_cast<double>(s) / static_cast<double>(steps_per_epoch)));
    const torch::Tensor x = gather(u, order.data() + first, count);
    const torch::Tensor y = impl_->net.decode(impl_->net.encode(x));
    const torch::Tensor mse = torch::mse_loss(y, x);
    // The data term against a target: MSE, or the per-sample squared error over ||x - 0.5||^2.
    torch::Tensor inv_power;
    if (impl_->hyper.loss == TrainLoss::Nmse) {
      inv_power = 1.0 / (x - 0.5).pow(2).sum({1, 2, 3}).clamp_min(1e-12).detach();
    }
    const auto term = [&](const torch::Tensor& target) {
      if (impl_->hyper.loss == TrainLoss::Mse) return torch::mse_loss(y, target);
      return ((y - target).pow(2).sum({1, 2, 3}) * inv_power).mean();
    };
    torch::Tensor loss = impl_->hyper.loss == TrainLoss::Mse ? mse : term(x);
    if (impl_->teacher) {
      torch::Tensor t;
      {
        torch::NoGradGuard no_grad;
        detail::CsiNetwork& teacher = network_of(*impl_->teacher);
        t = teacher.decode(teacher.encode(x));
      }
      loss = (1.0 - impl_->alpha) * loss + impl_->alpha * term(t);
    }
    if (impl_->hyper.l1 > 0 || impl_->hyper.l2 > 0) {
      for (const torch::Tensor& w : impl_->weights) {
        if (impl_->hyper.l1 > 0) loss = loss + impl_->hyper.l1 * w.abs().sum();
        if (impl_->hyper.l2 > 0) loss = loss + impl_->hyper.l2 * w.square().sum();
      }
    }
    impl_->adam.zero_grad();
    loss.backward();
    impl_->adam.step();
    impl_->project();
    ++impl_->steps;
    loss_sum += mse.item<double>() * static_cast<double>(count);
    if (progress) progress(first + count, n);
  }
  mod.eval();
  return loss_sum / static_cast<double>(n);
}

Evaluation CsiTrainer::evaluate(const arma::fmat& u) {
  if (u.n_rows != kCsiValues) throw std::invalid_argument("evaluate: expected 2048 rows");
  Evaluation e;
  e.samples = u.n_cols;
  if (u.n_cols == 0) return e;
  impl_->net.module().eval();
  c10::InferenceMode guard;
  constexpr std::size_t kChunk = 500;
  double se_sum = 0, ratio_sum = 0;
  std::size_t ratio_n = 0;
  for (std::size_t first = 0; first < u.n_cols; first += kChunk) {
    const std::size_t n = std::min<std::size_t>(kChunk, u.n_cols - first);
    const torch::Tensor x = columns(u, first, n);
    const torch::Tensor y = impl_->net.decode(impl_->net.encode(x));
    const torch::Tensor err = (y - x).pow(2).sum({1, 2, 3}).to(torch::kFloat64);
    const torch::Tensor pow = (x - 0.5).pow(2).sum({1, 2, 3}).to(torch::kFloat64);
    se_sum += err.sum().item<double>();
    const torch::Tensor valid = pow > 0;
    ratio_sum += (err.masked_select(valid) / pow.masked_select(valid)).sum().item<double>();
    ratio_n += static_cast<std::size_t>(valid.sum().item<std::int64_t>());
  }
  e.loss = se_sum / (static_cast<double>(u.n_cols) * static_cast<double>(kCsiValues));
  e.nmse = ratio_n > 0 ? ratio_sum / static_cast<double>(ratio_n)
                       : std::numeric_limits<double>::quiet_NaN();
  e.nmse_db = 10.0 * std::log10(e.nmse);
  return e;
}

void CsiTrainer::save_checkpoint(const std::filesystem::path& file, const std::string& state_json,
                                 const std::vector<NamedArray>& best) const {
  ModelFileContents c;
  c.kind = ModelFileKind::Checkpoint;
  json j;
  j["format"] = kCheckpointFormat;
  j["architecture"] = std::string(arch_name(impl_->model.arch()));
  j["cr"] = impl_->model.cr();
  j["optimizer_steps"] = impl_->steps;
  j["state"] = json::parse(state_json);
  c.metadata_json = j.dump(1);
  for (NamedArray a : impl_->model.state()) {
    a.name = "model." + a.name;
    c.arrays.push_back(std::move(a));
  }
  for (NamedArray a : best) {
    a.name = "best." + a.name;
    c.arrays.push_back(std::move(a));
  }
  auto& mod = impl_->net.module();
  const auto& adam_state = impl_->adam.state();
  for (const auto& p : mod.named_parameters()) {
    const auto it = adam_state.find(state_key(p.value()));
    if (it == adam_state.end()) continue;  // no step taken yet
    const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
    c.arrays.push_back(to_array("adam.exp_avg." + p.key(), s.exp_avg()));
    c.arrays.push_back(to_array("adam.exp_avg_sq." + p.key(), s.exp_avg_sq()));
    if (static_cast<std::uint64_t>(s.step()) != impl_->steps) {
      throw std::logic_error("checkpoint: Adam step counts differ between parameters");
    }
  }
  write_model_file(file, c);
}

namespace {

json checked_checkpoint_json(const ModelFileContents& c, const std::string& src) {
  const json j = json::parse(c.metadata_json);
  if (j.value("format", "") != kCheckpointFormat || !j.contains("state") ||
      !j.at("state").is_object() || !j.contains("optimizer_steps") ||
      !j.at("optimizer_steps").is_number_unsigned()) {
    throw ModelFileError(src + ": not a linksim training checkpoint (metadata incomplete)");
  }
  return j;
}

}  // namespace

std::string CsiTrainer::peek_checkpoint(const std::filesystem::path& file) {
  const ModelFileContents c = read_model_file(file, ModelFileKind::Checkpoint);
  return checked_checkpoint_json(c, file.string()).at("state").dump();
}

std::string CsiTrainer::load_checkpoint(const std::filesystem::path& file,
                                        std::vector<NamedArray>& best) {
  const std::string src = file.string();
  ModelFileContents c = read_model_file(file, ModelFileKind::Checkpoint);
  const json j = checked_checkpoint_json(c, src);
  if (j.value("architecture", "") != arch_name(impl_->model.arch()) ||
      j.value("cr", std::size_t{0}) != impl_->model.cr()) {
    throw ModelFileError(src + ": checkpoint of " + j.value("architecture", "?") + " at CR " +
                         std::to_string(j.value("cr", std::size_t{0})) + ", expected " +
                         std::string(arch_name(impl_->model.arch())) + " at CR " +
                         std::to_string(impl_->model.cr()));
  }
  std::vector<NamedArray> model_arrays;
  std::map<std::string, NamedArray> adam_arrays;
  best.clear();
  for (NamedArray& a : c.arrays) {
    const auto strip = [&](const std::string& prefix) {
      if (a.name.rfind(prefix, 0) != 0) return false;
      a.name = a.name.substr(prefix.size());
      return true;
    };
    if (strip("model.")) {
      model_arrays.push_back(std::move(a));
    } else if (strip("best.")) {
      best.push_back(std::move(a));
    } else if (a.name.rfind("adam.", 0) == 0) {
      std::string name = a.name;
      adam_arrays.emplace(std::move(name), std::move(a));
    } else {
      throw ModelFileError(src + ": unexpected array '" + a.name + "' in checkpoint");
    }
  }
  impl_->model.load_state(model_arrays, src);
  const auto steps = j.at("optimizer_steps").get<std::uint64_t>();
  auto& adam_state = impl_->adam.state();
  adam_state.clear();
  if (steps > 0) {
    for (const auto& p : impl_->net.module().named_parameters()) {
      const auto m1 = adam_arrays.find("adam.exp_avg." + p.key());
      const auto m2 = adam_arrays.find("adam.exp_avg_sq." + p.key());
      const std::vector<std::int64_t> want(p.value().sizes().begin(), p.value().sizes().end());
      if (m1 == adam_arrays.end() || m2 == adam_arrays.end() || m1->second.shape != want ||
          m2->second.shape != want) {
        throw ModelFileError(src + ": optimiser state of '" + p.key() + "' missing or misshapen");
      }
      auto s = std::make_unique<torch::optim::AdamParamState>();
      s->step(static_cast<std::int64_t>(steps));
      s->exp_avg(
          torch::from_blob(m1->second.values.data(), p.value().sizes(), torch::kFloat32).clone());
      s->exp_avg_sq(
          torch::from_blob(m2->second.values.data(), p.value().sizes(), torch::kFloat32).clone());
      adam_state[state_key(p.value())] = std::move(s);
    }
  }
  impl_->steps = steps;
  return j.at("state").dump();
}

}  // namespace linksim
