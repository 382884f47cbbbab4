#include "nn_compress/inference_bench.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "nn_compress/inference.hpp"
#include "nn_compress/nn_feedback.hpp"

namespace linksim {
namespace {

using nlohmann::json;

constexpr const char* kDenseLayers[] = {"encoder_fc.weight", "decoder_fc.weight"};
constexpr std::uint64_t kTestSeed = 11;

/// The q-quantile (0..1) of v (nearest rank).
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(v.size() - 1, std::max<std::size_t>(i, 0))];
}

/// Fraction of exact zeros in the dense layers' weights.
double dense_zero_fraction(const CsiAutoencoder& model) {
  std::size_t zeros = 0, total = 0;
  for (const NamedArray& a : model.state()) {
    if (std::find(std::begin(kDenseLayers), std::end(kDenseLayers), a.name) ==
        std::end(kDenseLayers)) {
      continue;
    }
    total += a.values.size();
    zeros += static_cast<std::size_t>(std::count(a.values.begin(), a.values.end(), 0.0F));
  }
  return total == 0 ? 0.0 : static_cast<double>(zeros) / static_cast<double>(total);
}

}  // namespace

std::string bench_csi_inference(const std::filesystem::path& model, double prune_sparsity,
                                double seconds, unsigned threads) {
  InferenceBenchOptions options;
  options.prune_sparsity = prune_sparsity;
  options.seconds = seconds;
  options.threads = threads;
  return bench_csi_inference(model, options);
}

std::string bench_csi_inference(const std::filesystem::path& model_file,
                                const InferenceBenchOptions& options) {
  if (options.batch == 0 || options.test_samples < options.batch) {
    throw std::invalid_argument("bench_csi_inference: need 0 < batch <= test_samples");
  }
  const double prune_sparsity = options.prune_sparsity, seconds = options.seconds;
  const unsigned threads = options.threads;
  const std::size_t batch_size = options.batch;
  CsiAutoencoder model = CsiAutoencoder::load(model_file);
  if (prune_sparsity > 0.0) {
    PostTrainingCompression post;
    post.sparsity = prune_sparsity;
    model = post_training_compress(model, model_file, post).model;
  }

  const arma::mat x = indoor_csi_samples(options.test_samples, kTestSeed);
  const arma::mat one = x.col(0);
  const arma::mat batch = x.head_cols(batch_size);

  json out;
  out["model"] = model_file.string();
  out["arch"] = std::string(arch_name(model.arch()));
  out["cr"] = model.cr();
  out["prune_sparsity"] = prune_sparsity;
  out["dense_zero_fraction"] = dense_zero_fraction(model);
  out["threads"] = threads;
  out["test_samples"] = options.test_samples;
  out["batch"] = batch_size;

  arma::mat codes_torch, x_torch;
  double torch_p50 = 0.0, torch_tp = 0.0;
  json rows = json::array();
  for (const InferenceBackend b : kInferenceBackends) {
    if (b == InferenceBackend::Auto) continue;
    json row;
    row["backend"] = std::string(backend_name(b));
    try {
      // Batch-1 latency on one thread.
      const auto single = make_csi_inference(model, b, 1);
      const std::vector<double> us = time_passes_us(*single, one, seconds, 20);
      const double p50 = quantile(us, 0.5);
      row["latency_us"] = {{"p50", p50}, {"p99", quantile(us, 0.99)}, {"runs", us.size()}};
      // Batched throughput on all threads, and parity on the test samples.
      const auto multi = make_csi_inference(model, b, threads);
      const std::vector<double> batch_us = time_passes_us(*multi, batch, seconds, 3);
      const double tp = static_cast<double>(batch_size) / (quantile(batch_us, 0.5) * 1e-6);
      row["throughput_samples_per_s"] = tp;
      const arma::mat codes = multi->encode(x);
      const arma::mat x_hat = multi->decode(codes);
      if (b == InferenceBackend::Torch) {
        codes_torch = codes;
        x_torch = x_hat;
        torch_p50 = p50;
        torch_tp = tp;
      }
      const ParityError e = parity_error(x, x_hat, x_torch);
      row["parity"] = {{"max_abs", e.max_abs},
                       {"max_rel", e.max_rel},
                       {"code_max_abs", arma::abs(codes - codes_torch).max()},
                       {"within_tolerance", parity_ok(b, e)}};
      row["nmse_db"] = e.nmse_db;
      row["vs_torch"] = {{"latency_speedup", torch_p50 / p50}, {"throughput_ratio", tp / torch_tp}};
    } catch (const std::runtime_error& e) {
      row["error"] = e.what();
    } catch (const std::invalid_argument& e) {
      row["error"] = e.what();
    }
    rows.push_back(row);
  }
  out["backends"] = rows;
  const auto chosen = make_csi_inference(model, InferenceBackend::Auto, threads);
  out["auto"] = {{"chosen", std::string(backend_name(chosen->backend()))},
                 {"description", chosen->description()}};
  return out.dump(2);
}

}  // namespace linksim
