#include "nn_compress/compress_pipeline.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "nn_compress/quantize.hpp"

namespace linksim {
namespace {

using json = nlohmann::ordered_json;

template <class E, std::size_t N>
std::optional<E> lookup(const std::array<std::pair<E, std::string_view>, N>& table,
                        std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}
template <class E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [v, n] : table) {
    if (v == e) return n;
  }
  return "?";
}

constexpr std::array<std::pair<CompressStep, std::string_view>, 10> kSteps{{
    {CompressStep::Prune, "prune"},
    {CompressStep::Cluster, "cluster"},
    {CompressStep::KMeans, "kmeans"},
    {CompressStep::Finetune, "finetune"},
    {CompressStep::Gradual, "gradual"},
    {CompressStep::LowRank, "lowrank"},
    {CompressStep::Separable, "separable"},
    {CompressStep::Int8, "int8"},
    {CompressStep::Fp16, "fp16"},
    {CompressStep::Uniform, "uniform"},
}};
constexpr std::array<std::pair<PruneMethod, std::string_view>, 6> kPruneMethods{{
    {PruneMethod::Magnitude, "magnitude"},
    {PruneMethod::Threshold, "threshold"},
    {PruneMethod::Rows, "rows"},
    {PruneMethod::Blocks4x1, "blocks4x1"},
    {PruneMethod::Blocks16x1, "blocks16x1"},
    {PruneMethod::TwoOfFour, "2:4"},
}};
constexpr std::array<std::pair<CompressLayers, std::string_view>, 3> kLayers{{
    {CompressLayers::Dense, "dense"},
    {CompressLayers::AllExceptFirstAndLast, "all_except_first_and_last"},
    {CompressLayers::All, "all"},
}};

/// One compressed weight while the plan runs.
struct Target {
  NamedArray* array = nullptr;
  MatrixDims dims;
  KeepMask keep;                           ///< empty: not pruned
  std::optional<Clustered> tied;           ///< shared weights (cluster / kmeans)
  LayerEncoding encoding;                  ///< coding set by the last value-coding step
  bool coded = false;                      ///< a value coding (int8 / fp16 / uniform) was applied
  std::optional<LowRankFactors> factors;   ///< lowrank: what is stored; values = reconstruct
  std::optional<SeparableConv> separable;  ///< separable: what is stored; values = reconstruct
};

bool factored(const Target& t) {
  return t.factors || t.separable;
}

/// Re-factorises a factored target at its rank (after fine-tuning moved it) and sets its values
/// to exactly what the factors give.
void refactorize(Target& t) {
  if (t.factors) {
    t.factors = factorize_low_rank(t.array->values, t.dims, t.factors->rank);
    t.array->values = reconstruct(*t.factors);
  } else if (t.separable) {
    t.separable = separate_conv(t.array->values, t.array->shape, t.separable->rank);
    t.array->values = reconstruct(*t.separable);
  }
}

/// Codes a factored target's two factors with `code` (a function of (values, rows, cols) giving
/// the stored values back; rows = the factor's first dimension) and its values to what they
/// give.
template <class F>
void code_factors(Target& t, F&& code) {
  if (t.factors) {
    LowRankFactors& f = *t.factors;
    f.a = code(f.a, f.dims.rows, f.rank);
    f.b = code(f.b, f.rank, f.dims.cols);
    t.array->values = reconstruct(f);
  } else {
    SeparableConv& sc = *t.separable;
    const auto in = static_cast<std::size_t>(sc.in), kh = static_cast<std::size_t>(sc.kh),
               out = static_cast<std::size_t>(sc.out), kw = static_cast<std::size_t>(sc.kw);
    sc.vertical = code(sc.vertical, sc.rank, in * kh);
    sc.horizontal = code(sc.horizontal, out, sc.rank * kw);
    t.array->values = reconstruct(sc);
  }
}

bool pruned(const Target& t) {
  return !t.keep.empty();
}

/// Pruned entries back to zero (after any step that changes values).
void reapply_mask(Target& t) {
  if (pruned(t)) apply_mask(t.array->values, t.keep);
}

