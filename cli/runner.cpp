#include "cli/runner.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/csi_runner.hpp"
#include "cli/registry.hpp"
#include "sim/montecarlo.hpp"

namespace linksim {

const char* git_revision();  // generated at build time (cmake/git_revision.cmake)

namespace {

std::vector<std::string> all_overrides(const RunOptions& o) {
  std::vector<std::string> out = o.overrides;
  if (o.seed) out.push_back("run.seed=" + std::to_string(*o.seed));
  if (o.threads) out.push_back("run.threads=" + std::to_string(*o.threads));
  return out;
}

StopRule stop_rule(const PointConfig& p) {
  StopRule r;
  r.min_bit_errors = p.count("stop.min_bit_errors");
  r.min_frame_errors = p.count("stop.min_frame_errors");
  r.max_bits = p.count("stop.max_bits");
  r.max_frames = p.count("stop.max_frames");
  r.max_seconds = p.real("stop.max_seconds");
  return r;
}

/// Fraction of the point done, by the closest stop rule (for the ETA).
double progress_fraction(const StopRule& r, const Counts& c, double elapsed) {
  double f = 0.0;
  if (r.min_bit_errors > 0 || r.min_frame_errors > 0) {
    double t = 1.0;
    if (r.min_bit_errors > 0)
      t = std::min(t, static_cast<double>(c.bit_errors) / static_cast<double>(r.min_bit_errors));
    if (r.min_frame_errors > 0)
      t = std::min(t,
                   static_cast<double>(c.frame_errors) / static_cast<double>(r.min_frame_errors));
    f = std::max(f, t);
  }
  if (r.max_bits > 0)
    f = std::max(f, static_cast<double>(c.bits) / static_cast<double>(r.max_bits));
  if (r.max_frames > 0)
    f = std::max(f, static_cast<double>(c.frames) / static_cast<double>(r.max_frames));
  if (r.max_seconds > 0) f = std::max(f, elapsed / r.max_seconds);
  return std::min(f, 1.0);
}

bool same_config(const RunRecord& old, const RunRecord& now, std::string& differing) {
  for (const auto& [k, v] : now.config) {
    if (k == "run.threads") continue;  // counts do not depend on the thread count
    const auto it = old.config.find(k);
    if (it == old.config.end() || it->second != v) {
      differing = k;
      return false;
    }
  }
  return true;
}

constexpr std::size_t kMaxPoints = 100000;

bool valid_name(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 200) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
  });
}

/// Consistency of a results.json with the sweep about to run (for resuming it).
bool points_fit(const RunRecord& old, const RunRecord& now) {
  return std::all_of(old.points.begin(), old.points.end(), [&](const PointRecord& p) {
    return p.index < now.planned_points &&
           std::all_of(now.axes.begin(), now.axes.end(),
                       [&](const auto& a) { return p.swept.count(a) != 0; });
  });
}

/// An exclusive lock on the output folder for the length of a run (flock on DIR/.lock).
class FolderLock {
 public:
  explicit FolderLock(const std::filesystem::path& dir) {
    const auto path = dir / ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw ConfigError("cannot write to " + dir.string());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw ConfigError("another linksim run is writing to " + dir.string() +
                        "; wait for it or use another --out");
    }
  }
  ~FolderLock() { ::close(fd_); }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

/// Makes `dir` (the output folder) or reports why it cannot be used.
void prepare_output_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    throw ConfigError("output folder " + dir.string() + " exists and is not a folder");
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) throw ConfigError("cannot create output folder " + dir.string() + ": " + ec.message());
}

}  // namespace

