#include "nn_compress/inference.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "blocks/cs.hpp"
#include "channels/csi_dataset.hpp"
#include "nn_compress/csinet_engine.hpp"

namespace linksim {
namespace {

struct BackendEntry {
  InferenceBackend backend;
  std::string_view name;
};
constexpr BackendEntry kNames[] = {{InferenceBackend::Torch, "torch"},
                                   {InferenceBackend::Xnnpack, "xnnpack"},
                                   {InferenceBackend::XnnpackSparse, "xnnpack-sparse"},
                                   {InferenceBackend::Int8, "int8"},
                                   {InferenceBackend::Sparse, "sparse"},
                                   {InferenceBackend::SparseInt8, "sparse-int8"},
                                   {InferenceBackend::Auto, "auto"}};

/// Candidates of Auto, in order of preference on a tie.
constexpr InferenceBackend kAutoCandidates[] = {
    InferenceBackend::Xnnpack, InferenceBackend::Sparse,        InferenceBackend::SparseInt8,
    InferenceBackend::Int8,    InferenceBackend::XnnpackSparse, InferenceBackend::Torch};

detail::DenseKind dense_kind(InferenceBackend b) {
  switch (b) {
    case InferenceBackend::Xnnpack:
      return detail::DenseKind::Xnnpack;
    case InferenceBackend::XnnpackSparse:
      return detail::DenseKind::XnnpackSparse;
    case InferenceBackend::Int8:
      return detail::DenseKind::Int8;
    case InferenceBackend::Sparse:
      return detail::DenseKind::SparseF32;
    case InferenceBackend::SparseInt8:
      return detail::DenseKind::SparseI8;
    default:
      throw std::invalid_argument("no CsiNet engine for backend " + std::string(backend_name(b)));
  }
}

class TorchInference final : public CsiInference {
 public:
  explicit TorchInference(const CsiAutoencoder& model)
      : model_(model.arch(), model.cr(), /*seed=*/0) {
    model_.load_state(model.state(), "in-memory model");
  }
  arma::mat encode(const arma::mat& x) const override { return model_.encode(x); }
  arma::mat decode(const arma::mat& codes) const override { return model_.decode(codes); }
  InferenceBackend backend() const override { return InferenceBackend::Torch; }
  std::size_t code_values() const override { return model_.code_values(); }
  std::string description() const override { return "torch"; }

 private:
  CsiAutoencoder model_;
};

/// A CsiNet engine behind the raw-scale interface (normalise_csi in, 2 s (u_hat - 0.5) out).
class EngineInference final : public CsiInference {
 public:
  EngineInference(const CsiAutoencoder& model, InferenceBackend backend, unsigned threads)
      : backend_(backend), engine_(model, dense_kind(backend), threads) {}

  arma::mat encode(const arma::mat& x) const override {
    if (x.n_rows != kCsiValues) {
      throw std::invalid_argument(std::string(backend_name(backend_)) +
                                  " encoder: expected 2048 values per sample, got " +
                                  std::to_string(x.n_rows));
    }
    if (!x.is_finite()) throw std::invalid_argument("NN encoder: input holds NaN or Inf");
    arma::frowvec scales;
    const arma::fmat u = normalise_csi(arma::conv_to<arma::fmat>::from(x), scales);
    arma::fmat code;
    {
      const std::lock_guard lock(mutex_);
      engine_.encode(u, code);
    }
    arma::mat codes(code.n_rows + 1, x.n_cols);
    codes.head_rows(code.n_rows) = arma::conv_to<arma::mat>::from(code);
    codes.row(code.n_rows) = arma::conv_to<arma::rowvec>::from(scales);
    return codes;
  }

  arma::mat decode(const arma::mat& codes) const override {
    const std::size_t m = engine_.code_values();
    if (codes.n_rows != m + 1) {
      throw std::invalid_argument(
          std::string(backend_name(backend_)) + " decoder: expected " + std::to_string(m + 1) +
          " feedback values per sample (M = " + std::to_string(m) +
          " code values and the scale), got " + std::to_string(codes.n_rows));
    }
    const arma::fmat z = arma::conv_to<arma::fmat>::from(codes.head_rows(m));
    arma::fmat u_hat;
    {
      const std::lock_guard lock(mutex_);
      engine_.decode(z, u_hat);
    }
    arma::mat x(kCsiValues, codes.n_cols);
    for (arma::uword b = 0; b < codes.n_cols; ++b) {
      const double s = codes(m, b);
      const float* u = u_hat.colptr(b);
      double* col = x.colptr(b);
      for (std::size_t i = 0; i < kCsiValues; ++i) {
        col[i] = 2.0 * s * (static_cast<double>(u[i]) - 0.5);
      }
    }
    return x;
  }
  InferenceBackend backend() const override { return backend_; }
  std::size_t code_values() const override { return engine_.code_values(); }
  std::string description() const override { return std::string(backend_name(backend_)); }

 private:
  InferenceBackend backend_;
  mutable std::mutex mutex_;
  mutable detail::CsiNetEngine engine_;
};

/// The backend Auto chose, and what it measured.
class AutoInference final : public CsiInference {
 public:
  AutoInference(std::unique_ptr<CsiInference> chosen, std::string report)
      : chosen_(std::move(chosen)), report_(std::move(report)) {}
  arma::mat encode(const arma::mat& x) const override { return chosen_->encode(x); }
  arma::mat decode(const arma::mat& codes) const override { return chosen_->decode(codes); }
  InferenceBackend backend() const override { return chosen_->backend(); }
  std::size_t code_values() const override { return chosen_->code_values(); }
  std::string description() const override { return report_; }

