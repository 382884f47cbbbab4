#include "cli/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

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

}  // namespace

PreparedScenario prepare_scenario(const std::filesystem::path& file,
                                  const std::vector<std::string>& overrides) {
  RawConfig raw = read_config_file(file);
  for (const auto& o : overrides) apply_override(raw, o);
  PreparedScenario p;
  p.scenario = validate(raw, scenario_schema());
  p.name = p.scenario.values.at("name").front();
  if (p.name.empty()) p.name = file.stem().string();
  p.points = expand(p.scenario, "sweep.snr_db");
  for (const auto& point : p.points) {
    try {
      build_link(point);
    } catch (const ConfigError& e) {
      throw ConfigError(file.string() + ": " + e.what());
    } catch (const std::invalid_argument& e) {
      throw ConfigError(file.string() + ": " + e.what());
    }
    if (stop_rule(point).max_bits == 0 && stop_rule(point).max_frames == 0 &&
        stop_rule(point).max_seconds <= 0) {
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

  const std::filesystem::path dir = output_dir(options, prepared.name);
  const std::filesystem::path json = dir / "results.json";
  if (std::filesystem::exists(json)) {
    RunRecord old;
    try {
      old = read_results(json);
    } catch (const std::exception& e) {
      if (!options.force) {
        throw ConfigError(std::string(e.what()) + "; use another --out or --force to overwrite");
      }
    }
    if (options.resume) {
      std::string key;
      if (old.seed != run.seed || !same_config(old, run, key)) {
        throw ConfigError(json.string() + " was produced by a different configuration (" +
                          (old.seed != run.seed ? std::string("run.seed") : key) +
                          " differs); use another --out, or drop --resume");
      }
      run.points = old.points;
      log << "resuming: " << run.points.size() << " finished points kept from " << json << "\n";
    } else if (old.status != "complete" && !old.points.empty() && !options.force) {
      throw ConfigError(dir.string() + " holds an unfinished run (" +
                        std::to_string(old.points.size()) + " of " +
                        std::to_string(old.planned_points) +
                        " points); pass --resume to continue it or --force to overwrite it");
    }
  } else if (options.resume) {
    log << "nothing to resume in " << dir << ": starting a new run\n";
  }

  const bool live = options.progress && ::isatty(STDERR_FILENO) != 0;
  const double ber_floor = first.real("stop.ber_floor");
  std::vector<PointRecord> done = run.points;
  write_results(run, dir);

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
          const Counts& c = d.result.counts;
          const double ber =
              c.bits ? static_cast<double>(c.bit_errors) / static_cast<double>(c.bits) : 1.0;
          return same_curve(d) && std::stod(d.swept.at("sweep.snr_db")) < snr_db && ber < ber_floor;
        });
    if (below_floor) continue;

    const unsigned k = point_bits_per_symbol(pc);
    rec.snr =
        make_snr_point(pc.text("sweep.snr") == "ebn0" ? SnrKind::EbN0 : SnrKind::EsN0, snr_db, k);
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
        const double ber =
            c.bits ? static_cast<double>(c.bit_errors) / static_cast<double>(c.bits) : 0.0;
        std::fprintf(
            stderr,
            "\r\033[K[%zu/%zu] Eb/N0 %.2f dB  errors %llu  BER %.3e  %.1f Mbit/s  ETA %.0f s",
            i + 1, prepared.points.size(), rec.snr.ebn0_db,
            static_cast<unsigned long long>(c.bit_errors), ber,
            elapsed > 0 ? static_cast<double>(c.bits) / elapsed / 1e6 : 0.0,
            f > 0 ? elapsed * (1 - f) / f : 0.0);
      };
    }
    rec.result = run_point(factory, job, progress);
    if (live) std::fprintf(stderr, "\r\033[K");

    done.push_back(rec);
    std::sort(done.begin(), done.end(),
              [](const auto& a, const auto& b) { return a.index < b.index; });
    run.points = done;
    write_results(run, dir);
    if (hook) hook(rec);
  }
  run.status = "complete";
  write_results(run, dir);
  if (options.plot) {
    const std::string err = write_ber_plot(run, dir);
    if (!err.empty()) log << "warning: no BER plot: " << err << "\n";
  }
  return run;
}

}  // namespace linksim
