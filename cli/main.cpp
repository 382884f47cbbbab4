// linksim: command-line entry point. Exit codes: 0 success, 1 run failure (numerical trouble,
// I/O), 2 bad input (scenario file, key, value, option).
#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "channels/csi_dataset.hpp"
#include "cli/args.hpp"
#include "cli/bench.hpp"
#include "cli/csi_commands.hpp"
#include "cli/registry.hpp"
#include "cli/runner.hpp"
#include "cli/train_commands.hpp"
#include "nn_compress/backends.hpp"
#include "nn_compress/inference_bench.hpp"
#include "nn_compress/model_file.hpp"
#include "sim/montecarlo.hpp"

namespace po = boost::program_options;
using namespace linksim;
using linksim::cli::parse;
using linksim::cli::Parsed;
using linksim::cli::required_positional;

namespace {

constexpr int kBadInput = 2;
constexpr int kFailure = 1;

const char* kUsage =
    "linksim: a wireless link-level simulator with pluggable NN blocks\n\n"
    "usage: linksim <command> [options]\n\n"
    "commands:\n"
    "  run FILE         run a scenario file (Monte Carlo sweep) and write results\n"
    "  validate FILE    check a scenario file without running it\n"
    "  list             every block, channel and detector with its parameters, and the NN "
    "backends\n"
    "  bench montecarlo throughput of our engine against an IT++-only loop\n"
    "  bench inference  the NN inference backends side by side on one model\n"
    "  dataset          generate a massive MIMO CSI dataset (COST 2100-style) as HDF5\n"
    "  channel-stats FILE  statistics of a CSI dataset (ours or a CsiNet .mat) as JSON\n"
    "  train FILE       train a CSI feedback autoencoder (CsiNet family) from a training scenario\n"
    "  compress FILE    prune / cluster / quantise / fine-tune a trained model into a compact "
    "model file\n"
    "  model-info FILE  what a model file is and how it was trained, as JSON\n\n"
    "`linksim <command> --help` explains each command. Scenario keys: scenarios/README.md.\n"
    "Exit codes: 0 success, 1 run failure, 2 bad input.\n";

int cmd_run(const std::vector<std::string>& args) {
  po::options_description opts(
      "usage: linksim run FILE [options]\n\n"
      "Runs the sweep of a scenario file. Results go to --out (default results/<name>/):\n"
      "results.json, results.csv, summary.md and ber.svg, rewritten atomically after every point.\n"
      "Prints the results table when done. A suite file (top-level key `parts`, e.g.\n"
      "scenarios/quickstart.ini) runs each part into <out>/<part name>/, with --set applied to\n"
      "every part, and writes <out>/summary.md and <out>/suite.json.\n\noptions");
  std::vector<std::string> sets;
  opts.add_options()("help,h", "show this help")(
      "out,o", po::value<std::string>(), "output folder (default results/<scenario name>/)")(
      "threads,t", po::value<long long>(), "worker threads (default: run.threads, 0 = all cores)")(
      "seed,s", po::value<long long>(), "master seed (default: run.seed)")(
      "set", po::value<std::vector<std::string>>(&sets)->composing(),
      "override a key: --set link.mapper=qpsk (repeatable)")(
      "resume", "continue an interrupted run in the output folder, keeping its finished points")(
      "force", "overwrite an unfinished run in the output folder")(
      "no-plot", "do not call gnuplot")("quiet,q", "no live progress on stderr");
  const Parsed p = parse(args, opts, "FILE");
  if (p.help) {
    std::cout << opts << "\n";
    return 0;
  }
  RunOptions o;
  o.scenario_file = required_positional(p, "FILE", "run");
  if (p.vm.count("out")) o.out = p.vm["out"].as<std::string>();
  if (p.vm.count("threads")) {
    const long long t = p.vm["threads"].as<long long>();
    if (t < 0 || t > 1024) throw po::error("--threads must be between 0 (all cores) and 1024");
    o.threads = static_cast<unsigned>(t);
  }
  if (p.vm.count("seed")) {
    const long long seed = p.vm["seed"].as<long long>();
    if (seed < 0 || seed > (1LL << 53)) throw po::error("--seed must be between 0 and 2^53");
    o.seed = static_cast<std::uint64_t>(seed);
  }
  o.overrides = sets;
  o.resume = p.vm.count("resume") != 0;
  o.force = p.vm.count("force") != 0;
  o.plot = p.vm.count("no-plot") == 0;
  o.progress = p.vm.count("quiet") == 0;
  std::vector<RunRecord> runs;
  std::vector<std::filesystem::path> dirs;
  if (const auto suite = read_suite(o.scenario_file)) {
    runs = run_suite(*suite, o, std::cerr);
    const auto top = output_dir(o, suite->name);
    for (const auto& run : runs) dirs.push_back(top / run.scenario);
  } else {
    runs.push_back(run_scenario(o, std::cerr));
    dirs.push_back(output_dir(o, runs.back().scenario));
  }
  long failed = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const RunRecord& run = runs[i];
    std::cout << (i > 0 ? "\n" : "") << "# " << run.scenario << " (seed " << run.seed << ", "
              << run.threads << " threads)\n\n"
              << results_table(run) << "\nresults: " << (dirs[i] / "results.json").string() << ", "
              << (dirs[i] / "summary.md").string() << "\n";
    failed += std::count_if(run.points.begin(), run.points.end(), [](const auto& pt) {
      return pt.result.reason == StopReason::NumericalError;
    });
  }
  if (failed > 0) {
    std::cerr << "numerical error: " << failed
              << " point(s) stopped on NaN/Inf (see stop_reason and error in results.json)\n";
    return kFailure;
  }
  return 0;
}

