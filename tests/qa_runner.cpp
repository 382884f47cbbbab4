// qa_runner: running scenario files through the library (cli/runner.hpp): results files,
// crash-safe resume (a hook throws after the first point, as a crash would), refusal to resume a
// different configuration, the BER floor, and prepare_scenario errors.
#define BOOST_TEST_MODULE qa_runner
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>
#include <string>

#include "cli/runner.hpp"
#include "qa_common.hpp"
#include "results/results.hpp"

using namespace linksim;
namespace fs = std::filesystem;

namespace {

struct Crash {};  // what the hook throws to simulate a crash

// Two curves (BPSK, QPSK) of four SNR points; each point stops on errors or bits.
const char* kScenario =
    "name = qa_resume\n"
    "description = resume test\n"
    "[link]\n"
    "mapper = bpsk, qpsk\n"
    "frame_bits = 1000\n"
    "[sweep]\n"
    "snr_db = 0:2:6\n"
    "[stop]\n"
    "min_bit_errors = 300\n"
    "max_bits = 400000\n"
    "[run]\n"
    "seed = 7\n"
    "threads = 2\n";

RunOptions options(const fs::path& scenario, const fs::path& out) {
  RunOptions o;
  o.scenario_file = scenario;
  o.out = out;
  o.progress = false;
  o.plot = false;
  return o;
}

void check_same_counts(const RunRecord& a, const RunRecord& b) {
  BOOST_REQUIRE_EQUAL(a.points.size(), b.points.size());
  for (std::size_t i = 0; i < a.points.size(); ++i) {
    const auto& p = a.points[i];
    const auto& q = b.points[i];
    BOOST_TEST(p.index == q.index);
    BOOST_TEST((p.swept == q.swept), "point " << i);
    BOOST_TEST(p.snr.ebn0_db == q.snr.ebn0_db);
    BOOST_TEST(p.result.counts.bits == q.result.counts.bits, "point " << i);
    BOOST_TEST(p.result.counts.bit_errors == q.result.counts.bit_errors, "point " << i);
    BOOST_TEST(p.result.counts.frames == q.result.counts.frames, "point " << i);
    BOOST_TEST(p.result.counts.frame_errors == q.result.counts.frame_errors, "point " << i);
  }
}

std::string error_of(const RunOptions& o) {
  std::ostringstream log;
  try {
    run_scenario(o, log);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// Runs `scenario` into `out`, crashing after `points_before_crash` finished points.
void run_and_crash(const RunOptions& o, std::size_t points_before_crash) {
  std::ostringstream log;
  std::size_t finished = 0;
  BOOST_CHECK_THROW(run_scenario(o, log,
                                 [&](const PointRecord&) {
                                   if (++finished == points_before_crash) throw Crash{};
                                 }),
                    Crash);
}

}  // namespace

BOOST_AUTO_TEST_CASE(uninterrupted_run_writes_every_point) {
  const qa::TempDir dir("runner_full");
  qa::write_text(dir / "s.ini", kScenario);
  std::ostringstream log;
  const RunRecord run = run_scenario(options(dir / "s.ini", dir / "out"), log);
  BOOST_TEST(run.scenario == "qa_resume");
  BOOST_TEST(run.status == "complete");
  BOOST_TEST(run.planned_points == 8U);
  BOOST_TEST(run.points.size() == 8U);
  BOOST_TEST(run.seed == 7U);
  BOOST_TEST(run.threads == 2U);
  BOOST_TEST((run.axes == std::vector<std::string>{"link.mapper", "sweep.snr_db"}));
  for (std::size_t i = 0; i < run.points.size(); ++i) {
    const auto& p = run.points[i];
    BOOST_TEST(p.index == i);
    BOOST_TEST(p.swept.at("link.mapper") == (i < 4 ? "bpsk" : "qpsk"));
    BOOST_TEST(std::stod(p.swept.at("sweep.snr_db")) == 2.0 * static_cast<double>(i % 4));
    const Counts& c = p.result.counts;
    BOOST_TEST((c.bit_errors >= 300U || c.bits >= 400000U));
    BOOST_TEST(p.ber_theory.has_value());
  }
  for (const char* f : {"results.json", "results.csv", "summary.md"})
    BOOST_TEST(fs::exists(dir / "out" / f), f);

  // results.json reads back to the same record.
  const RunRecord back = read_results(dir / "out" / "results.json");
  BOOST_TEST(back.status == "complete");
  BOOST_TEST(back.seed == run.seed);
  BOOST_TEST((back.config == run.config));
  check_same_counts(run, back);

  // Its fields, with nlohmann_json.
  const auto j = nlohmann::json::parse(qa::read_text(dir / "out" / "results.json"));
  BOOST_TEST(j.at("config").at("link.mapper").is_array());
  BOOST_TEST(j.at("config").at("link.frame_bits").get<std::string>() == "1000");
  for (const auto& p : j.at("points")) {
    const double bits = p.at("bits").get<double>(), errors = p.at("bit_errors").get<double>();
    BOOST_TEST(p.at("ber").get<double>() == errors / bits);
    BOOST_TEST(p.at("ber_ci95")[0].get<double>() <= p.at("ber").get<double>());
    BOOST_TEST(p.at("ber_ci95")[1].get<double>() >= p.at("ber").get<double>());
    BOOST_TEST(p.at("fer").get<double>() ==
               p.at("frame_errors").get<double>() / p.at("frames").get<double>());
    BOOST_TEST(std::abs(p.at("n0").get<double>() -
                        std::pow(10.0, -p.at("esn0_db").get<double>() / 10)) <= 1e-12);
  }
  // results.csv: a header and one row per point.
  const std::string csv = qa::read_text(dir / "out" / "results.csv");
  BOOST_TEST(std::count(csv.begin(), csv.end(), '\n') == 9);
}

BOOST_AUTO_TEST_CASE(resume_after_a_crash_gives_the_uninterrupted_counts) {
  const qa::TempDir full("runner_ref"), crashed("runner_crash");
  qa::write_text(full / "s.ini", kScenario);
  qa::write_text(crashed / "s.ini", kScenario);
  std::ostringstream log;
  const RunRecord reference = run_scenario(options(full / "s.ini", full / "out"), log);

  RunOptions o = options(crashed / "s.ini", crashed / "out");
  o.threads = 1;  // the thread count may differ between the runs
  run_and_crash(o, 1);
  const RunRecord partial = read_results(crashed / "out" / "results.json");
  BOOST_TEST(partial.status == "running");
  BOOST_REQUIRE_EQUAL(partial.points.size(), 1U);
  BOOST_TEST(partial.points[0].index == 0U);

  // An unfinished run of the same configuration is continued, with or without --resume.
  o.resume = false;
  o.threads = 2;
  std::size_t rerun = 0;
  const RunRecord resumed = run_scenario(o, log, [&](const PointRecord& p) {
    ++rerun;
    BOOST_TEST(p.index != 0U);  // the finished point is kept, not run again
  });
  BOOST_TEST(rerun == 7U);
  BOOST_TEST(resumed.status == "complete");
  BOOST_TEST(resumed.points[0].result.wall_s == partial.points[0].result.wall_s);
  check_same_counts(reference, resumed);
  check_same_counts(reference, read_results(crashed / "out" / "results.json"));
}

BOOST_AUTO_TEST_CASE(resume_after_a_later_crash) {
  const qa::TempDir full("runner_ref2"), crashed("runner_crash2");
  qa::write_text(full / "s.ini", kScenario);
  qa::write_text(crashed / "s.ini", kScenario);
  std::ostringstream log;
  const RunRecord reference = run_scenario(options(full / "s.ini", full / "out"), log);
  RunOptions o = options(crashed / "s.ini", crashed / "out");
  run_and_crash(o, 5);
  BOOST_TEST(read_results(crashed / "out" / "results.json").points.size() == 5U);
  o.resume = true;
  check_same_counts(reference, run_scenario(o, log));
}

BOOST_AUTO_TEST_CASE(resume_with_a_changed_configuration_is_refused) {
  const qa::TempDir dir("runner_changed");
  qa::write_text(dir / "s.ini", kScenario);
  RunOptions o = options(dir / "s.ini", dir / "out");
  run_and_crash(o, 1);
  o.resume = true;

  RunOptions changed = o;
  changed.overrides = {"link.frame_bits=2000"};
  const std::string msg = error_of(changed);
  BOOST_TEST(contains(msg, "link.frame_bits"), msg);
  changed.resume = false;  // an unfinished run is never overwritten by a different one
  const std::string msg_no_resume = error_of(changed);
  BOOST_TEST(contains(msg_no_resume, "link.frame_bits"), msg_no_resume);

  RunOptions reseeded = o;
  reseeded.seed = 8;
  const std::string seed_msg = error_of(reseeded);
  BOOST_TEST(contains(seed_msg, "run.seed"), seed_msg);

  // The scenario file itself edited between the runs.
  std::string edited = kScenario;
  edited.replace(edited.find("max_bits = 400000"), 17, "max_bits = 500000");
  qa::write_text(dir / "s.ini", edited);
  const std::string file_msg = error_of(o);
  BOOST_TEST(contains(file_msg, "stop.max_bits"), file_msg);

  // The refused attempts left the finished point alone.
  BOOST_TEST(read_results(dir / "out" / "results.json").points.size() == 1U);
}

BOOST_AUTO_TEST_CASE(force_overwrites_and_corrupt_results_are_refused) {
  const qa::TempDir dir("runner_force");
  qa::write_text(dir / "s.ini", kScenario);
  RunOptions o = options(dir / "s.ini", dir / "out");
  run_and_crash(o, 2);
  o.force = true;
  std::ostringstream log;
  const RunRecord forced = run_scenario(o, log);
  BOOST_TEST(forced.points.size() == 8U);

  // A complete run may be re-run into the same folder.
  o.force = false;
  BOOST_CHECK_NO_THROW(run_scenario(o, log));

  // An unreadable results.json is refused, with or without --resume; --force overwrites it.
  qa::write_text(dir / "out" / "results.json", "{ not json");
  BOOST_TEST(!error_of(o).empty());
  o.resume = true;
  BOOST_TEST(!error_of(o).empty());
  o.resume = false;
  o.force = true;
  BOOST_CHECK_NO_THROW(run_scenario(o, log));
  o.force = false;

  // An unfinished run without any finished point is overwritten without a flag.
  RunRecord empty = read_results(dir / "out" / "results.json");
  empty.status = "running";
  empty.points.clear();
  write_results(empty, dir / "out");
  BOOST_TEST(run_scenario(o, log).points.size() == 8U);

  // --resume over a complete run keeps it as it is: nothing is run again.
  const RunRecord before = read_results(dir / "out" / "results.json");
  o.resume = true;
  std::size_t rerun = 0;
  const RunRecord after = run_scenario(o, log, [&](const PointRecord&) { ++rerun; });
  BOOST_TEST(rerun == 0U);
  check_same_counts(before, after);
  for (std::size_t i = 0; i < after.points.size(); ++i)
    BOOST_TEST(after.points[i].result.wall_s == before.points[i].result.wall_s);
}

BOOST_AUTO_TEST_CASE(no_temporary_files_are_left) {
  const qa::TempDir dir("runner_tmp");
  qa::write_text(dir / "s.ini", kScenario);
  RunOptions o = options(dir / "s.ini", dir / "out");
  run_and_crash(o, 3);
  o.resume = true;
  o.plot = true;  // ber.dat / ber.gp (and ber.svg when gnuplot works) as well
  std::ostringstream log;
  run_scenario(o, log);
  for (const auto& e : fs::directory_iterator(dir / "out")) {
    const std::string name = e.path().filename().string();
    BOOST_TEST((name == "results.json" || name == "results.csv" || name == "summary.md" ||
                name == "ber.dat" || name == "ber.gp" || name == "ber.svg" || name == ".lock"),
               "unexpected file " << name);
  }
}

BOOST_AUTO_TEST_CASE(ber_floor_skips_the_rest_of_a_curve) {
  const qa::TempDir dir("runner_floor");
  qa::write_text(dir / "f.ini",
                 "[link]\nmapper = bpsk, qpsk\nframe_bits = 1000\n"
                 "[sweep]\nsnr_db = 0:3:12\n"
                 "[stop]\nmin_bit_errors = 50\nmax_bits = 300000\nber_floor = 1e-3\n");
  std::ostringstream log;
  const RunRecord run = run_scenario(options(dir / "f.ini", dir / "out"), log);
  BOOST_TEST(run.status == "complete");
  BOOST_TEST(run.scenario == "f");  // default name: the file name without .ini
  // Per curve: points run in SNR order until one has BER < 1e-3; none after it.
  for (const char* m : {"bpsk", "qpsk"}) {
    bool below = false;
    std::size_t n = 0;
    for (const auto& p : run.points) {
      if (p.swept.at("link.mapper") != m) continue;
      ++n;
      BOOST_TEST(!below, m << ": point " << p.index << " after the floor was reached");
      const Counts& c = p.result.counts;
      below = below || static_cast<double>(c.bit_errors) < 1e-3 * static_cast<double>(c.bits);
    }
    BOOST_TEST(below, m);
    BOOST_TEST(n < 5U, m);  // 9 dB is below 1e-3 already (BER 3.4e-5)
  }
}

BOOST_AUTO_TEST_CASE(prepare_scenario_errors_name_the_file) {
  const qa::TempDir dir("runner_prepare");
  qa::write_text(dir / "odd.ini",
                 "[link]\nmapper = qam16\nframe_bits = 1001\n[sweep]\nsnr_db = 1\n");
  try {
    prepare_scenario(dir / "odd.ini", {});
    BOOST_ERROR("frame_bits 1001 accepted for 16-QAM");
  } catch (const ConfigError& e) {
    BOOST_TEST(contains(e.what(), (dir / "odd.ini").string()), e.what());
    BOOST_TEST(contains(e.what(), "link.frame_bits"), e.what());
  }
  qa::write_text(dir / "nolimit.ini", "[sweep]\nsnr_db = 1\n[stop]\nmax_bits = 0\n");
  BOOST_CHECK_THROW(prepare_scenario(dir / "nolimit.ini", {}), ConfigError);
  // An override fixes it.
  const PreparedScenario p =
      prepare_scenario(dir / "nolimit.ini", {"stop.max_frames=3", "sweep.snr_db=0:1:2"});
  BOOST_TEST(p.points.size() == 3U);
  BOOST_TEST(p.name == "nolimit");
  BOOST_CHECK_THROW(prepare_scenario(dir / "missing.ini", {}), ConfigError);
}

BOOST_AUTO_TEST_CASE(default_output_folder) {
  RunOptions o;
  BOOST_TEST(output_dir(o, "abc") == fs::path("results") / "abc");
  o.out = "/tmp/x";
  BOOST_TEST(output_dir(o, "abc") == fs::path("/tmp/x"));
}
