#include "nn_compress/nn_feedback.hpp"

#include <limits>
#include <nlohmann/json.hpp>

#include "nn_compress/compact_model.hpp"
#include "nn_compress/compress_pipeline.hpp"

namespace linksim {

NnCsiFeedback::NnCsiFeedback(CsiAutoencoder model, std::unique_ptr<CsiInference> inference,
                             std::uint64_t model_bytes)
    : model_(std::move(model)), inference_(std::move(inference)) {
  info_.backend = std::string(backend_name(inference_->backend()));
  info_.model_bytes = model_bytes;
  info_.weight_bits = 32;
  const std::string record = model_.compression_record();
  if (!record.empty()) {
    const auto j = nlohmann::json::parse(record);
    info_.sparsity = j.value("sparsity", 0.0);
    info_.weight_bits = j.value("weight_bits", 32U);
  }
}

std::string NnCsiFeedback::name() const {
  return std::string(arch_name(model_.arch()));
}

arma::mat NnCsiFeedback::encode(const arma::mat& x) const {
  return inference_->encode(x);
}

arma::mat NnCsiFeedback::decode(const arma::mat& feedback) const {
  return inference_->decode(feedback);
}

std::size_t NnCsiFeedback::feedback_values() const {
  return model_.feedback_values();
}

CsiFeedbackInfo NnCsiFeedback::info() const {
  return info_;
}

namespace {

/// The plan of a post-training compression of `m` (file `model`): on an uncompressed model,
/// pruning and / or the precision; on a pruned fp32 one, its zeros as the mask and the precision.
/// Throws AlreadyCompressedError for anything else.
CompressPlan post_training_plan(const CsiAutoencoder& m, const std::filesystem::path& model,
                                const PostTrainingCompression& post) {
  CompressPlan plan;
  plan.layers = CompressLayers::Dense;
  if (!m.compression_record().empty()) {
    const auto record = nlohmann::json::parse(m.compression_record());
    bool pruned_only =
        record.value("layers_compressed", "") == "dense" && record.value("weight_bits", 0U) == 32;
    for (const auto& step : record.value("steps", nlohmann::json::array())) {
      const std::string name = step.value("step", "");
      pruned_only = pruned_only && (name == "prune" || name == "finetune" || name == "gradual");
    }
    if (!pruned_only || post.sparsity > 0) {
      throw AlreadyCompressedError(
          model.string() +
          " is compressed already; post-training pruning applies to uncompressed models, and "
          "post-training precision to uncompressed or pruned (fp32, dense layers) ones");
    }
    if (record.value("sparsity", 0.0) > 0) {
      plan.prune_method = PruneMethod::Threshold;  // exactly its zeros
      plan.threshold = std::numeric_limits<float>::min();
      plan.steps.push_back(CompressStep::Prune);
    }
  }
  plan.sparsity = post.sparsity;
  if (post.sparsity > 0) plan.steps.push_back(CompressStep::Prune);
  if (post.precision == WeightPrecision::Fp16) plan.steps.push_back(CompressStep::Fp16);
  if (post.precision == WeightPrecision::Int8) plan.steps.push_back(CompressStep::Int8);
  return plan;
}

}  // namespace

PostTrainingOutcome post_training_compress(const CsiAutoencoder& m,
                                           const std::filesystem::path& file,
                                           const PostTrainingCompression& post) {
  if (!(post.sparsity >= 0.0 && post.sparsity < 1.0)) {
    throw std::invalid_argument("post-training compression: sparsity must lie in [0, 1)");
  }
  const CompressPlan plan = post_training_plan(m, file, post);
  const nlohmann::json recipe = {
      {"input_model", file.string()},
      {"input_compression", m.compression_record().empty()
                                ? nlohmann::json()
                                : nlohmann::json::parse(m.compression_record())},
      {"post_training", true},
      {"sparsity", post.sparsity}};
  const CompressOutcome o = compress_csi_model(m, plan, {}, recipe.dump());
  // The model as its compact file would hold it: encoded, then decoded back.
  const std::string file_bytes = encode_compact_model(o.compact);
  const CompactModel decoded = decode_compact_model(file_bytes, file.string() + " (compressed)");
  std::vector<NamedArray> arrays;
  for (const CompactLayer& l : decoded.layers) arrays.push_back(l.array);
  CsiAutoencoder compressed = CsiAutoencoder::with_state(m, compose_factors(std::move(arrays)));
  compressed.set_compression_record(
      nlohmann::json::parse(decoded.metadata_json).at("compression").dump());
  return {std::move(compressed), file_bytes.size()};
}

std::unique_ptr<CsiFeedback> make_nn_feedback(const std::filesystem::path& model,
                                              InferenceBackend backend, unsigned threads,
                                              const PostTrainingCompression& post) {
  CsiAutoencoder m = CsiAutoencoder::load(model);
  std::uint64_t bytes = std::filesystem::file_size(model);
  if (post.active()) {
    PostTrainingOutcome o = post_training_compress(m, model, post);
    m = std::move(o.model);
    bytes = o.bytes;
  }
  std::unique_ptr<CsiInference> inference = make_csi_inference(m, backend, threads);
  return std::make_unique<NnCsiFeedback>(std::move(m), std::move(inference), bytes);
}

}  // namespace linksim
