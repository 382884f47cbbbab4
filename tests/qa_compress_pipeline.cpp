// qa_compress_pipeline: compression of a CSI autoencoder as steps (nn_compress/
// compress_pipeline.hpp) and training under constraints (CsiTrainer::set_constraints): masks
// survive fine-tuning, shared weights stay shared, the compact file loads back to exactly the
// compressed weights, and bad plans are refused.
#define BOOST_TEST_MODULE qa_compress_pipeline
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "blocks/cs.hpp"
#include "channels/csi_dataset.hpp"
#include "nn_compress/compress_pipeline.hpp"
#include "nn_compress/csi_trainer.hpp"
#include "qa_common.hpp"

using namespace linksim;

namespace {

const NamedArray& array_named(const std::vector<NamedArray>& arrays, const std::string& name) {
  for (const NamedArray& a : arrays) {
    if (a.name == name) return a;
  }
  throw std::runtime_error("no array " + name);
}

std::size_t zeros(const std::vector<float>& v) {
  return static_cast<std::size_t>(std::count(v.begin(), v.end(), 0.0F));
}

arma::fmat indoor_normalised(std::size_t n, std::uint64_t seed) {
  const CsiDataset d = generate_csi_dataset(Cost2100Scenario::IndoorHall5GHz, n, seed, 1, false);
  arma::fmat x(kCsiValues, n);
  for (std::size_t i = 0; i < n; ++i) {
    x.col(i) = arma::conv_to<arma::fvec>::from(flatten_csi(d.h_ad.slice(i)));
  }
  arma::frowvec scales;
  return normalise_csi(x, scales);
}

const std::string kEncoderFc = "encoder_fc.weight";  // [M x 2048]
const std::string kDecoderFc = "decoder_fc.weight";  // [2048 x M]

/// A CsiNet CR 64 trainer (seed 4, batch 16, lr 1e-3) on one thread.
std::unique_ptr<CsiTrainer> small_trainer() {
  set_torch_threads(1);
  TrainHyper hyper;
  hyper.batch = 16;
  hyper.lr = 1e-3;
  return std::make_unique<CsiTrainer>(CsiArch::CsiNet, 64, 4, hyper);
}

}  // namespace