int cmd_validate(const std::vector<std::string>& args) {
  po::options_description opts(
      "usage: linksim validate FILE [--set key=value ...]\n\n"
      "Checks every key, value and block of a scenario and builds each point's link, without\n"
      "simulating. Exit code 0 when valid, 2 with a message naming the problem "
      "otherwise.\n\noptions");
  std::vector<std::string> sets;
  opts.add_options()("help,h", "show this help")(
      "set", po::value<std::vector<std::string>>(&sets)->composing(), "override a key");
  const Parsed p = parse(args, opts, "FILE");
  if (p.help) {
    std::cout << opts << "\n";
    return 0;
  }
  const std::string file = required_positional(p, "FILE", "validate");
  const auto suite = read_suite(file);
  const std::vector<std::filesystem::path> files =
      suite ? suite->parts : std::vector<std::filesystem::path>{file};
  if (suite)
    std::cout << file << ": OK, suite '" << suite->name << "' of " << files.size() << " parts\n";
  for (const auto& f : files) {
    const PreparedScenario s = prepare_scenario(f, sets);
    std::cout << f.string() << ": OK, scenario '" << s.name << "', " << s.points.size()
              << " points";
    if (!s.scenario.axes.empty()) {
      std::cout << ", swept:";
      for (const auto& a : s.scenario.axes)
        std::cout << ' ' << a << " (" << s.scenario.values.at(a).size() << ")";
    }
    std::cout << "\n";
  }
  return 0;
}

std::string kind_name(const ParamSpec& s) {
  switch (s.kind) {
    case ParamKind::Int:
      return "integer";
    case ParamKind::Real:
      return "number";
    case ParamKind::Choice:
      return "choice";
    case ParamKind::Text:
      return "text";
  }
  return "?";
}

