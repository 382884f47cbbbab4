// qa_csi_runner: CSI feedback scenarios (kind = csi_feedback) run through the library: the
// documented result fields, thread-count independence, a dataset file giving the same results as
// generating the same drops, data without H_sf, crash and resume, and bad dataset files.
#define BOOST_TEST_MODULE qa_csi_runner
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>

#include "channels/csi_dataset.hpp"
#include "cli/registry.hpp"
#include "cli/runner.hpp"
#include "nn_compress/compress_pipeline.hpp"
#include "qa_common.hpp"
#include "results/results.hpp"

using namespace linksim;
namespace fs = std::filesystem;

namespace {

// Two methods x two CRs on 12 generated indoor drops.
std::string scenario(const std::string& extra = "") {
  return "kind = csi_feedback\n"
         "[csi]\n"
         "channel = cost2100_indoor\n"
         "samples = 12\n"
         "data_seed = 5\n"
         "method = omp, amp\n"
         "cr = 4, 32\n" +
         extra +
         "[sweep]\n"
         "snr = esn0\n"
         "snr_db = -10\n"
         "[run]\n"
         "seed = 3\n";
}

/// scenario(extra) with other methods and CRs (comma lists).
std::string scenario_with(const std::string& extra, const std::string& methods,
                          const std::string& crs) {
  std::string ini = scenario(extra);
  ini.replace(ini.find("method = omp, amp"), 17, "method = " + methods);
  ini.replace(ini.find("cr = 4, 32"), 10, "cr = " + crs);
  return ini;
}

RunRecord run(const fs::path& ini, const fs::path& out, unsigned threads) {
  RunOptions o;
  o.scenario_file = ini;
  o.out = out;
  o.threads = threads;
  o.progress = false;
  o.plot = false;
  std::ostringstream log;
  return run_scenario(o, log);
}

void check_same(const RunRecord& a, const RunRecord& b) {
  BOOST_REQUIRE_EQUAL(a.points.size(), b.points.size());
  for (std::size_t i = 0; i < a.points.size(); ++i) {
    const auto& p = *a.points[i].csi;
    const auto& q = *b.points[i].csi;
    BOOST_TEST(p.method == q.method);
    BOOST_TEST(p.cr == q.cr);
    BOOST_TEST(p.nmse_db == q.nmse_db, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(p.rho == q.rho, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(a.points[i].result.counts.bit_errors == b.points[i].result.counts.bit_errors);
    BOOST_TEST(p.perfect.bit_errors == q.perfect.bit_errors);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_csi_run_writes_the_documented_fields) {
  const qa::TempDir dir("csi_runner_fields");
  qa::write_text(dir / "s.ini", scenario());
  const RunRecord r = run(dir / "s.ini", dir / "out", 2);
  BOOST_TEST(r.kind == "csi_feedback");
  BOOST_REQUIRE(r.points.size() == 4U);
  const auto j = nlohmann::json::parse(qa::read_text(dir / "out" / "results.json"));
  BOOST_TEST(j.at("kind").get<std::string>() == "csi_feedback");
  for (const auto& p : j.at("points")) {
    for (const char* key : {"method", "cr", "nmse_db", "nmse_db_ci95", "rho", "rho_full_grid",
                            "samples", "ber", "ber_ci95", "ber_perfect_csi", "latency_us"}) {
      BOOST_TEST(p.contains(key), key);
    }
    BOOST_TEST(p.at("samples").get<int>() == 12);
    const double nmse = p.at("nmse_db").get<double>();
    BOOST_TEST(p.at("nmse_db_ci95")[0].get<double>() <= nmse);
    BOOST_TEST(p.at("nmse_db_ci95")[1].get<double>() >= nmse);
    BOOST_TEST(p.at("rho").get<double>() > 0.0);
    BOOST_TEST(p.at("rho").get<double>() <= 1.0);
    BOOST_TEST(p.at("latency_us").contains("encoder"));
    BOOST_TEST(p.at("latency_us").contains("reconstruction"));
    BOOST_TEST(p.at("latency_us").at("encoder").at("calls").get<int>() == 12);
    // 1024 subcarriers x 1 QPSK symbol x 2 bits per sample.
    BOOST_TEST(p.at("bits").get<int>() == 12 * 2048);
    // Imperfect CSI cannot beat perfect CSI on the same bits and noise by more than chance.
    BOOST_TEST(p.at("ber").get<double>() >= p.at("ber_perfect_csi").get<double>() - 0.01);
  }
  // More feedback, better CSI: CR 4 beats CR 32 for each method.
  for (std::size_t m = 0; m < 2; ++m) {
    BOOST_TEST(r.points[2 * m].csi->cr == 4U);
    BOOST_TEST(r.points[2 * m].csi->nmse_db < r.points[2 * m + 1].csi->nmse_db - 3.0);
  }
  // The conditional-expectation BER agrees with the counted one (24576 bits a point).
  for (const auto& p : r.points) {
    const double n = static_cast<double>(p.result.counts.bits);
    const double counted = static_cast<double>(p.result.counts.bit_errors) / n;
    // Bits of one sample share its channel: allow for that with a wide (10 sigma) margin.
    BOOST_TEST(
        std::abs(counted - p.csi->ber_expected) < 10 * std::sqrt(p.csi->ber_expected / n * 12),
        p.csi->method);
  }
  const std::string summary = qa::read_text(dir / "out" / "summary.md");
  BOOST_TEST(summary.find("| 1/4 | omp |") != std::string::npos, summary);
  BOOST_TEST(summary.find("NMSE dB (rho)") != std::string::npos);
  // read_results keeps the CSI fields (for --resume).
  const RunRecord back = read_results(dir / "out" / "results.json");
  check_same(r, back);
}

BOOST_AUTO_TEST_CASE(nn_and_cs_feedback_give_the_same_result_fields_on_the_same_samples) {
  // One-line swap: method = csinet with a shipped model instead of a CS reconstruction. Both
  // report the same fields, on the same drops, bits and noise (so the perfect-CSI reference is
  // identical); CsiNet feeds back M + 1 values (its per-sample scale), CS M.
  const qa::TempDir dir("csi_runner_nn");
  const std::string model = std::string(LINKSIM_MODELS_DIR) + "/csinet_indoor_cr{cr}.lsnn";
  const std::string ini = scenario_with("model = " + model + "\n", "omp, csinet", "4, 16");
  qa::write_text(dir / "s.ini", ini);
  const RunRecord r = run(dir / "s.ini", dir / "out", 2);
  BOOST_REQUIRE(r.points.size() == 4U);
  const auto j = nlohmann::json::parse(qa::read_text(dir / "out" / "results.json"));
  const auto keys = [](const nlohmann::json& o) {
    std::vector<std::string> k;
    for (const auto& [key, value] : o.items()) k.push_back(key);
    return k;
  };
  const auto& pts = j.at("points");
  for (std::size_t i = 0; i < 2; ++i) {  // CR 4, then 16: omp at i, csinet at i + 2
    const auto& cs = pts[i];
    const auto& nn = pts[i + 2];
    BOOST_TEST(cs.at("method").get<std::string>() == "omp");
    BOOST_TEST(nn.at("method").get<std::string>() == "csinet");
    BOOST_TEST(keys(cs) == keys(nn), boost::test_tools::per_element());
    BOOST_TEST(keys(cs.at("latency_us")) == keys(nn.at("latency_us")),
               boost::test_tools::per_element());
    BOOST_TEST(keys(cs.at("latency_batched_us_per_sample")) ==
                   keys(nn.at("latency_batched_us_per_sample")),
               boost::test_tools::per_element());
    BOOST_TEST(cs.at("samples") == nn.at("samples"));
    BOOST_TEST(cs.at("bits") == nn.at("bits"));
    BOOST_TEST(cs.at("ber_perfect_csi") == nn.at("ber_perfect_csi"));
    const int cr = nn.at("cr").get<int>();
    BOOST_TEST(cs.at("feedback_values").get<int>() == 2048 / cr);
    BOOST_TEST(nn.at("feedback_values").get<int>() == 2048 / cr + 1);
  }
  // A trained model, not noise: CsiNet reconstructs these indoor drops well (validation NMSE of
  // the shipped models: -12.0 dB at CR 4, -7.8 dB at CR 16; 12 drops, so a wide margin).
  BOOST_TEST(r.points[2].csi->nmse_db < -8.0);
  BOOST_TEST(r.points[3].csi->nmse_db < -4.0);
  BOOST_TEST(r.points[2].csi->rho > 0.9);
}

BOOST_AUTO_TEST_CASE(model_by_cr_names_the_model_of_a_cr) {
  // csi.model_by_cr overrides csi.model at the CRs it lists and nowhere else: the CR 4 point of a
  // sweep is the same with and without it, the CR 16 point is the one of the listed model.
  const qa::TempDir dir("csi_runner_by_cr");
  const std::string models = std::string(LINKSIM_MODELS_DIR);
  const std::string base = "model = " + models + "/csinet_indoor_cr{cr}.lsnn\n";
  const std::string other = models + "/csinet_indoor_cr16_xl.lsnn";
  qa::write_text(dir / "plain.ini", scenario_with(base, "csinet", "4, 16"));
  qa::write_text(dir / "by_cr.ini",
                 scenario_with(base + "model_by_cr = 16=" + other + "\n", "csinet", "4, 16"));
  qa::write_text(dir / "direct.ini", scenario_with("model = " + other + "\n", "csinet", "16"));
  const RunRecord plain = run(dir / "plain.ini", dir / "plain", 1);
  const RunRecord by_cr = run(dir / "by_cr.ini", dir / "by_cr", 1);
  const RunRecord direct = run(dir / "direct.ini", dir / "direct", 1);
  BOOST_REQUIRE(plain.points.size() == 2U && by_cr.points.size() == 2U);
  BOOST_TEST(by_cr.points[0].csi->nmse_db == plain.points[0].csi->nmse_db);
  BOOST_TEST(by_cr.points[1].csi->nmse_db == direct.points[0].csi->nmse_db);
  BOOST_TEST(by_cr.points[1].csi->nmse_db != plain.points[1].csi->nmse_db);
  // Malformed pairs and a CR listed twice are configuration errors naming the key.
  for (const std::string& bad :
       {std::string("16"), "x=" + other, std::string("16="), "16=" + other + " 16=" + other}) {
    BOOST_CHECK_EXCEPTION(model_file_for_cr(bad, 16), ConfigError, [](const ConfigError& e) {
      return std::string(e.what()).find("csi.model_by_cr") != std::string::npos;
    });
  }
  BOOST_TEST(!model_file_for_cr("4=a.lsnn 32=b.lsnn", 16).has_value());
  BOOST_TEST(*model_file_for_cr("4=a.lsnn 32=b.lsnn", 32) == "b.lsnn");
}

BOOST_AUTO_TEST_CASE(variant_and_backend_sweeps_report_size_bits_and_throughput) {
  // Two variants of the shipped CR 4 model (as it is, and int8) on two backends: every point
  // reports its file size on disk, bits, backend and throughput; int8 costs little NMSE; the
  // summary gets seed 000's Table I layout.
  const qa::TempDir dir("csi_runner_variants");
  const CsiAutoencoder model =
      CsiAutoencoder::load(std::string(LINKSIM_MODELS_DIR) + "/csinet_indoor_cr4.lsnn");
  CompressPlan plan;
  write_compact_model(dir / "m_original.lsnnc", compress_csi_model(model, plan, {}, "{}").compact);
  plan.steps = {CompressStep::Int8};
  write_compact_model(dir / "m_quantized.lsnnc", compress_csi_model(model, plan, {}, "{}").compact);
  const std::string ini =
      scenario_with("model = " + (dir / "m_{variant}.lsnnc").string() +
                        "\nvariant = original, quantized\nbackend = torch, int8\n",
                    "csinet", "4");
  qa::write_text(dir / "s.ini", ini);
  const RunRecord r = run(dir / "s.ini", dir / "out", 2);
  BOOST_REQUIRE(r.points.size() == 4U);
  double torch_original = 0, int8_quantized = 0;
  for (const PointRecord& p : r.points) {
    const CsiPointMetrics& m = *p.csi;
    const fs::path file = dir / ("m_" + m.variant + ".lsnnc");
    BOOST_TEST(m.size_bytes == fs::file_size(file), m.variant);
    BOOST_TEST(m.bits == (m.variant == "quantized" ? 8U : 32U), m.variant);
    BOOST_TEST(m.backend == p.swept.at("csi.backend"));
    BOOST_TEST(m.throughput_samples_per_s > 0.0);
    if (m.variant == "original" && m.backend == "torch") torch_original = m.nmse_db;
    if (m.variant == "quantized" && m.backend == "int8") int8_quantized = m.nmse_db;
  }
  BOOST_TEST(fs::file_size(dir / "m_quantized.lsnnc") <
             fs::file_size(dir / "m_original.lsnnc") / 3);
  BOOST_TEST(std::abs(int8_quantized - torch_original) < 0.3);
  const std::string summary = qa::read_text(dir / "out" / "summary.md");
  BOOST_TEST(summary.find("Compressed models (seed 000, Table I layout)") != std::string::npos);
  BOOST_TEST(summary.find("| 1/4 | quantized | int8 |") != std::string::npos, summary);
}

BOOST_AUTO_TEST_CASE(a_variant_sweep_on_one_backend_gets_seed_002s_variant_by_cr_table) {
  // The original and a threshold-pruned copy (seed 002, Table 1) on torch: a row per variant,
  // a column per CR, the NMSE with the share of the dense weights kept and the bits.
  const qa::TempDir dir("csi_runner_seed002");
  const CsiAutoencoder model =
      CsiAutoencoder::load(std::string(LINKSIM_MODELS_DIR) + "/csinet_indoor_cr4.lsnn");
  CompressPlan plan;
  write_compact_model(dir / "m_original.lsnnc", compress_csi_model(model, plan, {}, "{}").compact);
  plan.steps = {CompressStep::Prune};
  plan.prune_method = PruneMethod::Threshold;
  plan.threshold = 0.01F;
  write_compact_model(dir / "m_t010.lsnnc", compress_csi_model(model, plan, {}, "{}").compact);
  qa::write_text(dir / "s.ini", scenario_with("model = " + (dir / "m_{variant}.lsnnc").string() +
                                                  "\nvariant = original, t010\nbackend = torch\n",
                                              "csinet", "4"));
  const RunRecord r = run(dir / "s.ini", dir / "out", 2);
  BOOST_REQUIRE(r.points.size() == 2U);
  const CsiPointMetrics& pruned = *r.points[1].csi;
  BOOST_TEST(pruned.variant == "t010");
  BOOST_TEST(pruned.sparsity > 0.05);
  const std::string summary = qa::read_text(dir / "out" / "summary.md");
  BOOST_TEST(summary.find("(seed 002, Tables 1 and 2 layout)") != std::string::npos, summary);
  BOOST_TEST(summary.find("| Variant | CR 1/4 |") != std::string::npos, summary);
  char row[96];
  std::snprintf(row, sizeof row, "| t010 | %.2f (%.2f%%, 32 b) |", pruned.nmse_db,
                100.0 * (1.0 - pruned.sparsity));
  BOOST_TEST(summary.find(row) != std::string::npos, row << " in\n" << summary);
}

BOOST_AUTO_TEST_CASE(thread_count_does_not_change_csi_results) {
  const qa::TempDir dir("csi_runner_threads");
  qa::write_text(dir / "s.ini", scenario("batch = 5\n"));
  check_same(run(dir / "s.ini", dir / "one", 1), run(dir / "s.ini", dir / "two", 2));
}

BOOST_AUTO_TEST_CASE(a_dataset_file_gives_the_same_results_as_generating_it) {
  const qa::TempDir dir("csi_runner_data");
  write_csi_hdf5(dir / "full.h5",
                 generate_csi_dataset(Cost2100Scenario::IndoorHall5GHz, 12, 5, 2, true));
  write_csi_hdf5(dir / "ad_only.h5",
                 generate_csi_dataset(Cost2100Scenario::IndoorHall5GHz, 12, 5, 2, false));
  qa::write_text(dir / "gen.ini", scenario());
  qa::write_text(dir / "file.ini", scenario("data = " + (dir / "full.h5").string() + "\n"));
  qa::write_text(dir / "ad.ini", scenario("data = " + (dir / "ad_only.h5").string() + "\n"));
  const RunRecord gen = run(dir / "gen.ini", dir / "gen", 2);
  const RunRecord file = run(dir / "file.ini", dir / "file", 2);
  // float32 storage: the metrics agree to float precision, the bit errors exactly or nearly.
  for (std::size_t i = 0; i < gen.points.size(); ++i) {
    BOOST_TEST(gen.points[i].csi->nmse_db == file.points[i].csi->nmse_db,
               boost::test_tools::tolerance(1e-3));
    BOOST_TEST(gen.points[i].csi->rho == file.points[i].csi->rho,
               boost::test_tools::tolerance(1e-4));
  }
  // Without H_sf the true channel comes from the truncated H_ad and rho_full is absent.
  const RunRecord ad = run(dir / "ad.ini", dir / "ad", 2);
  BOOST_TEST(!ad.points.front().csi->rho_full.has_value());
  BOOST_TEST(gen.points.front().csi->rho_full.has_value());
  BOOST_TEST(ad.points.front().csi->nmse_db == gen.points.front().csi->nmse_db,
             boost::test_tools::tolerance(1e-3));
}

BOOST_AUTO_TEST_CASE(bad_dataset_files_are_config_errors) {
  const qa::TempDir dir("csi_runner_bad");
  qa::write_text(dir / "text.h5", "not a dataset\n");
  write_csi_hdf5(dir / "small.h5",
                 generate_csi_dataset(Cost2100Scenario::IndoorHall5GHz, 3, 5, 1, false));
  const std::pair<std::string, std::string> cases[] = {
      {"data = " + (dir / "missing.h5").string() + "\n", "is not a readable file"},
      {"data = " + (dir / "text.h5").string() + "\n", "csi.data"},
      {"data = " + (dir / "small.h5").string() + "\n", "has 3"},
  };
  for (const auto& [extra, expect] : cases) {
    qa::write_text(dir / "s.ini", scenario(extra));
    try {
      run(dir / "s.ini", dir / "out", 1);
      BOOST_ERROR("no error for " << extra);
    } catch (const ConfigError& e) {
      BOOST_TEST(std::string(e.what()).find(expect) != std::string::npos, e.what());
    }
  }
}

BOOST_AUTO_TEST_CASE(post_training_prune_and_precision_sweeps_report_the_compact_size) {
  // csi.prune x csi.precision on the shipped CR 4 model: each point's size is the compact file
  // the same compression writes, sparsity and bits follow the keys, int8 costs little NMSE, and
  // the summary and the plots compare them.
  const qa::TempDir dir("csi_runner_post_training");
  const std::string shipped = std::string(LINKSIM_MODELS_DIR) + "/csinet_indoor_cr4.lsnn";
  const std::string ini = scenario_with(
      "model = " + shipped + "\nprune = 0, 0.5\nprecision = fp32, int8\n", "csinet", "4");
  qa::write_text(dir / "s.ini", ini);
  const RunRecord r = run(dir / "s.ini", dir / "out", 2);
  BOOST_REQUIRE(r.points.size() == 4U);
  // The same compression written to disk.
  const CsiAutoencoder model = CsiAutoencoder::load(shipped);
  CompressPlan plan;
  plan.steps = {CompressStep::Prune, CompressStep::Int8};
  plan.sparsity = 0.5;
  const nlohmann::json recipe = {{"input_model", shipped},
                                 {"input_compression", nullptr},
                                 {"post_training", true},
                                 {"sparsity", 0.5}};  // what the run records
  write_compact_model(dir / "p50_int8.lsnnc",
                      compress_csi_model(model, plan, {}, recipe.dump()).compact);
  double fp32 = 0, int8 = 0;
  for (const PointRecord& p : r.points) {
    const CsiPointMetrics& m = *p.csi;
    const double prune = std::stod(p.swept.at("csi.prune"));
    const bool is_int8 = p.swept.at("csi.precision") == "int8";
    BOOST_TEST(m.bits == (is_int8 ? 8U : 32U));
    BOOST_TEST(m.sparsity >= prune);
    BOOST_TEST(m.sparsity < prune + 0.02);  // int8 rounds a few more weights to zero
    if (prune == 0 && !is_int8) {
      BOOST_TEST(m.size_bytes == fs::file_size(shipped));  // as loaded: the file itself
      fp32 = m.nmse_db;
    }
    if (prune == 0 && is_int8) int8 = m.nmse_db;
    if (prune == 0.5 && is_int8) BOOST_TEST(m.size_bytes == fs::file_size(dir / "p50_int8.lsnnc"));
  }
  BOOST_TEST(std::abs(int8 - fp32) < 0.3);
  const std::string summary = qa::read_text(dir / "out" / "summary.md");
  BOOST_TEST(summary.find("Compressed models (seed 000, Table I layout)") != std::string::npos);
  BOOST_TEST(summary.find("Sparsity x precision (seed 000, Figure 2)") != std::string::npos);
  BOOST_TEST(summary.find("| 0.5 | 4.4") != std::string::npos, summary);  // fp32 at 50%: 4.4x MB
  if (write_compression_plots(r, dir / "out").empty()) {                  // gnuplot present
    BOOST_TEST(fs::file_size(dir / "out" / "compression.svg") > 1000U);
  }
  // A pruned fp32 model (as linksim compress writes) takes a precision; its zeros stay pruned.
  plan.steps = {CompressStep::Prune};
  write_compact_model(dir / "p50.lsnnc", compress_csi_model(model, plan, {}, "{}").compact);
  std::string pruned = ini;
  pruned.replace(pruned.find("model = "), 8 + shipped.size(),
                 "model = " + (dir / "p50.lsnnc").string());
  pruned.replace(pruned.find("prune = 0, 0.5"), 14, "prune = 0");
  qa::write_text(dir / "pruned.ini", pruned);
  const RunRecord rp = run(dir / "pruned.ini", dir / "pruned", 1);
  BOOST_REQUIRE(rp.points.size() == 2U);
  for (const PointRecord& p : rp.points) {
    BOOST_TEST(p.csi->sparsity >= 0.5);
    BOOST_TEST(p.csi->sparsity < 0.52);
    BOOST_TEST(p.csi->bits == (p.swept.at("csi.precision") == "int8" ? 8U : 32U));
  }
  // Post-training pruning of a model that is quantised already is refused with a clear message.
  plan.steps = {CompressStep::Int8};
  write_compact_model(dir / "q.lsnnc", compress_csi_model(model, plan, {}, "{}").compact);
  std::string bad = ini;
  bad.replace(bad.find("model = "), 8 + shipped.size(), "model = " + (dir / "q.lsnnc").string());
  qa::write_text(dir / "bad.ini", bad);
  BOOST_CHECK_EXCEPTION(run(dir / "bad.ini", dir / "bad", 1), ConfigError,
                        [](const ConfigError& e) {
                          return std::string(e.what()).find("csi.prune") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(the_pareto_front_keeps_the_points_nothing_beats_in_both) {
  // (size, NMSE): (1, -5) (2, -8) (3, -7) (4, -10) (2, -6) (5, -10): (3, -7) is beaten by
  // (2, -8), (2, -6) by (2, -8), (5, -10) by (4, -10).
  const std::vector<std::pair<double, double>> xy = {{1, -5},  {2, -8}, {3, -7},
                                                     {4, -10}, {2, -6}, {5, -10}};
  BOOST_TEST((pareto_front(xy) == std::vector<std::size_t>{0, 1, 3}));
  BOOST_TEST(pareto_front({}).empty());
}
