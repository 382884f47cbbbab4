#include "nn_compress/csi_autoencoder.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "nn_compress/compact_model.hpp"
#include "nn_compress/csi_network.hpp"

namespace linksim {
namespace {

/// Whether `file` starts with the compact format's magic (compact_model.hpp).
bool is_compact_model_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string magic(8, '\0');
  return in.read(magic.data(), 8) && magic == "LSNNCMPT";
}

using nlohmann::json;

constexpr const char* kFormat = "linksim-nn-csi-autoencoder";
constexpr const char* kNormalisation = "per_sample_max_abs";
/// Samples per forward pass inside encode/decode (bounds the activation memory).
constexpr arma::uword kChunk = 1024;

struct ArchEntry {
  CsiArch arch;
  std::string_view name;
};
constexpr ArchEntry kArchNames[] = {{CsiArch::CsiNet, "csinet"},
                                    {CsiArch::CrNet, "crnet"},
                                    {CsiArch::CsiNetPlus, "csinetplus"},
                                    {CsiArch::ConvCsiNet, "convcsinet"},
                                    {CsiArch::ConvSquCsiNet, "convsqucsinet"}};

std::string arch_list() {
  std::string s;
  for (const auto& e : kArchNames) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}

/// Copies columns [first, first + n) of x (float or double) into a float tensor [n, 2048].
template <class Mat>
torch::Tensor columns_to_tensor(const Mat& x, arma::uword first, arma::uword n) {
  torch::Tensor t = torch::empty(
      {static_cast<std::int64_t>(n), static_cast<std::int64_t>(x.n_rows)}, torch::kFloat32);
  float* p = t.data_ptr<float>();
  const auto* src = x.colptr(first);
  std::transform(src, src + n * x.n_rows, p, [](auto v) { return static_cast<float>(v); });
  return t;
}

}  // namespace

std::string_view arch_name(CsiArch arch) {
  for (const auto& e : kArchNames) {
    if (e.arch == arch) return e.name;
  }
  return "?";
}

std::optional<CsiArch> csi_arch_named(std::string_view name) {
  for (const auto& e : kArchNames) {
    if (e.name == name) return e.arch;
  }
  return std::nullopt;
}

std::size_t csi_code_values(CsiArch arch, std::size_t cr) {
  const std::string what =
      std::string(arch_name(arch)) + ": compression ratio 1/" + std::to_string(cr);
  if (cr == 0 || cr > kCsiValues || kCsiValues % cr != 0) {
    throw std::invalid_argument(what + " is not realisable: cr must divide 2048");
  }
  if ((arch == CsiArch::ConvCsiNet || arch == CsiArch::ConvSquCsiNet) &&
      (cr < 4 || (cr & (cr - 1)) != 0)) {
    throw std::invalid_argument(what + " is not realisable: cr must be a power of two >= 4");
  }
  return kCsiValues / cr;
}

arma::fmat normalise_csi(const arma::fmat& x, arma::frowvec& scales) {
  if (x.n_rows != kCsiValues) {
    throw std::invalid_argument("normalise_csi: expected 2048 values per sample, got " +
                                std::to_string(x.n_rows));
  }
  arma::fmat u(x.n_rows, x.n_cols);
  scales.set_size(x.n_cols);
  for (arma::uword c = 0; c < x.n_cols; ++c) {
    const float s = arma::abs(x.col(c)).max();
    scales(c) = s;
    if (s > 0.0F && std::isfinite(s)) {
      u.col(c) = 0.5F + x.col(c) / (2.0F * s);
    } else {
      u.col(c).fill(0.5F);
    }
  }
  return u;
}

void set_torch_threads(unsigned threads) {
  const unsigned n = threads == 0 ? std::max(1U, std::thread::hardware_concurrency()) : threads;
  at::set_num_threads(static_cast<int>(n));
}

struct CsiAutoencoder::Impl {
  CsiArch arch;
  std::size_t cr;
  std::size_t m;
  std::unique_ptr<detail::CsiNetwork> net;
  json training = json::object();
  json compression;  ///< null, or the compression record (see set_compression_record)
};