/// Values of the kept entries (all entries when not pruned).
std::vector<float> kept_values(const Target& t) {
  if (!pruned(t)) return t.array->values;
  std::vector<float> v;
  for (std::size_t i = 0; i < t.keep.size(); ++i) {
    if (t.keep[i] != 0) v.push_back(t.array->values[i]);
  }
  return v;
}

/// Writes `values` (one per kept entry) back in order.
void set_kept_values(Target& t, const std::vector<float>& values) {
  if (!pruned(t)) {
    t.array->values = values;
    return;
  }
  std::size_t k = 0;
  for (std::size_t i = 0; i < t.keep.size(); ++i) {
    if (t.keep[i] != 0) t.array->values[i] = values[k++];
  }
}

/// Ties the kept weights of t to a clustering of them (pruned entries stay zero).
void tie(Target& t, Clustered c) {
  set_kept_values(t, dequantize(c));
  t.tied = std::move(c);
  t.encoding.coding = ValueCoding::Clustered;
}

/// Rounds a clustered layer's centroids with `round` (they stay shared).
template <class F>
void round_centroids(Target& t, F&& round) {
  for (float& c : t.tied->codebook) c = round(c);
  set_kept_values(t, dequantize(*t.tied));
}

void prune(std::vector<Target>& targets, const CompressPlan& plan) {
  std::vector<KeepMask> masks;
  if (plan.prune_method == PruneMethod::Magnitude && plan.prune_global) {
    std::vector<std::span<const float>> spans;
    for (const Target& t : targets) spans.emplace_back(t.array->values);
    masks = global_magnitude_prune_masks(spans, plan.sparsity);
  } else {
    for (const Target& t : targets) {
      const std::vector<float>& w = t.array->values;
      switch (plan.prune_method) {
        case PruneMethod::Magnitude:
          masks.push_back(magnitude_prune_mask(w, plan.sparsity));
          break;
        case PruneMethod::Threshold:
          masks.push_back(threshold_prune_mask(w, plan.threshold));
          break;
        case PruneMethod::Rows:
          masks.push_back(row_prune_mask(w, t.dims, plan.sparsity));
          break;
        case PruneMethod::Blocks4x1:
          masks.push_back(block_prune_mask(w, t.dims, plan.sparsity, 4));
          break;
        case PruneMethod::Blocks16x1:
          masks.push_back(block_prune_mask(w, t.dims, plan.sparsity, 16));
          break;
        case PruneMethod::TwoOfFour:
          masks.push_back(n_of_m_prune_mask(w, t.dims, 2, 4));
          break;
      }
    }
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    Target& t = targets[i];
    if (pruned(t)) {  // an already pruned weight stays pruned
      for (std::size_t j = 0; j < t.keep.size(); ++j) t.keep[j] &= masks[i][j];
    } else {
      t.keep = std::move(masks[i]);
    }
    t.encoding.layout = Layout::Sparse;
    reapply_mask(t);
    if (t.tied) {  // re-cluster what is left (same number of centroids)
      ClusterOptions o = plan.clustering;
      o.clusters = t.tied->codebook.size();
      tie(t, cluster_weights(kept_values(t), o));
    }
  }
}

}  // namespace