BOOST_AUTO_TEST_CASE(training_under_constraints_keeps_masks_and_shared_weights) {
  const auto owner = small_trainer();
  CsiTrainer& trainer = *owner;
  const std::vector<NamedArray> before = trainer.model().state();
  const NamedArray& enc = array_named(before, kEncoderFc);
  const NamedArray& dec = array_named(before, kDecoderFc);
  WeightConstraint pruned;
  pruned.name = kEncoderFc;
  pruned.keep = magnitude_prune_mask(enc.values, 0.5);
  WeightConstraint shared;
  shared.name = kDecoderFc;
  ClusterOptions o;
  o.clusters = 8;
  const Clustered c = cluster_weights(dec.values, o);
  shared.cluster = c.index;
  shared.clusters = c.codebook.size();
  trainer.set_constraints({pruned, shared});

  trainer.train_epoch(indoor_normalised(48, 11), 0);
  const std::vector<NamedArray> after = trainer.model().state();
  const std::vector<float>& enc_after = array_named(after, kEncoderFc).values;
  const std::vector<float>& dec_after = array_named(after, kDecoderFc).values;
  std::size_t pinned = 0, moved = 0;
  for (std::size_t i = 0; i < enc_after.size(); ++i) {
    if (pruned.keep[i] == 0) {
      pinned += enc_after[i] == 0.0F ? 1 : 0;
    } else {
      moved += enc_after[i] != enc.values[i] ? 1 : 0;
    }
  }
  BOOST_TEST(pinned == enc_after.size() / 2);  // every pruned weight is still exactly zero
  BOOST_TEST(moved > enc_after.size() / 4);    // and the kept ones trained
  // The shared weights: at most 8 distinct values, one per cluster, and they moved.
  std::map<std::uint32_t, float> value_of;
  bool shared_ok = true;
  for (std::size_t i = 0; i < dec_after.size(); ++i) {
    const auto [it, fresh] = value_of.emplace(shared.cluster[i], dec_after[i]);
    shared_ok = shared_ok && (fresh || it->second == dec_after[i]);
  }
  BOOST_TEST(shared_ok);
  BOOST_TEST(value_of.size() == c.codebook.size());
  std::size_t centroids_moved = 0;
  for (const auto& [k, v] : value_of) centroids_moved += v != c.codebook[k] ? 1 : 0;
  BOOST_TEST(centroids_moved > 0U);

  WeightConstraint wrong;
  wrong.name = "no_such.weight";
  BOOST_CHECK_THROW(trainer.set_constraints({wrong}), std::invalid_argument);
  wrong.name = kEncoderFc;
  wrong.keep.assign(3, 1);
  BOOST_CHECK_THROW(trainer.set_constraints({wrong}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(prune_then_int8_gives_a_compact_model_that_loads_back_exactly) {
  const CsiAutoencoder model(CsiArch::CsiNet, 64, 2);
  CompressPlan plan;
  plan.steps = {CompressStep::Prune, CompressStep::Int8};
  plan.sparsity = 0.5;
  const CompressOutcome o = compress_csi_model(model, plan, {}, R"({"input_model": "test"})");
  BOOST_TEST_REQUIRE(o.layers.size() == 2U);  // the two dense layers
  for (const CompressedLayerInfo& l : o.layers) {
    BOOST_TEST(l.nonzeros == l.values / 2, l.name);
    BOOST_TEST((l.encoding.coding == ValueCoding::Int8Rows), l.name);
    BOOST_TEST((l.encoding.layout == Layout::Sparse), l.name);
  }
  BOOST_TEST(o.sparsity == 0.5, boost::test_tools::tolerance(1e-9));

  const qa::TempDir dir("compress_pipeline");
  const auto file = dir / "m.lsnnc";
  write_compact_model(file, o.compact);
  model.save(dir / "m.lsnn");
  // The dense layers hold 96% of the weights: int8 (4x smaller) for half of them plus a 1-bit
  // mask is 16% of their fp32 size; the rest stays fp32. Under a quarter of the original.
  BOOST_TEST(std::filesystem::file_size(file) < 0.25 * std::filesystem::file_size(dir / "m.lsnn"));
  const CsiAutoencoder back = CsiAutoencoder::load(file);
  BOOST_TEST(!back.compression_record().empty());
  BOOST_TEST(back.compression_record().find("\"input_model\": \"test\"") != std::string::npos);
  const std::vector<NamedArray> loaded = back.state();
  for (const CompactLayer& l : o.compact.layers) {
    const NamedArray& a = array_named(loaded, l.array.name);
    BOOST_TEST((a.values == l.array.values), l.array.name);  // bit-exact
  }
  // Int8 with per-row scales: each row of a dense layer holds at most 255 distinct values, and
  // its largest magnitude is exactly one of the original's (scale * 127).
  const NamedArray& enc = array_named(loaded, kEncoderFc);
  const std::vector<NamedArray> original = model.state();
  const NamedArray& enc0 = array_named(original, kEncoderFc);
  const std::size_t cols = static_cast<std::size_t>(enc.shape[1]);
  std::set<float> row0(enc.values.begin(), enc.values.begin() + static_cast<long>(cols));
  BOOST_TEST(row0.size() <= 255U);
  BOOST_TEST(zeros(enc.values) == enc.values.size() / 2);
  float peak = 0, peak0 = 0;
  for (std::size_t j = 0; j < cols; ++j) {
    peak = std::max(peak, std::abs(enc.values[j]));
    peak0 = std::max(peak0, std::abs(enc0.values[j]));
  }
  BOOST_TEST(peak == peak0, boost::test_tools::tolerance(1e-6F));
}

BOOST_AUTO_TEST_CASE(cluster_finetune_int8_hands_the_constraints_to_the_fine_tuning) {
  const CsiAutoencoder model(CsiArch::CsiNet, 64, 3);
  CompressPlan plan;
  plan.steps = {CompressStep::Prune, CompressStep::Cluster, CompressStep::Finetune,
                CompressStep::Int8};
  plan.sparsity = 0.25;
  plan.clustering.clusters = 16;
  std::size_t calls = 0;
  // A stand-in for training that respects the constraints: every weight scaled by 1.1 keeps
  // zeros at zero and shared weights shared.
  const FineTuneFn finetune = [&](CsiAutoencoder& m, const std::vector<WeightConstraint>& cs,
                                  const std::optional<GradualPruning>& gradual) {
    ++calls;
    BOOST_TEST(!gradual.has_value());
    BOOST_TEST(cs.size() == 2U);
    for (const WeightConstraint& c : cs) {
      BOOST_TEST(mask_sparsity(c.keep) == 0.25, boost::test_tools::tolerance(1e-6));
      BOOST_TEST(c.clusters == 17U);  // 16 centroids + the pruned entries' own
      BOOST_TEST(c.cluster.size() == c.keep.size());
    }
    std::vector<NamedArray> w = m.state();
    for (NamedArray& a : w) {
      for (float& v : a.values) v *= 1.1F;
    }
    m = CsiAutoencoder::with_state(m, w);
  };
  const CompressOutcome o = compress_csi_model(model, plan, finetune, "{}");
  BOOST_TEST(calls == 1U);
  for (const CompressedLayerInfo& l : o.layers) {
    BOOST_TEST((l.encoding.coding == ValueCoding::Clustered), l.name);
    BOOST_TEST(l.encoding.clustering.clusters <= 16U, l.name);
    BOOST_TEST(l.nonzeros == l.values - l.values / 4, l.name);
  }
  // Clustered then int8: the centroids lie on one int8 grid per layer, so the layer holds at
  // most 16 distinct nonzero values.
  for (const CompactLayer& l : o.compact.layers) {
    if (l.array.name != kDecoderFc) continue;
    std::set<float> distinct(l.array.values.begin(), l.array.values.end());
    distinct.erase(0.0F);
    BOOST_TEST(distinct.size() <= 16U);
  }
}

BOOST_AUTO_TEST_CASE(bad_plans_are_refused) {
  const CsiAutoencoder model(CsiArch::CsiNet, 64, 1);
  const auto plan_of = [](std::vector<CompressStep> steps) {
    CompressPlan p;
    p.steps = std::move(steps);
    return p;
  };
  // No steps is a plain conversion: every array dense fp32, values unchanged.
  const CompressOutcome same = compress_csi_model(model, plan_of({}), {}, "{}");
  const std::vector<NamedArray> original = model.state();
  BOOST_TEST_REQUIRE(same.compact.layers.size() == original.size());
  for (std::size_t i = 0; i < original.size(); ++i) {
    BOOST_TEST((same.compact.layers[i].array.values == original[i].values));
    BOOST_TEST((same.compact.layers[i].encoding.coding == ValueCoding::Float32));
  }
  BOOST_CHECK_THROW(
      compress_csi_model(model, plan_of({CompressStep::Int8, CompressStep::Fp16}), {}, "{}"),
      std::invalid_argument);
  BOOST_CHECK_THROW(
      compress_csi_model(model, plan_of({CompressStep::Int8, CompressStep::Cluster}), {}, "{}"),
      std::invalid_argument);
  BOOST_CHECK_THROW(compress_csi_model(model, plan_of({CompressStep::Finetune}), {}, "{}"),
                    std::invalid_argument);
  BOOST_CHECK_THROW(compress_csi_model(model, plan_of({CompressStep::Int8}), {}, "[1]"),
                    std::invalid_argument);
  CompressPlan p = plan_of({CompressStep::Prune});
  p.sparsity = 1.0;
  BOOST_CHECK_THROW(compress_csi_model(model, p, {}, "{}"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_gradual_step_hands_its_schedule_to_the_fine_tuning_and_keeps_its_zeros) {
  const CsiAutoencoder model(CsiArch::CsiNet, 64, 1);
  CompressPlan plan;
  plan.steps = {CompressStep::Gradual, CompressStep::Int8};
  plan.sparsity = 0.6;
  plan.initial_sparsity = 0.1;
  plan.gradual_epochs = 3;
  std::size_t calls = 0;
  // A stand-in for the training loop: prunes each named weight to the final sparsity (what
  // run_training's last pruning epoch does).
  const FineTuneFn finetune = [&](CsiAutoencoder& m, const std::vector<WeightConstraint>& cs,
                                  const std::optional<GradualPruning>& gradual) {
    ++calls;
    BOOST_TEST_REQUIRE(gradual.has_value());
    BOOST_TEST((std::set<std::string>(gradual->names.begin(), gradual->names.end()) ==
                std::set<std::string>{kEncoderFc, kDecoderFc}));
    BOOST_TEST(gradual->schedule.initial_sparsity == 0.1);
    BOOST_TEST(gradual->schedule.final_sparsity == 0.6);
    BOOST_TEST(gradual->final_epoch() == 3U);
    BOOST_TEST(gradual->schedule.sparsity_at(0) == 0.1);
    BOOST_TEST(cs.size() == 2U);
    for (const WeightConstraint& c : cs) BOOST_TEST(c.keep.empty());  // nothing pruned before
    std::vector<NamedArray> w = m.state();
    for (NamedArray& a : w) {
      if (a.name == kEncoderFc || a.name == kDecoderFc) {
        apply_mask(a.values, magnitude_prune_mask(a.values, gradual->schedule.final_sparsity));
      }
    }
    m = CsiAutoencoder::with_state(m, w);
  };
  const CompressOutcome o = compress_csi_model(model, plan, finetune, "{}");
  BOOST_TEST(calls == 1U);
  BOOST_TEST(o.sparsity == 0.6, boost::test_tools::tolerance(1e-4));
  for (const CompressedLayerInfo& l : o.layers) {
    BOOST_TEST((l.encoding.layout == Layout::Sparse), l.name);
    BOOST_TEST((l.encoding.coding == ValueCoding::Int8Rows), l.name);
  }
  // Refused: not per-layer magnitude pruning, after clustering, or a sparsity that does not rise.
  CompressPlan bad = plan;
  bad.prune_method = PruneMethod::Threshold;
  BOOST_CHECK_THROW(validate_compress_plan(bad), std::invalid_argument);
  bad = plan;
  bad.prune_global = true;
  BOOST_CHECK_THROW(validate_compress_plan(bad), std::invalid_argument);
  bad = plan;
  bad.steps = {CompressStep::Cluster, CompressStep::Gradual};
  BOOST_CHECK_THROW(validate_compress_plan(bad), std::invalid_argument);
  bad = plan;
  bad.initial_sparsity = 0.6;
  BOOST_CHECK_THROW(validate_compress_plan(bad), std::invalid_argument);
  BOOST_CHECK_THROW(compress_csi_model(model, plan, {}, "{}"), std::invalid_argument);
}

namespace {

/// Singular values of a rank-2 array, largest first.
arma::vec singular_values(const NamedArray& a) {
  arma::fmat m(a.values.data(), static_cast<arma::uword>(a.shape[1]),
               static_cast<arma::uword>(a.shape[0]));  // column-major view of the row-major W^T
  return arma::svd(arma::conv_to<arma::mat>::from(m));
}

}  // namespace

BOOST_AUTO_TEST_CASE(training_under_a_rank_constraint_keeps_the_rank) {
  const auto owner = small_trainer();
  CsiTrainer& trainer = *owner;
  WeightConstraint low;
  low.name = kDecoderFc;  // [2048 x 32]
  low.rank = 8;
  trainer.set_constraints({low});
  const std::vector<NamedArray> projected = trainer.model().state();
  const arma::vec s0 = singular_values(array_named(projected, kDecoderFc));
  BOOST_TEST(s0(8) < 1e-5 * s0(0));  // projected at once
  const std::vector<float>& start = array_named(projected, kDecoderFc).values;
  trainer.train_epoch(indoor_normalised(48, 12), 0);
  const std::vector<NamedArray> trained = trainer.model().state();
  const NamedArray& after = array_named(trained, kDecoderFc);
  const arma::vec s = singular_values(after);
  BOOST_TEST(s(8) < 1e-4 * s(0), "9th singular value " << s(8) << " of " << s(0));
  BOOST_TEST((after.values != start));  // and it trained
  low.rank = 33;                        // wider than the matrix
  BOOST_CHECK_THROW(trainer.set_constraints({low}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(lowrank_then_int8_stores_factors_that_load_back_exactly) {
  const CsiAutoencoder model(CsiArch::CsiNet, 64, 2);
  CompressPlan plan;
  plan.steps = {CompressStep::LowRank, CompressStep::Finetune, CompressStep::Int8};
  plan.rank = 16;
  std::size_t calls = 0;
  const FineTuneFn finetune = [&](CsiAutoencoder&, const std::vector<WeightConstraint>& cs,
                                  const std::optional<GradualPruning>&) {
    ++calls;
    for (const WeightConstraint& c : cs) BOOST_TEST(c.rank == 16U, c.name);
  };
  const CompressOutcome o = compress_csi_model(model, plan, finetune, "{}");
  BOOST_TEST(calls == 1U);
  // Two factor layers per dense layer, int8 rows each.
  std::size_t factors = 0;
  for (const CompactLayer& l : o.compact.layers) {
    if (l.array.name.find(".lowrank_") == std::string::npos) continue;
    ++factors;
    BOOST_TEST((l.encoding.coding == ValueCoding::Int8Rows), l.array.name);
    BOOST_TEST((l.array.shape[0] == 16 || l.array.shape[1] == 16), l.array.name);
  }
  BOOST_TEST(factors == 4U);
  const qa::TempDir dir("compress_pipeline_lowrank");
  write_compact_model(dir / "m.lsnnc", o.compact);
  model.save(dir / "m.lsnn");
  // Dense layers 2 x 2048 x 32 -> 2 x 16 x (2048 + 32) int8 values: about 8x smaller overall.
  BOOST_TEST(std::filesystem::file_size(dir / "m.lsnnc") <
             0.2 * std::filesystem::file_size(dir / "m.lsnn"));
  // Loading composes W = A B: bit-exact with what the pipeline computed, and of rank 16.
  const std::vector<NamedArray> loaded = CsiAutoencoder::load(dir / "m.lsnnc").state();
  const std::vector<NamedArray> expected =
      CsiAutoencoder::with_state(model, compose_factors([&] {
                                   std::vector<NamedArray> a;
                                   for (const CompactLayer& l : o.compact.layers)
                                     a.push_back(l.array);
                                   return a;
                                 }()))
          .state();
  for (const std::string& name : {kEncoderFc, kDecoderFc}) {
    BOOST_TEST((array_named(loaded, name).values == array_named(expected, name).values), name);
    const arma::vec s = singular_values(array_named(loaded, name));
    BOOST_TEST(s(16) < 1e-5 * s(0), name);
  }
  // Not with pruning, at rank 0, or after a value coding step.
  CompressPlan bad = plan;
  bad.steps = {CompressStep::Prune, CompressStep::LowRank};
  BOOST_CHECK_THROW(validate_compress_plan(bad), std::invalid_argument);
  bad = plan;
  bad.rank = 0;
  BOOST_CHECK_THROW(validate_compress_plan(bad), std::invalid_argument);
  bad = plan;
  bad.steps = {CompressStep::Int8, CompressStep::LowRank};
  BOOST_CHECK_THROW(validate_compress_plan(bad), std::invalid_argument);
}

namespace {

/// Singular values of a conv kernel's separable matrix M[(c, y), (o, x)] = K[o, c, y, x].
arma::vec separable_singular_values(const NamedArray& k) {
  const auto out = static_cast<arma::uword>(k.shape[0]), in = static_cast<arma::uword>(k.shape[1]),
             kh = static_cast<arma::uword>(k.shape[2]), kw = static_cast<arma::uword>(k.shape[3]);
  arma::mat m(in * kh, out * kw);
  for (arma::uword o = 0; o < out; ++o) {
    for (arma::uword c = 0; c < in; ++c) {
      for (arma::uword y = 0; y < kh; ++y) {
        for (arma::uword x = 0; x < kw; ++x) {
          m(c * kh + y, o * kw + x) = k.values[((o * in + c) * kh + y) * kw + x];
        }
      }
    }
  }
  return arma::svd(m);
}

}  // namespace

BOOST_AUTO_TEST_CASE(separable_conv_kernels_stay_separable_and_load_back_exactly) {
  const CsiAutoencoder model(CsiArch::CsiNet, 64, 2);
  CompressPlan plan;
  plan.steps = {CompressStep::Separable, CompressStep::Finetune, CompressStep::Int8};
  plan.layers = CompressLayers::All;
  plan.separable_rank = 2;
  std::size_t kernels = 0;
  const FineTuneFn finetune = [&](CsiAutoencoder&, const std::vector<WeightConstraint>& cs,
                                  const std::optional<GradualPruning>&) {
    for (const WeightConstraint& c : cs) kernels += c.separable_rank == 2 ? 1 : 0;
  };
  const CompressOutcome o = compress_csi_model(model, plan, finetune, "{}");
  std::size_t vertical = 0;
  for (const CompactLayer& l : o.compact.layers) {
    if (l.array.name.find(".separable_v") == std::string::npos) continue;
    ++vertical;
    BOOST_TEST(l.array.shape[0] == 2);  // r paths
    BOOST_TEST(l.array.shape[3] == 1);  // kh x 1
  }
  BOOST_TEST(kernels > 0U);
  BOOST_TEST(vertical == kernels);
  const qa::TempDir dir("compress_pipeline_separable");
  write_compact_model(dir / "m.lsnnc", o.compact);
  const std::vector<NamedArray> loaded = CsiAutoencoder::load(dir / "m.lsnnc").state();
  std::vector<NamedArray> stored;
  for (const CompactLayer& l : o.compact.layers) stored.push_back(l.array);
  const std::vector<NamedArray> expected =
      CsiAutoencoder::with_state(model, compose_factors(stored)).state();
  std::size_t checked = 0;
  for (const NamedArray& a : loaded) {
    BOOST_TEST((a.values == array_named(expected, a.name).values), a.name);
    if (a.shape.size() == 4 && a.shape[2] > 1 && a.shape[3] > 1) {
      const arma::vec s = separable_singular_values(a);
      BOOST_TEST(s(2) <= 1e-5 * s(0), a.name << ": " << s.t());  // rank 2 (or a zero kernel)
      ++checked;
    }
  }
  BOOST_TEST(checked == kernels);
  // Training keeps a kernel at its separable rank.
  const auto owner = small_trainer();
  CsiTrainer& trainer = *owner;
  std::string name;
  for (const NamedArray& a : trainer.model().state()) {
    if (a.shape.size() == 4 && a.shape[0] == 16) name = a.name;  // a RefineNet 8 -> 16 kernel
  }
  BOOST_REQUIRE(!name.empty());
  WeightConstraint sep;
  sep.name = name;
  sep.separable_rank = 2;
  trainer.set_constraints({sep});
  trainer.train_epoch(indoor_normalised(32, 13), 0);
  const std::vector<NamedArray> trained = trainer.model().state();
  const arma::vec s = separable_singular_values(array_named(trained, name));
  BOOST_TEST(s(2) < 1e-4 * s(0), name << ": " << s(2) << " of " << s(0));
  sep.separable_rank = 0;
  sep.rank = 2;  // a matrix rank on a kernel
  BOOST_CHECK_THROW(trainer.set_constraints({sep}), std::invalid_argument);
  // Only on selected conv kernels.
  CompressPlan bad = plan;
  bad.layers = CompressLayers::Dense;
  BOOST_CHECK_THROW(validate_compress_plan(bad), std::invalid_argument);
}
