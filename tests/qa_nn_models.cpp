// qa_nn_models: the CsiNet-family autoencoders (nn_compress/csi_autoencoder.hpp): parameter
// counts computed by hand from the layer shapes (CsiNet: 2.10 M at CR 4, 0.137 M at CR 64, as
// the paper), shapes of codes and reconstructions, the per-sample normalisation (the same NMSE
// at any input scale), save -> load round trips, and rejection of corrupt, truncated, foreign and
// mismatched model files with a clear message.
#define BOOST_TEST_MODULE qa_nn_models
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "blocks/cs.hpp"
#include "channels/cost2100.hpp"
#include "channels/csi_dataset.hpp"
#include "nn_compress/csi_trainer.hpp"
#include "nn_compress/mod_classifier.hpp"
#include "nn_compress/nn_feedback.hpp"
#include "qa_common.hpp"

using namespace linksim;

namespace {

/// Raw-scale flattened indoor samples [2048 x n] (double).
arma::mat indoor_samples(std::size_t n, std::uint64_t seed) {
  const CsiDataset d = generate_csi_dataset(Cost2100Scenario::IndoorHall5GHz, n, seed, 1, false);
  arma::mat x(kCsiValues, n);
  for (std::size_t i = 0; i < n; ++i) x.col(i) = flatten_csi(d.h_ad.slice(i));
  return x;
}

// Hand counts. Conv k x k, in -> out with bias: in * out * k^2 + out; BatchNorm(c): 2c trainable.
constexpr std::size_t conv(std::size_t in, std::size_t out, std::size_t kh, std::size_t kw,
                           bool bias = true) {
  return in * out * kh * kw + (bias ? out : 0);
}
constexpr std::size_t bn(std::size_t c) {
  return 2 * c;
}
constexpr std::size_t dense(std::size_t in, std::size_t out) {
  return in * out + out;
}
constexpr std::size_t refinenet() {
  return conv(2, 8, 3, 3) + bn(8) + conv(8, 16, 3, 3) + bn(16) + conv(16, 2, 3, 3) + bn(2);
}
constexpr std::size_t csinet(std::size_t m) {
  return conv(2, 2, 3, 3) + bn(2) + dense(2048, m) + dense(m, 2048) + 2 * refinenet() +
         conv(2, 2, 3, 3);
}
constexpr std::size_t crblock() {
  return conv(2, 7, 3, 3, false) + conv(7, 7, 1, 9, false) + conv(7, 7, 9, 1, false) +
         conv(2, 7, 1, 5, false) + conv(7, 7, 5, 1, false) + conv(14, 2, 1, 1, false) + 5 * bn(7) +
         bn(2);
}
constexpr std::size_t crnet(std::size_t m) {
  const std::size_t encoder = conv(2, 2, 3, 3, false) + conv(2, 2, 1, 9, false) +
                              conv(2, 2, 9, 1, false) + conv(2, 2, 3, 3, false) +
                              conv(4, 2, 1, 1, false) + 5 * bn(2);
  const std::size_t decoder = conv(2, 2, 5, 5, false) + bn(2) + 2 * crblock();
  return encoder + dense(2048, m) + dense(m, 2048) + decoder;
}
/// CsiNet+ (Guo et al. 2020): two 7x7 encoder convolutions, a 7x7 decoder convolution and five
/// RefineNet units of 7x7 / 5x5 / 3x3 kernels, no convolution biases.
constexpr std::size_t csinetplus(std::size_t m) {
  const std::size_t conv7 = conv(2, 2, 7, 7, false) + bn(2);
  const std::size_t unit = conv(2, 8, 7, 7, false) + bn(8) + conv(8, 16, 5, 5, false) + bn(16) +
                           conv(16, 2, 3, 3, false) + bn(2);
  return 3 * conv7 + dense(2048, m) + dense(m, 2048) + 5 * unit;
}
/// ConvCsiNet / ConvSquCsiNet with F = 32 maps, k halvings, c code channels.
constexpr std::size_t convcsinet(std::size_t k, std::size_t c, bool fire) {
  const std::size_t f = 32;
  const std::size_t stage = fire ? conv(f, f / 4, 1, 1) + bn(f / 4) + conv(f / 4, f / 2, 1, 1) +
                                       conv(f / 4, f / 2, 3, 3) + bn(f)
                                 : conv(f, f, 3, 3) + bn(f);
  return conv(2, f, 3, 3) + bn(f) + 2 * k * stage + conv(f, c, 3, 3) + conv(c, f, 3, 3) + bn(f) +
         conv(f, 2, 3, 3) + bn(2) + 2 * refinenet() + conv(2, 2, 3, 3);
}

}  // namespace