detail::CsiNetwork& network_of(CsiAutoencoder& model) {
  return *model.impl_->net;
}

CsiAutoencoder::CsiAutoencoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CsiAutoencoder::CsiAutoencoder(CsiArch arch, std::size_t cr, std::uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  impl->arch = arch;
  impl->cr = cr;
  impl->m = csi_code_values(arch, cr);
  torch::manual_seed(seed);
  impl->net = detail::make_csi_network(arch, cr);
  impl->net->module().eval();
  impl_ = std::move(impl);
}

CsiAutoencoder::CsiAutoencoder(CsiAutoencoder&&) noexcept = default;
CsiAutoencoder& CsiAutoencoder::operator=(CsiAutoencoder&&) noexcept = default;
CsiAutoencoder::~CsiAutoencoder() = default;

CsiArch CsiAutoencoder::arch() const {
  return impl_->arch;
}
std::size_t CsiAutoencoder::cr() const {
  return impl_->cr;
}
std::size_t CsiAutoencoder::code_values() const {
  return impl_->m;
}

std::size_t CsiAutoencoder::parameter_count() const {
  std::size_t n = 0;
  for (const auto& p : impl_->net->module().parameters()) n += static_cast<std::size_t>(p.numel());
  return n;
}

arma::mat CsiAutoencoder::encode(const arma::mat& x) const {
  if (x.n_rows != kCsiValues) {
    throw std::invalid_argument(std::string(arch_name(impl_->arch)) +
                                " encoder: expected 2048 values per sample, got " +
                                std::to_string(x.n_rows));
  }
  if (!x.is_finite()) throw std::invalid_argument("NN encoder: input holds NaN or Inf");
  const arma::uword m = impl_->m;
  arma::mat codes(m + 1, x.n_cols);
  c10::InferenceMode guard;
  for (arma::uword first = 0; first < x.n_cols; first += kChunk) {
    const arma::uword n = std::min(kChunk, x.n_cols - first);
    torch::Tensor u = columns_to_tensor(x, first, n);
    // Per-sample scale, rounded to float32 as it is fed back.
    const torch::Tensor s = u.abs().amax(1, /*keepdim=*/true);
    const torch::Tensor safe = torch::where(s > 0, s, torch::ones_like(s));
    u = torch::where(s > 0, 0.5 + u / (2.0 * safe), torch::full_like(u, 0.5));
    const torch::Tensor z =
        impl_->net->encode(u.view({static_cast<std::int64_t>(n), 2, kCsiRows, kCsiAntennas}))
            .contiguous();
    const float* zp = z.data_ptr<float>();
    const float* sp = s.data_ptr<float>();
    for (arma::uword b = 0; b < n; ++b) {
      double* col = codes.colptr(first + b);
      std::copy(zp + b * m, zp + (b + 1) * m, col);
      col[m] = sp[b];
    }
  }
  return codes;
}

arma::mat CsiAutoencoder::decode(const arma::mat& codes) const {
  const arma::uword m = impl_->m;
  if (codes.n_rows != m + 1) {
    throw std::invalid_argument(std::string(arch_name(impl_->arch)) + " decoder: expected " +
                                std::to_string(m + 1) +
                                " feedback values per sample (M = " + std::to_string(m) +
                                " code values and the scale), got " + std::to_string(codes.n_rows));
  }
  arma::mat x(kCsiValues, codes.n_cols);
  c10::InferenceMode guard;
  for (arma::uword first = 0; first < codes.n_cols; first += kChunk) {
    const arma::uword n = std::min(kChunk, codes.n_cols - first);
    const arma::mat block = codes(arma::span(0, m - 1), arma::span(first, first + n - 1));
    const torch::Tensor z = columns_to_tensor(block, 0, n);
    const torch::Tensor u = impl_->net->decode(z).contiguous();
    const float* up = u.data_ptr<float>();
    for (arma::uword b = 0; b < n; ++b) {
      const double s = codes(m, first + b);
      double* col = x.colptr(first + b);
      const float* ub = up + b * kCsiValues;
      for (std::size_t i = 0; i < kCsiValues; ++i) {
        col[i] = 2.0 * s * (static_cast<double>(ub[i]) - 0.5);
      }
    }
  }
  return x;
}