PreparedScenario prepare_scenario(const std::filesystem::path& file,
                                  const std::vector<std::string>& overrides) {
  RawConfig raw = read_config_file(file);
  for (const auto& o : overrides) apply_override(raw, o);
  PreparedScenario p;
  p.scenario = validate(raw, scenario_schema());
  p.name = p.scenario.values.at("name").front();
  if (p.name.empty()) p.name = file.stem().string();
  if (!valid_name(p.name)) {
    throw ConfigError(file.string() + ": key 'name': '" + p.name +
                      "' must be letters, digits, '_', '-' or '.' (it names the results folder)");
  }
  std::size_t n_points = 1;
  for (const auto& axis : p.scenario.axes) n_points *= p.scenario.values.at(axis).size();
  if (n_points > kMaxPoints) {
    throw ConfigError(file.string() + ": the sweep has " + std::to_string(n_points) +
                      " points; at most " + std::to_string(kMaxPoints) + " are allowed");
  }
  p.points = expand(p.scenario, "sweep.snr_db");
  for (const auto& point : p.points) {
    if (point_scenario_kind(point) == ScenarioKind::CsiFeedback) {
      try {
        check_csi_point(point);
      } catch (const ConfigError& e) {
        throw ConfigError(file.string() + ": " + e.what());
      }
      continue;
    }
    try {
      build_link(point);
    } catch (const ConfigError& e) {
      throw ConfigError(file.string() + ": " + e.what());
    } catch (const std::invalid_argument& e) {
      throw ConfigError(file.string() + ": " + e.what());
    }
    if (!stop_rule(point).has_limit()) {
      throw ConfigError(file.string() +
                        ": [stop] needs at least one limit: max_bits, max_frames or max_seconds");
    }
  }
  return p;
}

std::filesystem::path output_dir(const RunOptions& options, const std::string& scenario_name) {
  return options.out ? *options.out : std::filesystem::path("results") / scenario_name;
}