BOOST_AUTO_TEST_CASE(csinet_parameter_counts_match_the_paper) {
  // CsiNet (Wen et al. 2018): about 2.10 M parameters at CR 1/4 and 0.137 M at CR 1/64.
  static_assert(csinet(512) == 2103116);
  static_assert(csinet(32) == 136556);
  for (std::size_t cr : {4, 16, 32, 64}) {
    const CsiAutoencoder m(CsiArch::CsiNet, cr, 1);
    BOOST_TEST(m.code_values() == 2048 / cr);
    BOOST_TEST(m.feedback_values() == 2048 / cr + 1);
    BOOST_TEST(m.parameter_count() == csinet(2048 / cr), "CR " << cr);
  }
  BOOST_TEST(std::abs(static_cast<double>(csinet(512)) - 2.10e6) < 0.01e6);
  BOOST_TEST(std::abs(static_cast<double>(csinet(32)) - 0.137e6) < 0.001e6);
}

BOOST_AUTO_TEST_CASE(crnet_and_conv_parameter_counts_match_the_layer_shapes) {
  // CRNet (Lu et al. 2020): 2.10 M at CR 1/4 as published (dominated by the two dense layers).
  BOOST_TEST(std::abs(static_cast<double>(crnet(512)) - 2.10e6) < 0.01e6);
  for (std::size_t cr : {4, 16, 32, 64}) {
    BOOST_TEST(CsiAutoencoder(CsiArch::CrNet, cr, 1).parameter_count() == crnet(2048 / cr));
  }
  // CsiNet+: "over 2 million NN weights ... when the CR is set as four" (seed 002).
  BOOST_TEST(csinetplus(512) > 2.0e6);
  BOOST_TEST(csinetplus(512) - dense(2048, 512) - dense(512, 2048) < 0.03e6);
  for (std::size_t cr : {4, 8, 16, 32, 64}) {
    BOOST_TEST(
        CsiAutoencoder(CsiArch::CsiNetPlus, cr, 1).parameter_count() == csinetplus(2048 / cr),
        "CR " << cr);
  }
  // (cr, halvings, code channels): 4 -> 2 x 16 x 16, 16 -> 2 x 8 x 8, 32 -> 1 x 8 x 8,
  // 64 -> 2 x 4 x 4.
  const std::size_t table[][3] = {{4, 1, 2}, {16, 2, 2}, {32, 2, 1}, {64, 3, 2}};
  for (const auto& [cr, k, c] : table) {
    const CsiAutoencoder conv_net(CsiArch::ConvCsiNet, cr, 1);
    const CsiAutoencoder squ_net(CsiArch::ConvSquCsiNet, cr, 1);
    BOOST_TEST(conv_net.parameter_count() == convcsinet(k, c, false), "CR " << cr);
    BOOST_TEST(squ_net.parameter_count() == convcsinet(k, c, true), "CR " << cr);
    // Seed 002: ConvSquCsiNet has fewer than half the weights of ConvCsiNet.
    BOOST_TEST(2 * squ_net.parameter_count() < conv_net.parameter_count());
  }
}

BOOST_AUTO_TEST_CASE(bad_compression_ratios_are_rejected) {
  BOOST_CHECK_THROW(CsiAutoencoder(CsiArch::CsiNet, 3, 1), std::invalid_argument);
  BOOST_CHECK_THROW(CsiAutoencoder(CsiArch::CsiNet, 0, 1), std::invalid_argument);
  BOOST_CHECK_THROW(CsiAutoencoder(CsiArch::ConvCsiNet, 2, 1), std::invalid_argument);
  BOOST_CHECK_THROW(CsiAutoencoder(CsiArch::ConvSquCsiNet, 24, 1), std::invalid_argument);
  BOOST_CHECK_NO_THROW(CsiAutoencoder(CsiArch::CsiNet, 8, 1));
  for (CsiArch a : kCsiArchs) BOOST_TEST((csi_arch_named(arch_name(a)) == a));
  BOOST_TEST(!csi_arch_named("csinet+").has_value());
}