std::string CsiAutoencoder::metadata_json() const {
  json j;
  j["format"] = kFormat;
  j["format_version"] = kModelFileVersion;
  j["architecture"] = std::string(arch_name(impl_->arch));
  j["cr"] = impl_->cr;
  j["code_values"] = impl_->m;
  j["feedback_values"] = impl_->m + 1;
  j["parameters"] = parameter_count();
  j["input"] = {
      {"values", kCsiValues},
      {"shape", {2, kCsiRows, kCsiAntennas}},
      {"layout", "flatten_csi: x[c*1024 + r*32 + k], c = real/imag, r = delay row, k = antenna"}};
  j["normalisation"] = {
      {"kind", kNormalisation},
      {"network_input", "u = 0.5 + x / (2 s), s = max_i |x_i| per sample (u = 0.5 if s = 0)"},
      {"feedback", "M code values, then s as one float32 (M + 1 values per sample)"},
      {"output", "x_hat = 2 s (u_hat - 0.5)"}};
  j["hyper_parameters"] = json::parse(impl_->net->hyper_parameters_json());
  j["training"] = impl_->training;
  if (!impl_->compression.is_null()) j["compression"] = impl_->compression;
  return j.dump(2);
}

void CsiAutoencoder::set_compression_record(const std::string& json_object) {
  json j = json::parse(json_object, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw std::invalid_argument("compression record: not a JSON object");
  impl_->compression = std::move(j);
}

std::string CsiAutoencoder::compression_record() const {
  return impl_->compression.is_null() ? std::string() : impl_->compression.dump(2);
}

void CsiAutoencoder::set_training_record(const std::string& json_object) {
  json j = json::parse(json_object, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw std::invalid_argument("training record: not a JSON object");
  impl_->training = std::move(j);
}

std::string CsiAutoencoder::training_record() const {
  return impl_->training.dump(2);
}

std::vector<NamedArray> CsiAutoencoder::state() const {
  std::vector<NamedArray> out;
  torch::nn::Module& mod = impl_->net->module();
  const auto add = [&](const std::string& name, const torch::Tensor& t) {
    const torch::Tensor f = t.detach().to(torch::kFloat32).contiguous();
    NamedArray a;
    a.name = name;
    for (auto d : f.sizes()) a.shape.push_back(d);
    a.values.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
    out.push_back(std::move(a));
  };
  for (const auto& p : mod.named_parameters()) add(p.key(), p.value());
  for (const auto& b : mod.named_buffers()) add(b.key(), b.value());
  return out;
}

void CsiAutoencoder::load_state(const std::vector<NamedArray>& arrays, const std::string& source) {
  std::map<std::string, const NamedArray*> by_name;
  for (const NamedArray& a : arrays) {
    if (!by_name.emplace(a.name, &a).second) {
      throw ModelFileError(source + ": array '" + a.name + "' appears twice");
    }
  }
  torch::nn::Module& mod = impl_->net->module();
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  for (const auto& p : mod.named_parameters()) targets.emplace_back(p.key(), p.value());
  for (const auto& b : mod.named_buffers()) targets.emplace_back(b.key(), b.value());
  const std::string arch =
      std::string(arch_name(impl_->arch)) + " at CR " + std::to_string(impl_->cr);
  for (const auto& [name, t] : targets) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      throw ModelFileError(source + ": array '" + name + "' of " + arch +
                           " is missing (not a model of this architecture)");
    }
    const NamedArray& a = *it->second;
    const std::vector<std::int64_t> want(t.sizes().begin(), t.sizes().end());
    if (a.shape != want) {
      throw ModelFileError(source + ": array '" + name + "' has the wrong shape for " + arch);
    }
    try {
      torch::NoGradGuard no_grad;
      const torch::Tensor src =
          torch::from_blob(const_cast<float*>(a.values.data()), t.sizes(), torch::kFloat32);
      t.copy_(src.to(t.scalar_type()));
    } catch (const c10::Error& e) {
      throw ModelFileError(source + ": cannot load array '" + name +
                           "': " + e.what_without_backtrace());
    }
    by_name.erase(it);
  }
  if (!by_name.empty()) {
    throw ModelFileError(source + ": unexpected array '" + by_name.begin()->first + "' for " +
                         arch + " (a different architecture or version)");
  }
}