void validate_compress_plan(const CompressPlan& plan) {
  if (plan.sparsity < 0 || plan.sparsity >= 1) {
    throw std::invalid_argument("compression: sparsity must be in [0, 1)");
  }
  bool coded = false, clustered = false;
  for (const CompressStep s : plan.steps) {
    const std::string name(compress_step_name(s));
    switch (s) {
      case CompressStep::Finetune:
        break;
      case CompressStep::Gradual:
        if (plan.prune_method != PruneMethod::Magnitude || plan.prune_global) {
          throw std::invalid_argument(
              "compression: 'gradual' prunes by magnitude, per layer (prune.method = magnitude, "
              "prune.scope = per_layer)");
        }
        if (clustered) {
          throw std::invalid_argument(
              "compression: 'gradual' after cluster / kmeans; prune before clustering");
        }
        if (plan.gradual_epochs < 1 || plan.initial_sparsity < 0 ||
            plan.initial_sparsity >= plan.sparsity) {
          throw std::invalid_argument(
              "compression: 'gradual' needs gradual_epochs >= 1 and 0 <= initial sparsity < "
              "sparsity");
        }
        break;
      case CompressStep::Cluster:
      case CompressStep::KMeans:
        if (coded || clustered) {
          throw std::invalid_argument("compression: '" + name +
                                      "' after another value coding step; cluster first, then "
                                      "int8 / fp16 / uniform round the centroids");
        }
        clustered = true;
        break;
      case CompressStep::Int8:
      case CompressStep::Fp16:
      case CompressStep::Uniform:
        if (coded) {
          throw std::invalid_argument("compression: '" + name +
                                      "' after another of int8 / fp16 / uniform");
        }
        coded = true;
        break;
      case CompressStep::Prune:
        break;
      case CompressStep::LowRank:
      case CompressStep::Separable:
        if (coded) {
          throw std::invalid_argument("compression: '" + name + "' after a value coding step");
        }
        break;
    }
  }
  const auto has = [&](CompressStep s) {
    return std::find(plan.steps.begin(), plan.steps.end(), s) != plan.steps.end();
  };
  if (has(CompressStep::LowRank) || has(CompressStep::Separable)) {
    if (has(CompressStep::Prune) || has(CompressStep::Gradual) || has(CompressStep::Cluster) ||
        has(CompressStep::KMeans) ||
        std::count(plan.steps.begin(), plan.steps.end(), CompressStep::LowRank) > 1 ||
        std::count(plan.steps.begin(), plan.steps.end(), CompressStep::Separable) > 1) {
      throw std::invalid_argument(
          "compression: 'lowrank' and 'separable' combine only with each other, finetune and one "
          "of int8 / fp16 / uniform");
    }
    if (plan.rank < 1) throw std::invalid_argument("compression: the lowrank rank must be >= 1");
    if (has(CompressStep::Separable) && plan.layers == CompressLayers::Dense) {
      throw std::invalid_argument(
          "compression: 'separable' factorises conv kernels; select them (compress.layers = all "
          "or all_except_first_and_last)");
    }
  }
  const bool needs_bits =
      std::find(plan.steps.begin(), plan.steps.end(), CompressStep::Uniform) != plan.steps.end() ||
      std::find(plan.steps.begin(), plan.steps.end(), CompressStep::KMeans) != plan.steps.end();
  if (needs_bits && (plan.bits < 2 || plan.bits > 16)) {
    throw std::invalid_argument("compression: bits must be 2..16");
  }
}

std::string_view compress_step_name(CompressStep s) {
  return name_of(kSteps, s);
}
std::optional<CompressStep> compress_step_named(std::string_view name) {
  return lookup(kSteps, name);
}
std::string_view prune_method_name(PruneMethod m) {
  return name_of(kPruneMethods, m);
}
std::optional<PruneMethod> prune_method_named(std::string_view name) {
  return lookup(kPruneMethods, name);
}
std::string_view compress_layers_name(CompressLayers l) {
  return name_of(kLayers, l);
}
std::optional<CompressLayers> compress_layers_named(std::string_view name) {
  return lookup(kLayers, name);
}