void print_param(const ParamSpec& s) {
  std::cout << "      " << s.key << " (" << kind_name(s);
  if (s.kind == ParamKind::Int || s.kind == ParamKind::Real) {
    const auto bound = [&](double v) {
      return s.kind == ParamKind::Int && std::abs(v) < 1e18
                 ? std::to_string(static_cast<long long>(v))
                 : format_number(v);
    };
    std::cout << ", " << bound(s.min) << " .. " << bound(s.max);
  }
  if (s.sweepable && (s.kind != ParamKind::Text)) std::cout << ", sweepable";
  if (s.kind == ParamKind::Choice) {
    std::cout << ":";
    for (const auto& c : s.choices) std::cout << ' ' << c;
  }
  std::cout << ", default "
            << (s.required                ? "required"
                : s.default_value.empty() ? "\"\""
                                          : s.default_value)
            << ")\n          " << s.doc << "\n";
}

int cmd_list(const std::vector<std::string>& args) {
  po::options_description opts(
      "usage: linksim list\n\nLists every block by role with its parameters, the scenario keys, "
      "and the NN inference backends.\n\noptions");
  opts.add_options()("help,h", "show this help");
  const Parsed p = parse(args, opts);
  if (p.help) {
    std::cout << opts << "\n";
    return 0;
  }
  for (Role role : {Role::Source, Role::Mapper, Role::Channel, Role::Equalizer, Role::Demapper}) {
    std::cout << to_string(role) << "s (" << role_key(role) << " = NAME):\n";
    for (const auto& b : block_catalog()) {
      if (b.role != role) continue;
      std::cout << "  " << b.name << (b.itpp_backed ? "  [IT++]" : "") << "\n      " << b.doc
                << "\n";
      for (const auto& prm : b.params) print_param(prm);
    }
  }
  std::cout << "\nscenario keys:\n";
  for (const auto& s : scenario_schema()) {
    if (s.key.rfind("link.", 0) == 0 || s.key.find('.') == std::string::npos ||
        s.key.rfind("sweep.", 0) == 0 || s.key.rfind("stop.", 0) == 0 ||
        s.key.rfind("run.", 0) == 0) {
      print_param(s);
    }
  }
  std::cout << "\nCSI feedback scenario keys (kind = csi_feedback): methods, NN models, "
               "compression and backends:\n";
  for (const auto& s : scenario_schema()) {
    if (s.key.rfind("csi.", 0) == 0) print_param(s);
  }
  std::cout << "\nNN inference backends:\n";
  for (const BackendStatus& b :
       {probe_torch(static_cast<int>(hardware_threads())), probe_xnnpack()}) {
    std::cout << "  " << b.name << ": " << (b.ok ? "ok" : "FAILED") << " (" << b.detail << ")\n";
  }
  return 0;
}