CsiAutoencoder CsiAutoencoder::with_state(const CsiAutoencoder& like,
                                          const std::vector<NamedArray>& arrays) {
  auto impl = std::make_unique<Impl>();
  impl->arch = like.impl_->arch;
  impl->cr = like.impl_->cr;
  impl->m = like.impl_->m;
  impl->net = detail::make_csi_network(impl->arch, impl->cr);
  impl->net->module().eval();
  impl->training = like.impl_->training;
  impl->compression = like.impl_->compression;
  CsiAutoencoder model(std::move(impl));
  model.load_state(arrays, "weights of a " + std::string(arch_name(model.arch())) + " model");
  return model;
}

void CsiAutoencoder::save(const std::filesystem::path& file) const {
  ModelFileContents c;
  c.kind = ModelFileKind::Model;
  c.metadata_json = metadata_json();
  c.arrays = state();
  write_model_file(file, c);
}

CsiAutoencoder CsiAutoencoder::load(const std::filesystem::path& file) {
  // A compact model (.lsnnc) decodes to the same metadata and float32 arrays.
  ModelFileContents c;
  if (is_compact_model_file(file)) {
    CompactModel compact = read_compact_model(file);
    c.metadata_json = std::move(compact.metadata_json);
    for (CompactLayer& l : compact.layers) c.arrays.push_back(std::move(l.array));
    try {  // low-rank layers are stored as two factors
      c.arrays = compose_factors(std::move(c.arrays));
    } catch (const std::invalid_argument& e) {
      throw ModelFileError(file.string() + ": " + e.what());
    }
  } else {
    c = read_model_file(file, ModelFileKind::Model);
  }
  const std::string src = file.string();
  const json j = json::parse(c.metadata_json);
  const auto text = [&](const char* key) {
    if (!j.contains(key) || !j.at(key).is_string()) {
      throw ModelFileError(src + ": metadata lacks the text field '" + key + "'");
    }
    return j.at(key).get<std::string>();
  };
  if (text("format") != kFormat) {
    throw ModelFileError(src + ": metadata format '" + text("format") + "', expected " + kFormat);
  }
  const std::string arch_text = text("architecture");
  const auto arch = csi_arch_named(arch_text);
  if (!arch) {
    throw ModelFileError(src + ": unknown architecture '" + arch_text + "'; valid: " + arch_list());
  }
  if (!j.contains("cr") || !j.at("cr").is_number_unsigned()) {
    throw ModelFileError(src + ": metadata lacks the compression ratio 'cr'");
  }
  const auto cr = j.at("cr").get<std::size_t>();
  if (!j.contains("normalisation") || !j.at("normalisation").is_object() ||
      j.at("normalisation").value("kind", "") != kNormalisation) {
    throw ModelFileError(src + ": unsupported input normalisation (this linksim knows " +
                         kNormalisation + ")");
  }
  auto impl = std::make_unique<Impl>();
  impl->arch = *arch;
  impl->cr = cr;
  try {
    impl->m = csi_code_values(*arch, cr);
  } catch (const std::invalid_argument& e) {
    throw ModelFileError(src + ": " + e.what());
  }
  impl->net = detail::make_csi_network(*arch, cr);
  impl->net->module().eval();
  if (j.contains("training") && j.at("training").is_object()) impl->training = j.at("training");
  if (j.contains("compression") && j.at("compression").is_object()) {
    impl->compression = j.at("compression");
  }
  CsiAutoencoder model(std::move(impl));
  model.load_state(c.arrays, src);
  return model;
}

}  // namespace linksim
