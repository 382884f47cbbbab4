// Runs a scenario file: validation, the sweep, results after every point, --resume.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "results/results.hpp"
#include "sim/config.hpp"

namespace linksim {

struct RunOptions {
  std::filesystem::path scenario_file;
  std::optional<std::filesystem::path> out;  ///< default: results/<scenario name>/
  std::optional<unsigned> threads;           ///< overrides run.threads
  std::optional<std::uint64_t> seed;         ///< overrides run.seed
  std::vector<std::string> overrides;        ///< "key=value", applied after the file
  bool resume = false;   ///< keep finished points of an earlier run in the same folder
  bool force = false;    ///< overwrite an unfinished earlier run instead of refusing
  bool progress = true;  ///< live progress on stderr (only when it is a terminal)
  bool plot = true;      ///< make ber.svg with gnuplot
};

/// A validated scenario and its sweep points.
struct PreparedScenario {
  std::string name;
  Scenario scenario;
  std::vector<PointConfig> points;
};

/// Reads, overrides and validates a scenario, and builds every point's link once to check it.
/// Throws ConfigError.
PreparedScenario prepare_scenario(const std::filesystem::path& file,
                                  const std::vector<std::string>& overrides);

/// Called after each finished point has been written (tests use it to simulate a crash).
using PointHook = std::function<void(const PointRecord&)>;

/// Runs the whole sweep and returns the final record. Throws ConfigError (bad input, or results
/// in the folder that must not be overwritten), NumericalError.
RunRecord run_scenario(const RunOptions& options, std::ostream& log, const PointHook& hook = {});

/// A suite: a scenario file whose top-level key `parts` lists other scenario files (paths
/// relative to the suite file), run one after the other, each into <out>/<its name>/. A suite
/// holds only `parts`, `name` and `description`; a part cannot be a suite itself.
struct Suite {
  std::string name;  ///< `name`, or the file name without .ini
  std::string description;
  std::vector<std::filesystem::path> parts;
};

/// The suite in `file`, or nothing when it is a plain scenario (no `parts` key). Throws
/// ConfigError for a bad suite (other keys, a missing or nested part, a bad name).
std::optional<Suite> read_suite(const std::filesystem::path& file);

/// Runs every part of a suite with `options` (its overrides apply to every part) into
/// <out>/<part name>/, then writes <out>/summary.md (every part's table) and <out>/suite.json
/// (the parts and where their results are). Returns the parts' records in order.
std::vector<RunRecord> run_suite(const Suite& suite, const RunOptions& options, std::ostream& log);

/// The output folder a run uses.
std::filesystem::path output_dir(const RunOptions& options, const std::string& scenario_name);

}  // namespace linksim