CompressOutcome compress_csi_model(const CsiAutoencoder& input, const CompressPlan& plan,
                                   const FineTuneFn& finetune, const std::string& recipe_json) {
  validate_compress_plan(plan);
  const auto trains = [](CompressStep s) {
    return s == CompressStep::Finetune || s == CompressStep::Gradual;
  };
  if (!finetune && std::any_of(plan.steps.begin(), plan.steps.end(), trains)) {
    throw std::invalid_argument(
        "compression: a finetune / gradual step needs training (no callback given)");
  }
  const json recipe = json::parse(recipe_json, nullptr, /*allow_exceptions=*/false);
  if (!recipe.is_object()) throw std::invalid_argument("compression recipe: not a JSON object");
  std::vector<NamedArray> arrays = input.state();
  std::vector<std::size_t> chosen;
  if (plan.layers == CompressLayers::Dense) {
    std::vector<std::string> names;
    for (const NamedArray& a : arrays) {
      if (a.shape.size() == 2) names.push_back(a.name);
    }
    chosen = select_prunable(arrays, LayerSelection::Named, names);
  } else {
    chosen = select_prunable(arrays, plan.layers == CompressLayers::All
                                         ? LayerSelection::AllWeights
                                         : LayerSelection::AllExceptFirstAndLast);
  }
  std::vector<Target> targets;
  for (const std::size_t i : chosen) {
    Target t;
    t.array = &arrays[i];
    t.dims = matrix_dims(arrays[i].shape);
    t.encoding.entropy = plan.entropy;
    targets.push_back(std::move(t));
  }

  json steps = json::array();
  for (const CompressStep step : plan.steps) {
    json record = {{"step", compress_step_name(step)}};
    switch (step) {
      case CompressStep::Prune:
        prune(targets, plan);
        record["method"] = prune_method_name(plan.prune_method);
        if (plan.prune_method == PruneMethod::Threshold) {
          record["threshold"] = plan.threshold;
        } else {
          record["sparsity"] = plan.sparsity;
        }
        if (plan.prune_method == PruneMethod::Magnitude) record["global"] = plan.prune_global;
        break;
      case CompressStep::Cluster:
        for (Target& t : targets) tie(t, cluster_weights(kept_values(t), plan.clustering));
        record["clusters"] = plan.clustering.clusters;
        record["seed"] = plan.clustering.seed;
        break;
      case CompressStep::KMeans:
        for (Target& t : targets) {
          tie(t, kmeans_quantize(kept_values(t), plan.bits, ClusterInit::Linear,
                                 plan.clustering.seed));
        }
        record["bits"] = plan.bits;
        break;
      case CompressStep::Finetune:
      case CompressStep::Gradual: {
        CsiAutoencoder model = CsiAutoencoder::with_state(input, arrays);
        std::vector<WeightConstraint> constraints;
        for (const Target& t : targets) {
          WeightConstraint c;
          c.name = t.array->name;
          c.keep = t.keep;
          if (t.factors) c.rank = t.factors->rank;
          if (t.separable) c.separable_rank = t.separable->rank;
          if (t.tied) {
            if (pruned(t)) {  // pruned entries: an extra cluster, held at zero by the mask
              c.cluster.assign(t.keep.size(), static_cast<std::uint32_t>(t.tied->codebook.size()));
              std::size_t k = 0;
              for (std::size_t i = 0; i < t.keep.size(); ++i) {
                if (t.keep[i] != 0) c.cluster[i] = t.tied->index[k++];
              }
              c.clusters = t.tied->codebook.size() + 1;
            } else {
              c.cluster = t.tied->index;
              c.clusters = t.tied->codebook.size();
            }
          }
          constraints.push_back(std::move(c));
        }
        std::optional<GradualPruning> gradual;
        if (step == CompressStep::Gradual) {
          gradual.emplace();
          for (const Target& t : targets) gradual->names.push_back(t.array->name);
          gradual->schedule.initial_sparsity = plan.initial_sparsity;
          gradual->schedule.final_sparsity = plan.sparsity;
          gradual->schedule.begin_step = 0;
          gradual->schedule.frequency = 1;
          gradual->schedule.steps = static_cast<std::int64_t>(plan.gradual_epochs);
          record["initial_sparsity"] = plan.initial_sparsity;
          record["sparsity"] = plan.sparsity;
          record["epochs"] = plan.gradual_epochs;
        }
        finetune(model, constraints, gradual);
        const std::vector<NamedArray> tuned = model.state();
        for (std::size_t i = 0; i < arrays.size(); ++i) arrays[i].values = tuned[i].values;
        if (gradual) {  // the masks the fine-tuning ended with: its zeros
          for (Target& t : targets) {
            KeepMask keep(t.array->values.size());
            for (std::size_t i = 0; i < keep.size(); ++i) {
              keep[i] = t.array->values[i] != 0 && (!pruned(t) || t.keep[i] != 0) ? 1 : 0;
            }
            t.keep = std::move(keep);
            t.encoding.layout = Layout::Sparse;
          }
        }
        for (Target& t : targets) {  // the factors, the centroids after fine-tuning
          refactorize(t);
          reapply_mask(t);
          if (!t.tied) continue;
          const std::vector<float> v = kept_values(t);
          for (std::size_t k = 0; k < v.size(); ++k) t.tied->codebook[t.tied->index[k]] = v[k];
          set_kept_values(t, dequantize(*t.tied));
        }
        break;
      }
      case CompressStep::LowRank: {
        double worst = 0;
        for (Target& t : targets) {
          if (t.array->shape.size() != 2) continue;
          t.factors = factorize_low_rank(t.array->values, t.dims,
                                         std::min({plan.rank, t.dims.rows, t.dims.cols}));
          t.array->values = reconstruct(*t.factors);
          worst = std::max(worst, t.factors->relative_error);
        }
        record["rank"] = plan.rank;
        record["max_relative_error"] = worst;
        break;
      }
      case CompressStep::Separable: {
        double worst = 0;
        for (Target& t : targets) {
          const std::vector<std::int64_t>& k = t.array->shape;
          if (k.size() != 4 || k[2] < 2 || k[3] < 2) continue;  // 1 x n kernels stay
          const auto most = static_cast<std::size_t>(std::min(k[1] * k[2], k[0] * k[3]));
          const std::size_t want = plan.separable_rank > 0
                                       ? plan.separable_rank
                                       : static_cast<std::size_t>(std::min(k[0], k[1]));
          t.separable = separate_conv(t.array->values, k, std::min(want, most));
          t.array->values = reconstruct(*t.separable);
          worst = std::max(worst, t.separable->relative_error);
        }
        record["separable_rank"] = plan.separable_rank;
        record["max_relative_error"] = worst;
        break;
      }
      case CompressStep::Int8:
        for (Target& t : targets) {
          if (factored(t)) {
            code_factors(t, [](const std::vector<float>& v, std::size_t rows, std::size_t cols) {
              return dequantize(quantize_int8_rows(v, rows, cols));
            });
            t.encoding.coding = ValueCoding::Int8Rows;
          } else if (t.tied) {  // per-layer int8 grid for the centroids
            float peak = 0;
            for (const float c : t.tied->codebook) peak = std::max(peak, std::abs(c));
            const float scale = peak > 0 ? peak / 127.0F : 1.0F;
            round_centroids(t, [scale](float c) { return scale * std::round(c / scale); });
          } else {
            t.array->values =
                dequantize(quantize_int8_rows(t.array->values, t.dims.rows, t.dims.cols));
            t.encoding.coding = ValueCoding::Int8Rows;
          }
          t.coded = true;
        }
        break;
      case CompressStep::Fp16:
        for (Target& t : targets) {
          if (factored(t)) {
            code_factors(t, [](const std::vector<float>& v, std::size_t, std::size_t) {
              return from_half(to_half(v));
            });
            t.encoding.coding = ValueCoding::Float16;
          } else if (t.tied) {
            round_centroids(t, [](float c) { return half_to_float(float_to_half(c)); });
          } else {
            t.array->values = from_half(to_half(t.array->values));
            t.encoding.coding = ValueCoding::Float16;
          }
          t.coded = true;
        }
        break;
      case CompressStep::Uniform:
        for (Target& t : targets) {
          if (factored(t)) {
            code_factors(t, [&](const std::vector<float>& v, std::size_t, std::size_t) {
              return dequantize(quantize_uniform(v, plan.bits));
            });
            t.encoding.coding = ValueCoding::UniformBits;
            t.encoding.bits = plan.bits;
          } else if (t.tied) {
            const UniformQuantized q = quantize_uniform(t.tied->codebook, plan.bits);
            t.tied->codebook = dequantize(q);
            set_kept_values(t, dequantize(*t.tied));
          } else {
            const std::vector<float> kept = kept_values(t);
            set_kept_values(t, dequantize(quantize_uniform(kept, plan.bits)));
            t.encoding.coding = ValueCoding::UniformBits;
            t.encoding.bits = plan.bits;
          }
          t.coded = true;
        }
        record["bits"] = plan.bits;
        break;
    }
    for (Target& t : targets) reapply_mask(t);
    steps.push_back(record);
  }

  CompressOutcome out;
  std::size_t values = 0, zeros = 0;
  json layers = json::array();
  std::vector<const Target*> by_array(arrays.size(), nullptr);
  for (const Target& t : targets) {
    by_array[static_cast<std::size_t>(t.array - arrays.data())] = &t;
  }
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    CompactLayer layer;
    layer.array = arrays[i];
    if (const Target* t = by_array[i]) {
      layer.encoding = t->encoding;
      if (t->tied) layer.encoding.clustering.clusters = t->tied->codebook.size();
      if (factored(*t)) {  // stored as its two factors (compose_factors puts them together)
        CompactLayer second = layer;
        if (t->factors) {
          const LowRankFactors& f = *t->factors;
          const auto r = static_cast<std::int64_t>(f.rank);
          layer.array = {arrays[i].name + std::string(kLowRankA),
                         {static_cast<std::int64_t>(f.dims.rows), r},
                         f.a};
          second.array = {arrays[i].name + std::string(kLowRankB),
                          {r, static_cast<std::int64_t>(f.dims.cols)},
                          f.b};
        } else {
          const SeparableConv& sc = *t->separable;
          const auto r = static_cast<std::int64_t>(sc.rank);
          layer.array = {
              arrays[i].name + std::string(kSeparableV), {r, sc.in, sc.kh, 1}, sc.vertical};
          second.array = {
              arrays[i].name + std::string(kSeparableH), {sc.out, r, 1, sc.kw}, sc.horizontal};
        }
        out.compact.layers.push_back(std::move(layer));
        layer = std::move(second);
      }
      CompressedLayerInfo info;
      info.name = arrays[i].name;
      info.values = arrays[i].values.size();
      info.nonzeros = static_cast<std::size_t>(std::count_if(
          arrays[i].values.begin(), arrays[i].values.end(), [](float v) { return v != 0; }));
      info.encoding = layer.encoding;
      values += info.values;
      zeros += info.values - info.nonzeros;
      layers.push_back({{"name", info.name},
                        {"values", info.values},
                        {"nonzeros", info.nonzeros},
                        {"encoding", describe(info.encoding)}});
      if (t->factors) {
        layers.back()["rank"] = t->factors->rank;
        layers.back()["stored_values"] = t->factors->a.size() + t->factors->b.size();
      }
      if (t->separable) {
        layers.back()["separable_rank"] = t->separable->rank;
        layers.back()["stored_values"] =
            t->separable->vertical.size() + t->separable->horizontal.size();
      }
      out.layers.push_back(std::move(info));
    } else {
      layer.encoding.entropy = plan.entropy;
    }
    out.compact.layers.push_back(std::move(layer));
  }
  out.sparsity = values > 0 ? static_cast<double>(zeros) / static_cast<double>(values) : 0.0;
  // Bits per stored value of the compressed weights (the widest layer's).
  unsigned weight_bits = 32;
  if (!targets.empty()) weight_bits = 0;
  for (const Target& t : targets) {
    unsigned b = 32;
    switch (t.encoding.coding) {
      case ValueCoding::Float32:
        break;
      case ValueCoding::Float16:
        b = 16;
        break;
      case ValueCoding::Int8Rows:
        b = 8;
        break;
      case ValueCoding::UniformBits:
        b = t.encoding.bits;
        break;
      case ValueCoding::Clustered:
        b = index_bits(t.tied->codebook.size());
        break;
    }
    weight_bits = std::max(weight_bits, b);
  }

  CsiAutoencoder model = CsiAutoencoder::with_state(input, arrays);
  json record = {{"recipe", recipe},
                 {"input_parameters", input.parameter_count()},
                 {"layers_compressed", compress_layers_name(plan.layers)},
                 {"steps", steps},
                 {"entropy_coding", plan.entropy},
                 {"sparsity", out.sparsity},
                 {"weight_bits", weight_bits},
                 {"layers", layers}};
  model.set_compression_record(record.dump());
  out.compact.metadata_json = model.metadata_json();
  return out;
}

}  // namespace linksim