BOOST_AUTO_TEST_CASE(every_architecture_maps_shapes_and_stays_in_range) {
  const arma::mat x = indoor_samples(5, 11);
  for (CsiArch a : kCsiArchs) {
    const CsiAutoencoder m(a, 16, 3);
    const arma::mat codes = m.encode(x);
    BOOST_TEST(codes.n_rows == 2048 / 16 + 1);
    BOOST_TEST(codes.n_cols == 5U);
    // The last row is the per-sample scale max |x|, as a float32.
    for (arma::uword c = 0; c < x.n_cols; ++c) {
      BOOST_TEST(codes(codes.n_rows - 1, c) ==
                 static_cast<double>(static_cast<float>(arma::abs(x.col(c)).max())));
    }
    const arma::mat x_hat = m.decode(codes);
    BOOST_TEST(x_hat.n_rows == 2048U);
    BOOST_TEST(x_hat.n_cols == 5U);
    BOOST_TEST(x_hat.is_finite());
    // The sigmoid output keeps every value within [-s, s].
    for (arma::uword c = 0; c < x.n_cols; ++c) {
      BOOST_TEST(arma::abs(x_hat.col(c)).max() <= codes(codes.n_rows - 1, c) * (1 + 1e-6));
    }
    BOOST_CHECK_THROW(m.encode(arma::mat(100, 2)), std::invalid_argument);
    BOOST_CHECK_THROW(m.decode(arma::mat(7, 2)), std::invalid_argument);
  }
}

BOOST_AUTO_TEST_CASE(normalisation_maps_each_sample_onto_zero_one_around_one_half) {
  arma::fmat x(2048, 3, arma::fill::randn);
  x.col(1) *= 1e-6F;
  x.col(2).zeros();
  arma::frowvec s;
  const arma::fmat u = normalise_csi(x, s);
  for (arma::uword c = 0; c < 2; ++c) {
    BOOST_TEST(s(c) == arma::abs(x.col(c)).max());
    BOOST_TEST(u.col(c).min() >= 0.0F);
    BOOST_TEST(u.col(c).max() <= 1.0F);
    BOOST_TEST(std::abs(arma::abs(u.col(c) - 0.5F).max() - 0.5F) < 1e-6F);
  }
  BOOST_TEST(s(2) == 0.0F);
  BOOST_TEST(arma::all(u.col(2) == 0.5F));
  // An all-zero sample encodes and decodes to zero.
  const CsiAutoencoder m(CsiArch::CsiNet, 64, 1);
  const arma::mat x_hat = m.reconstruct(arma::zeros(2048, 1));
  BOOST_TEST(arma::all(arma::vectorise(x_hat) == 0.0));
}

BOOST_AUTO_TEST_CASE(nmse_is_the_same_for_channels_rescaled_by_1e_minus3_and_1e3) {
  // A briefly trained model (so that the NMSE is meaningful), evaluated on the same channels at
  // their raw scale (COST 2100 path loss: |h| ~ 1e-4..1e-6) and rescaled by 1e-3 and 1e3.
  arma::mat train = indoor_samples(64, 21);
  arma::frowvec scales;
  const arma::fmat u = normalise_csi(arma::conv_to<arma::fmat>::from(train), scales);
  TrainHyper h;
  h.batch = 16;
  CsiTrainer trainer(CsiArch::CsiNet, 16, 5, h);
  for (std::size_t e = 0; e < 3; ++e) trainer.train_epoch(u, e);
  const CsiAutoencoder& m = trainer.model();
  const arma::mat x = indoor_samples(32, 22);
  const double base = nmse_db_columns(x, m.reconstruct(x));
  BOOST_TEST(std::isfinite(base));
  for (double scale : {1e-3, 1e3}) {
    const arma::mat xs = x * scale;
    const double nmse = nmse_db_columns(xs, m.reconstruct(xs));
    BOOST_TEST(std::abs(nmse - base) < 1e-4, "scale " << scale << ": " << nmse << " vs " << base);
  }
}

BOOST_AUTO_TEST_CASE(save_load_round_trip_gives_identical_outputs) {
  qa::TempDir dir("nn_models");
  const arma::mat x = indoor_samples(4, 31);
  for (CsiArch a : kCsiArchs) {
    CsiAutoencoder m(a, 32, 7);
    m.set_training_record(R"({"note": "round trip"})");
    const auto file = dir / (std::string(arch_name(a)) + ".lsnn");
    m.save(file);
    const CsiAutoencoder back = CsiAutoencoder::load(file);
    BOOST_TEST((back.arch() == a));
    BOOST_TEST(back.cr() == 32U);
    BOOST_TEST(back.parameter_count() == m.parameter_count());
    BOOST_TEST(back.training_record().find("round trip") != std::string::npos);
    const arma::mat c1 = m.encode(x), c2 = back.encode(x);
    BOOST_TEST(arma::approx_equal(c1, c2, "absdiff", 0.0));
    BOOST_TEST(arma::approx_equal(m.decode(c1), back.decode(c2), "absdiff", 0.0));
  }
  // The feedback block wraps a model file.
  const auto fb = make_nn_feedback(dir / "csinet.lsnn", InferenceBackend::Torch, 1);
  BOOST_TEST(fb->name() == "csinet");
  BOOST_TEST(fb->feedback_values() == 2048 / 32 + 1U);
  BOOST_TEST(fb->encode(x).n_rows == fb->feedback_values());
  BOOST_TEST(fb->decode(fb->encode(x)).n_rows == 2048U);
}