RunRecord run_scenario(const RunOptions& options, std::ostream& log, const PointHook& hook) {
  const PreparedScenario prepared = prepare_scenario(options.scenario_file, all_overrides(options));
  const Scenario& sc = prepared.scenario;
  const PointConfig& first = prepared.points.front();

  RunRecord run;
  run.scenario = prepared.name;
  run.description = sc.values.at("description").front();
  run.source = options.scenario_file.string();
  run.seed = first.count("run.seed");
  run.threads = first.count("run.threads") == 0 ? hardware_threads()
                                                : static_cast<unsigned>(first.count("run.threads"));
  run.git_revision = git_revision();
  run.kind = first.text("kind");
  const bool csi = point_scenario_kind(first) == ScenarioKind::CsiFeedback;
  run.snr_kind = first.text("sweep.snr");
  run.config = sc.values;
  run.axes = sc.axes;
  if (std::find(run.axes.begin(), run.axes.end(), "sweep.snr_db") == run.axes.end()) {
    run.axes.push_back("sweep.snr_db");
  }
  std::stable_partition(run.axes.begin(), run.axes.end(),
                        [](const std::string& a) { return a != "sweep.snr_db"; });
  run.planned_points = prepared.points.size();
  run.status = "running";

  // CSI scenarios: the test set is loaded once, before any result is written (a bad data file is
  // an input error), and shared by the points.
  std::unique_ptr<CsiTestSet> test_set;
  std::string test_set_key;
  const auto load_test_set = [&](const PointConfig& pc, std::ostream& out) {
    if (test_set && csi_test_set_key(pc) == test_set_key) return;
    test_set_key = csi_test_set_key(pc);
    test_set = load_csi_test_set(pc, run.threads);
    out << "CSI test set: " << test_set->h_ad.n_slices << " samples, " << test_set->source << "\n";
  };
  if (csi) load_test_set(first, log);

  const std::filesystem::path dir = output_dir(options, prepared.name);
  prepare_output_dir(dir);
  const FolderLock lock(dir);
  const std::filesystem::path json = dir / "results.json";
  if (std::filesystem::exists(json) && !options.force) {
    RunRecord old;
    try {
      old = read_results(json);
    } catch (const std::exception& e) {
      throw ConfigError(std::string(e.what()) + "; use another --out or --force to overwrite");
    }
    std::string key;
    const bool same = old.seed == run.seed && same_config(old, run, key) && points_fit(old, run);
    if (old.seed != run.seed) key = "run.seed";
    if (same && (options.resume || old.status != "complete")) {
      run.points = old.points;
      log << "resuming: " << run.points.size() << " finished points kept from " << json.string()
          << "\n";
    } else if (options.resume || old.status != "complete") {
      throw ConfigError(json.string() + " holds " +
                        (old.status == "complete" ? std::string("a run") : "an unfinished run") +
                        " of a different configuration (" + (key.empty() ? "its points" : key) +
                        " differs); use another --out, or --force to overwrite it");
    }
  } else if (options.resume) {
    log << "nothing to resume in " << dir.string() << ": starting a new run\n";
  }

  const bool live = options.progress && ::isatty(STDERR_FILENO) != 0;
  const double ber_floor = first.real("stop.ber_floor");
  std::vector<PointRecord> done = run.points;
  write_results(run, dir);

  // A finished point: reported, added in index order, and written out at once.
  const auto commit = [&](const PointRecord& rec) {
    if (rec.result.reason == StopReason::NumericalError) {
      log << "point " << rec.index << " stopped: " << rec.result.error << "\n";
    }
    done.push_back(rec);
    std::sort(done.begin(), done.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    run.points = done;
    write_results(run, dir);
    if (hook) hook(rec);
  };
  for (std::size_t i = 0; i < prepared.points.size(); ++i) {
    const PointConfig& pc = prepared.points[i];
    PointRecord rec;
    rec.index = i;
    for (const auto& a : run.axes) rec.swept[a] = pc.text(a);
    const auto same_curve = [&](const PointRecord& other) {
      for (const auto& a : run.axes) {
        if (a != "sweep.snr_db" && other.swept.at(a) != rec.swept.at(a)) return false;
      }
      return true;
    };
    if (std::any_of(done.begin(), done.end(), [&](const PointRecord& d) { return d.index == i; })) {
      continue;  // finished in an earlier run
    }
    // BER floor: skip when a lower SNR of the same curve already went below the floor.
    const double snr_db = pc.real("sweep.snr_db");
    const bool below_floor =
        ber_floor > 0 && std::any_of(done.begin(), done.end(), [&](const PointRecord& d) {
          return same_curve(d) && d.result.counts.bits > 0 &&
                 std::stod(d.swept.at("sweep.snr_db")) < snr_db && ber(d.result.counts) < ber_floor;
        });
    if (below_floor) continue;

    if (csi) {
      load_test_set(pc, log);
      if (live) {
        std::fprintf(stderr, "\r\033[K[%zu/%zu] %s CR %s ...", i + 1, prepared.points.size(),
                     pc.text("csi.method").c_str(), pc.text("csi.cr").c_str());
      }
      const auto swept = rec.swept;
      rec = run_csi_point(pc, *test_set, i, run.seed, run.threads);
      rec.swept = swept;
      if (live) std::fprintf(stderr, "\r\033[K");
      log << "point " << i + 1 << "/" << prepared.points.size() << ": " << rec.csi->method << " CR "
          << rec.csi->cr << ": NMSE " << rec.csi->nmse_db << " dB, rho " << rec.csi->rho << ", BER "
          << ber(rec.result.counts) << " (" << rec.result.wall_s << " s)\n";
      commit(rec);
      continue;
    }
    const unsigned k = point_bits_per_symbol(pc);
    rec.snr = make_snr_point(point_snr_kind(pc), snr_db, k);
    rec.ber_theory = point_ber_theory(pc, rec.snr.ebn0_db);

    PointJob job;
    job.n0 = rec.snr.n0;
    job.seed = run.seed;
    job.point_index = i;
    job.threads = run.threads;
    job.stop = stop_rule(pc);
    const SimulatorFactory factory = [&pc]() -> std::unique_ptr<FrameSimulator> {
      return build_link(pc);
    };
    ProgressCallback progress;
    if (live) {
      progress = [&, i](const Counts& c, double elapsed) {
        const double f = progress_fraction(job.stop, c, elapsed);
        std::fprintf(
            stderr,
            "\r\033[K[%zu/%zu] Eb/N0 %.2f dB  errors %llu  BER %.3e  %.1f Mbit/s  ETA %.0f s",
            i + 1, prepared.points.size(), rec.snr.ebn0_db,
            static_cast<unsigned long long>(c.bit_errors), ber(c),
            elapsed > 0 ? static_cast<double>(c.bits) / elapsed / 1e6 : 0.0,
            f > 0 ? elapsed * (1 - f) / f : 0.0);
      };
    }
    rec.result = run_point(factory, job, progress);
    if (live) std::fprintf(stderr, "\r\033[K");
    commit(rec);
  }
  run.status = "complete";
  write_results(run, dir);
  if (options.plot) {
    const std::string err = csi ? write_nmse_plot(run, dir) : write_ber_plot(run, dir);
    if (!err.empty()) log << "warning: no plot: " << err << "\n";
    const std::string cerr = csi ? write_compression_plots(run, dir) : "";
    if (!cerr.empty()) log << "warning: no compression plot: " << cerr << "\n";
  }
  return run;
}

std::optional<Suite> read_suite(const std::filesystem::path& file) {
  const RawConfig raw = read_config_file(file);
  const bool is_suite = std::any_of(raw.entries.begin(), raw.entries.end(),
                                    [](const auto& e) { return e.first == "parts"; });
  if (!is_suite) return std::nullopt;
  Suite suite;
  suite.name = file.stem().string();
  for (const auto& [key, value] : raw.entries) {
    if (key == "name") {
      suite.name = value;
    } else if (key == "description") {
      suite.description = value;
    } else if (key == "parts") {
      std::stringstream list(value);
      std::string item;
      while (std::getline(list, item, ',')) {
        const auto first = item.find_first_not_of(" \t");
        if (first == std::string::npos) continue;
        const auto last = item.find_last_not_of(" \t");
        suite.parts.push_back(file.parent_path() / item.substr(first, last - first + 1));
      }
    } else {
      throw ConfigError(file.string() + ": key '" + key +
                        "': a suite (a file with `parts`) holds only parts, name and description; "
                        "put other keys into its part files");
    }
  }
  if (!valid_name(suite.name)) {
    throw ConfigError(file.string() + ": key 'name': '" + suite.name +
                      "' must be letters, digits, '_', '-' or '.' (it names the results folder)");
  }
  if (suite.parts.empty()) throw ConfigError(file.string() + ": key 'parts': no scenario files");
  for (const auto& part : suite.parts) {
    if (!std::filesystem::is_regular_file(part)) {
      throw ConfigError(file.string() + ": key 'parts': " + part.string() + " does not exist");
    }
    const RawConfig inner = read_config_file(part);
    if (std::any_of(inner.entries.begin(), inner.entries.end(),
                    [](const auto& e) { return e.first == "parts"; })) {
      throw ConfigError(file.string() + ": key 'parts': " + part.string() +
                        " is a suite itself; parts must be plain scenarios");
    }
  }
  return suite;
}

std::vector<RunRecord> run_suite(const Suite& suite, const RunOptions& options, std::ostream& log) {
  const std::filesystem::path dir = output_dir(options, suite.name);
  prepare_output_dir(dir);
  std::vector<RunRecord> runs;
  std::string summary =
      "# " + suite.name + "\n\n" + (suite.description.empty() ? "" : suite.description + "\n\n");
  nlohmann::ordered_json index;
  index["scenario"] = suite.name;
  index["description"] = suite.description;
  index["git_revision"] = git_revision();
  index["parts"] = nlohmann::json::array();
  // Every part is validated before any runs: bad input anywhere costs no simulation time.
  std::vector<std::string> names;
  for (const auto& part : suite.parts) {
    names.push_back(prepare_scenario(part, all_overrides(options)).name);
  }
  for (std::size_t i = 0; i < suite.parts.size(); ++i) {
    const std::filesystem::path& part = suite.parts[i];
    RunOptions o = options;
    o.scenario_file = part;
    o.out = dir / names[i];
    log << "== part " << runs.size() + 1 << "/" << suite.parts.size() << ": " << part.string()
        << "\n";
    runs.push_back(run_scenario(o, log));
    const RunRecord& run = runs.back();
    summary += "## " + run.scenario + "\n\n" +
               (run.description.empty() ? "" : run.description + "\n\n") + results_table(run) +
               "\nDetails: [" + run.scenario + "/summary.md](" + run.scenario + "/summary.md)\n\n";
    index["parts"].push_back({{"scenario", run.scenario},
                              {"source", part.string()},
                              {"results", run.scenario + "/results.json"}});
  }
  write_file_atomically(dir / "suite.json", index.dump(2) + "\n");
  write_file_atomically(dir / "summary.md", summary);
  return runs;
}

}  // namespace linksim