int cmd_bench(const std::vector<std::string>& args) {
  po::options_description opts(
      "usage: linksim bench montecarlo|inference [options]\n\n"
      "montecarlo: uncoded BPSK over AWGN with hard decisions: our Monte Carlo engine against an\n"
      "IT++-only loop (randb, BPSK, randn, BERC; 1e5-bit blocks), one after the other in this\n"
      "process. Prints one JSON object with linksim_mbps_per_core, itpp_mbps_per_core and ratio.\n"
      "inference: every NN inference backend (torch, xnnpack, xnnpack-sparse, int8, sparse,\n"
      "sparse-int8) on one CSI model, its dense layers optionally pruned first: batch-1 latency\n"
      "(one thread, p50 / p99), batched throughput, parity and NMSE against torch, the speed-ups\n"
      "over torch measured in the same run, and what `auto` picks. Prints one JSON object.\n\n"
      "options");
  MonteCarloBenchOptions b;
  InferenceBenchOptions inf;
  std::string model = "models/csinet_indoor_cr4.lsnn";
  opts.add_options()("help,h", "show this help")(
      "seconds", po::value<double>(),
      "wall time per contender (montecarlo, default 3) or per measurement (inference, "
      "default 1)")("frame-bits",
                    po::value<std::size_t>(&b.frame_bits)->default_value(b.frame_bits),
                    "montecarlo: linksim frame size")(
      "itpp-block-bits",
      po::value<std::size_t>(&b.itpp_block_bits)->default_value(b.itpp_block_bits),
      "montecarlo: bits per block of the IT++ loops")(
      "ebn0-db", po::value<double>(&b.ebn0_db)->default_value(b.ebn0_db),
      "montecarlo: Eb/N0 in dB")("threads", po::value<unsigned>(),
                                 "montecarlo: linksim threads (default 1); inference: threads "
                                 "of the batched throughput (default 0 = all cores)")(
      "model", po::value<std::string>(&model)->default_value(model),
      "inference: the model file (.lsnn or .lsnnc)")(
      "prune", po::value<double>(&inf.prune_sparsity)->default_value(0.0),
      "inference: prune each dense layer to this sparsity first (magnitude, no fine-tuning)");
  const Parsed p = parse(args, opts, "BENCHMARK");
  if (p.help) {
    std::cout << opts << "\n";
    return 0;
  }
  const std::string which = required_positional(p, "BENCHMARK", "bench");
  if (which == "inference") {
    if (p.vm.count("seconds")) inf.seconds = p.vm["seconds"].as<double>();
    if (p.vm.count("threads")) inf.threads = p.vm["threads"].as<unsigned>();
    if (inf.seconds <= 0) throw po::error("--seconds must be positive");
    if (inf.prune_sparsity < 0 || inf.prune_sparsity >= 1) {
      throw po::error("--prune must be in [0, 1)");
    }
    try {
      std::cout << bench_csi_inference(model, inf) << "\n";
    } catch (const ModelFileError& e) {
      std::cerr << "error: --model: " << e.what() << "\n";
      return kBadInput;
    } catch (const std::invalid_argument& e) {
      std::cerr << "error: " << e.what() << "\n";
      return kBadInput;
    }
    return 0;
  }
  if (which != "montecarlo") throw po::error("unknown benchmark; valid: montecarlo, inference");
  if (p.vm.count("seconds")) b.seconds = p.vm["seconds"].as<double>();
  if (p.vm.count("threads")) b.threads = p.vm["threads"].as<unsigned>();
  if (b.seconds <= 0 || b.frame_bits == 0 || b.itpp_block_bits == 0 || b.threads == 0) {
    throw po::error("--seconds, --frame-bits, --itpp-block-bits and --threads must be positive");
  }
  std::cout << bench_montecarlo(b) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
    std::cout << kUsage;
    return all.empty() ? kBadInput : 0;
  }
  const std::string command = all[0];
  const std::vector<std::string> args(all.begin() + 1, all.end());
  try {
    if (command == "run") return cmd_run(args);
    if (command == "validate" && is_training_scenario(args)) return cmd_validate_training(args);
    if (command == "validate") return cmd_validate(args);
    if (command == "list") return cmd_list(args);
    if (command == "bench") return cmd_bench(args);
    if (command == "dataset") return cmd_dataset(args);
    if (command == "channel-stats") return cmd_channel_stats(args);
    if (command == "train") return cmd_train(args);
    if (command == "compress") return cmd_compress(args);
    if (command == "model-info") return cmd_model_info(args);
    std::cerr << "linksim: unknown command '" << command
              << "'; valid: run, validate, list, bench, dataset, channel-stats, train, "
                 "compress, model-info\n";
    return kBadInput;
  } catch (const DatasetError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  } catch (const ConfigError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kBadInput;
  } catch (const po::error& e) {
    std::cerr << "linksim " << command << ": " << e.what() << "\n";
    return kBadInput;
  } catch (const NumericalError& e) {
    std::cerr << "numerical error: " << e.what() << " (finished points are kept)\n";
    return kFailure;
  } catch (const std::exception& e) {
    std::cerr << "linksim " << command << " failed: " << e.what() << "\n";
    return kFailure;
  }
}