namespace {

/// The ModelFileError message of loading `file`, or "" if it loads.
std::string load_error(const std::filesystem::path& file) {
  try {
    CsiAutoencoder::load(file);
  } catch (const ModelFileError& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(corrupt_truncated_foreign_and_mismatched_files_are_rejected) {
  qa::TempDir dir("nn_models_bad");
  const auto good = dir / "good.lsnn";
  CsiAutoencoder(CsiArch::CsiNet, 64, 1).save(good);
  const std::string bytes = qa::read_text(good);
  BOOST_TEST(load_error(good).empty());

  const auto write = [&](const std::string& name, const std::string& content) {
    const auto f = dir / name;
    qa::write_text(f, content);
    return f;
  };
  BOOST_TEST(has(load_error(dir / "missing.lsnn"), "no such model file"));
  BOOST_TEST(has(load_error(write("empty", "")), "too short"));
  BOOST_TEST(has(load_error(write("text", std::string(100, 'x'))), "wrong magic"));
  BOOST_TEST(has(load_error(write("truncated", bytes.substr(0, bytes.size() - 1000))),
                 "truncated or corrupt"));
  BOOST_TEST(has(load_error(write("header_only", bytes.substr(0, 40))), "truncated or corrupt"));
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  BOOST_TEST(has(load_error(write("flipped", flipped)), "checksum mismatch"));
  std::string version = bytes;
  version[8] = 9;
  BOOST_TEST(has(load_error(write("version", version)), "format version 9"));
  // A checkpoint is not a model.
  ModelFileContents ck{ModelFileKind::Checkpoint, "{}", {}};
  write_model_file(dir / "ck", ck);
  BOOST_TEST(has(load_error(dir / "ck"), "training checkpoint"));
  // Valid container, wrong contents: metadata claiming another CR or architecture, JSON that is
  // not ours, a missing array.
  ModelFileContents c = read_model_file(good, ModelFileKind::Model);
  ModelFileContents other_cr = c;
  const auto pos = other_cr.metadata_json.find("\"cr\": 64");
  BOOST_REQUIRE(pos != std::string::npos);
  other_cr.metadata_json.replace(pos, 8, "\"cr\": 16");
  write_model_file(dir / "other_cr", other_cr);
  BOOST_TEST(has(load_error(dir / "other_cr"), "wrong shape"));
  ModelFileContents other_arch = c;
  other_arch.metadata_json.replace(other_arch.metadata_json.find("\"csinet\""), 8, "\"crnet\"");
  write_model_file(dir / "other_arch", other_arch);
  BOOST_TEST(has(load_error(dir / "other_arch"), "is missing"));
  ModelFileContents unknown_arch = c;
  unknown_arch.metadata_json.replace(unknown_arch.metadata_json.find("\"csinet\""), 8,
                                     "\"resnet\"");
  write_model_file(dir / "unknown_arch", unknown_arch);
  BOOST_TEST(has(load_error(dir / "unknown_arch"), "unknown architecture 'resnet'"));
  ModelFileContents foreign = c;
  foreign.metadata_json = R"({"format": "something else"})";
  write_model_file(dir / "foreign", foreign);
  BOOST_TEST(has(load_error(dir / "foreign"), "metadata format"));
  ModelFileContents not_json = c;
  not_json.metadata_json = "{not json";
  write_model_file(dir / "not_json", not_json);
  BOOST_TEST(has(load_error(dir / "not_json"), "not a JSON object"));
  ModelFileContents missing = c;
  missing.arrays.pop_back();
  write_model_file(dir / "missing_array", missing);
  BOOST_TEST(has(load_error(dir / "missing_array"), "is missing"));
  ModelFileContents extra = c;
  extra.arrays.push_back({"stowaway", {1}, {1.0F}});
  write_model_file(dir / "extra_array", extra);
  BOOST_TEST(has(load_error(dir / "extra_array"), "unexpected array 'stowaway'"));
  // Every message names the file.
  BOOST_TEST(has(load_error(dir / "extra_array"), (dir / "extra_array").string()));
}

#ifdef LINKSIM_MODELS_DIR
BOOST_AUTO_TEST_CASE(shipped_models_reproduce_their_recorded_validation_nmse) {
  // Every shipped model trained on generated drops: regenerate the first K of its validation
  // drops exactly (drop i of the data seed is stream derive_seed(seed, 0, i); validation follows
  // the training drops), evaluate, and check that the recorded validation NMSE (over all of
  // them) lies within 5 standard errors of the mean per-sample error ratio on these K.
  constexpr std::size_t kSamples = 200;
  std::size_t checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(LINKSIM_MODELS_DIR)) {
    if (e.path().extension() != ".lsnn" || ModClassifier::is_classifier_file(e.path())) continue;
    const CsiAutoencoder m = CsiAutoencoder::load(e.path());
    const auto t = nlohmann::json::parse(m.training_record());
    BOOST_TEST_CONTEXT(e.path().filename().string()) {
      if (!t.contains("validation")) {  // still training (models/ is where `linksim train` works)
        BOOST_TEST_MESSAGE(e.path().string() << ": training in progress, skipped");
        continue;
      }
      const auto& data = t.at("recipe").at("data");
      if (data.at("source") != "generated") continue;
      const auto scenario = cost2100_scenario_named(data.at("channel").get<std::string>());
      BOOST_REQUIRE(scenario.has_value());
      const auto seed = data.at("seed").get<std::uint64_t>();
      const auto first = data.at("train_samples").get<std::uint64_t>();
      const auto n_val = data.at("validation_samples").get<std::size_t>();
      const std::size_t k = std::min(kSamples, n_val);
      arma::mat x(kCsiValues, k);
      for (std::size_t i = 0; i < k; ++i) {
        RandomStream rng(derive_seed(seed, 0, first + i));
        x.col(i) = flatten_csi(
            generate_drop(cost2100_params(*scenario), csinet_geometry(*scenario), rng).h_ad);
      }
      const arma::mat x_hat = m.reconstruct(x);
      arma::vec ratio(k);
      for (std::size_t i = 0; i < k; ++i) {
        ratio(i) =
            arma::accu(arma::square(x.col(i) - x_hat.col(i))) / arma::accu(arma::square(x.col(i)));
      }
      const double se = arma::stddev(ratio) / std::sqrt(static_cast<double>(k));
      const double recorded = std::pow(10.0, t.at("validation").at("nmse_db").get<double>() / 10.0);
      BOOST_TEST(std::abs(arma::mean(ratio) - recorded) <= 5.0 * se + 1e-9,
                 "first " << k << " validation drops: NMSE " << 10 * std::log10(arma::mean(ratio))
                          << " dB, recorded " << 10 * std::log10(recorded) << " dB");
      ++checked;
    }
  }
  BOOST_TEST_MESSAGE(checked << " shipped model(s) checked");
}
#endif

BOOST_AUTO_TEST_CASE(shipped_classifiers_reproduce_their_recorded_test_accuracy) {
  // Every shipped modulation classifier: regenerate its test samples from the recorded data
  // settings (sample i of the data seed; the test split follows training and validation) and
  // check the recorded test accuracy (a sample or two may flip with the thread count).
  std::size_t checked = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(LINKSIM_MODELS_DIR)) {
    if (e.path().extension() != ".lsnn" || !ModClassifier::is_classifier_file(e.path())) continue;
    BOOST_TEST_CONTEXT(e.path().filename().string()) {
      const ModClassifier m = ModClassifier::load(e.path());
      const auto meta = nlohmann::json::parse(m.metadata_json());
      const auto& t = meta.at("training");
      const auto& c = t.at("config");
      const auto num = [&](const char* k) { return std::stod(c.at(k).get<std::string>()); };
      ModDataSpec spec;
      spec.classes = m.shape().classes;
      spec.symbols = static_cast<std::size_t>(num("data.symbols"));
      spec.snr_min_db = num("data.snr_min_db");
      spec.snr_max_db = num("data.snr_max_db");
      spec.random_phase = c.at("data.phase").get<std::string>() == "random";
      const auto first = static_cast<std::size_t>(num("data.train") + num("data.val"));
      const auto n = static_cast<std::size_t>(num("data.test"));
      const ModSamples test =
          make_mod_samples(spec, first, n, static_cast<std::uint64_t>(num("data.seed")));
      const double accuracy = classification_accuracy(m.logits(test.x), test.labels);
      const double recorded = t.at("test_accuracy").get<double>();
      BOOST_TEST(std::abs(accuracy - recorded) <= 2.0 / static_cast<double>(n),
                 "accuracy " << accuracy << ", recorded " << recorded);
      ++checked;
    }
  }
  BOOST_TEST(checked >= 3U);  // teacher, labels-only student, distilled student
}