 private:
  std::unique_ptr<CsiInference> chosen_;
  std::string report_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

std::unique_ptr<CsiInference> make_auto(const CsiAutoencoder& model, unsigned threads) {
  auto torch = std::make_unique<TorchInference>(model);
  set_torch_threads(threads);
  if (model.arch() != CsiArch::CsiNet) {
    return std::make_unique<AutoInference>(
        std::move(torch),
        "auto: torch (" + std::string(arch_name(model.arch())) + " runs on torch only)");
  }
  const arma::mat x = indoor_csi_samples(32, 7);
  const arma::mat x_torch = torch->reconstruct(x);
  const arma::mat one = x.col(0);
  constexpr double kSeconds = 0.1;
  constexpr std::size_t kMinRuns = 10;
  std::ostringstream report;
  std::unique_ptr<CsiInference> best;
  double best_us = 0.0;
  for (const InferenceBackend b : kAutoCandidates) {
    std::unique_ptr<CsiInference> candidate;
    if (b == InferenceBackend::Torch) {
      candidate = std::move(torch);
    } else {
      try {
        candidate = std::make_unique<EngineInference>(model, b, threads);
      } catch (const std::runtime_error& e) {
        report << ' ' << backend_name(b) << " refused (" << e.what() << ");";
        continue;
      }
    }
    const bool ok = b == InferenceBackend::Torch ||
                    parity_ok(b, parity_error(x, candidate->reconstruct(x), x_torch));
    const double us = median(time_passes_us(*candidate, one, kSeconds, kMinRuns));
    report << ' ' << backend_name(b) << ' ' << std::lround(us) << " us"
           << (ok ? "" : " (parity failed)") << ';';
    if (ok && (!best || us < best_us)) {
      best = std::move(candidate);
      best_us = us;
    }
  }
  std::string text = report.str();
  if (!text.empty() && text.back() == ';') text.pop_back();
  const std::string head = "auto: " + std::string(backend_name(best->backend())) +
                           " (batch-1 median per sample, encode + decode:";
  return std::make_unique<AutoInference>(std::move(best), head + text + ")");
}

}  // namespace

std::string_view backend_name(InferenceBackend backend) {
  for (const auto& e : kNames) {
    if (e.backend == backend) return e.name;
  }
  return "?";
}

std::optional<InferenceBackend> inference_backend_named(std::string_view name) {
  for (const auto& e : kNames) {
    if (e.name == name) return e.backend;
  }
  return std::nullopt;
}

std::string inference_backend_list() {
  std::string s;
  for (const auto& e : kNames) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}

bool is_int8_backend(InferenceBackend backend) {
  return backend == InferenceBackend::Int8 || backend == InferenceBackend::SparseInt8;
}

std::unique_ptr<CsiInference> make_csi_inference(const CsiAutoencoder& model,
                                                 InferenceBackend backend, unsigned threads) {
  switch (backend) {
    case InferenceBackend::Torch:
      set_torch_threads(threads);
      return std::make_unique<TorchInference>(model);
    case InferenceBackend::Auto:
      return make_auto(model, threads);
    default:
      if (model.arch() != CsiArch::CsiNet) {
        throw std::invalid_argument("inference backend '" + std::string(backend_name(backend)) +
                                    "' runs csinet only; " + std::string(arch_name(model.arch())) +
                                    " needs 'torch' (or 'auto')");
      }
      return std::make_unique<EngineInference>(model, backend, threads);
  }
}

ParityError parity_error(const arma::mat& x, const arma::mat& x_hat, const arma::mat& x_hat_torch) {
  if (x_hat.n_rows != x_hat_torch.n_rows || x_hat.n_cols != x_hat_torch.n_cols ||
      x.n_cols != x_hat.n_cols) {
    throw std::invalid_argument("parity_error: shape mismatch");
  }
  ParityError e;
  for (arma::uword b = 0; b < x_hat.n_cols; ++b) {
    const double diff = arma::abs(x_hat.col(b) - x_hat_torch.col(b)).max();
    const double peak = arma::abs(x_hat_torch.col(b)).max();
    e.max_abs = std::max(e.max_abs, diff);
    e.max_rel = std::max(e.max_rel, peak > 0.0 ? diff / peak : diff);
  }
  e.nmse_db = nmse_db_columns(x, x_hat);
  e.torch_nmse_db = nmse_db_columns(x, x_hat_torch);
  return e;
}

bool parity_ok(InferenceBackend backend, const ParityError& e) {
  if (is_int8_backend(backend)) return e.nmse_db - e.torch_nmse_db <= 0.2;
  return e.max_rel <= 1e-4;
}

arma::mat indoor_csi_samples(std::size_t n, std::uint64_t seed) {
  const CsiDataset d = generate_csi_dataset(Cost2100Scenario::IndoorHall5GHz, n, seed, 1, false);
  arma::mat x(kCsiValues, n);
  for (std::size_t i = 0; i < n; ++i) x.col(i) = flatten_csi(d.h_ad.slice(i));
  return x;
}

std::vector<double> time_passes_us(const CsiInference& inference, const arma::mat& x,
                                   double seconds, std::size_t min_runs) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < 2; ++i) (void)inference.reconstruct(x);
  std::vector<double> us;
  const auto start = Clock::now();
  while (us.size() < min_runs ||
         std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    const auto t0 = Clock::now();
    const arma::mat y = inference.reconstruct(x);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return us;
}

}  // namespace linksim
