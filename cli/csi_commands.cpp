#include "cli/csi_commands.hpp"

#include "cli/args.hpp"

#include <boost/program_options.hpp>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numbers>

#include "channels/cost2100.hpp"
#include "channels/csi_dataset.hpp"
#include "sim/config.hpp"
#include "sim/montecarlo.hpp"

namespace po = boost::program_options;

namespace linksim {

const char* git_revision();

namespace {

Cost2100Scenario channel_of(const std::string& name) {
  if (const auto s = cost2100_scenario_named(name)) return *s;
  throw po::error("--channel '" + name +
                  "' is not valid; choose cost2100_indoor, cost2100_outdoor_los or "
                  "cost2100_outdoor_nlos");
}

/// Power-weighted RMS of `index * unit` over a power profile.
double rms_spread(const arma::vec& power, double unit) {
  const double total = arma::accu(power);
  if (total <= 0.0) return 0.0;
  const arma::vec x = arma::regspace(0.0, static_cast<double>(power.n_elem) - 1.0) * unit;
  const double mean = arma::accu(power % x) / total;
  return std::sqrt(std::max(0.0, arma::accu(power % x % x) / total - mean * mean));
}

/// Circular RMS spread (in bins) of a power profile over cyclic angular bins.
double circular_spread_bins(const arma::vec& power) {
  const double n = static_cast<double>(power.n_elem);
  std::complex<double> sum = 0.0;
  for (arma::uword a = 0; a < power.n_elem; ++a) {
    sum += power(a) * std::polar(1.0, 2.0 * std::numbers::pi * static_cast<double>(a) / n);
  }
  const double r = std::min(1.0, std::abs(sum) / std::max(arma::accu(power), 1e-300));
  return std::sqrt(-2.0 * std::log(std::max(r, 1e-300))) * n / (2.0 * std::numbers::pi);
}

}  // namespace

int cmd_dataset(const std::vector<std::string>& args) {
  po::options_description opts(
      "usage: linksim dataset --channel NAME --samples N --out FILE.h5 [options]\n\n"
      "Generates massive MIMO CSI drops with the COST 2100-style channel and writes HDF5:\n"
      "H_ad float32 [N, 2, 32, Nt] (angular-delay, before normalisation) and, with --full,\n"
      "H_sf float32 [N, 2, Nc, Nt], with every setting as attributes. Deterministic for a seed\n"
      "whatever the thread count.\n\noptions");
  std::string channel, out;
  long long samples = 0, seed = 1, threads = 0;
  opts.add_options()("help,h", "show this help")(
      "channel", po::value<std::string>(&channel),
      "cost2100_indoor (IndoorHall_5GHz at 5.3 GHz, 20 m square), cost2100_outdoor_los or "
      "cost2100_outdoor_nlos (SemiUrban_300MHz, 400 m square)")(
      "samples", po::value<long long>(&samples), "number of drops N (1 .. 10^7)")(
      "seed", po::value<long long>(&seed)->default_value(1), "master seed")(
      "out", po::value<std::string>(&out), "output HDF5 file")(
      "full", "also write the spatial-frequency matrices H_sf")(
      "threads", po::value<long long>(&threads)->default_value(0), "threads (0: all cores)");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (channel.empty() || out.empty() || samples <= 0) {
    throw po::error(
        "--channel, --samples (> 0) and --out are required (see linksim dataset --help)");
  }
  if (samples > 10'000'000 || seed < 0 || threads < 0 || threads > 1024) {
    throw po::error("--samples must be at most 10^7, --seed >= 0, --threads 0 .. 1024");
  }
  const Cost2100Scenario scenario = channel_of(channel);
  const unsigned n_threads = threads == 0 ? hardware_threads() : static_cast<unsigned>(threads);
  CsiDataset data =
      generate_csi_dataset(scenario, static_cast<std::size_t>(samples),
                           static_cast<std::uint64_t>(seed), n_threads, vm.count("full") != 0);
  data.attributes["git_revision"] = git_revision();
  write_csi_hdf5(out, data);
  std::cerr << "wrote " << samples << " " << channel << " drops to " << out << "\n";
  return 0;
}

int cmd_channel_stats(const std::vector<std::string>& args) {
  po::options_description opts(
      "usage: linksim channel-stats FILE\n\n"
      "Prints JSON statistics of a CSI dataset (ours, or a CsiNet .mat): the RMS delay spread\n"
      "(power delay profile of H_ad, tap spacing 1/bandwidth), the RMS angular spread (circular,\n"
      "in angular bins of H_ad), the mean fraction of energy in the kept delay rows (needs H_sf),\n"
      "and the mean number of angular-delay bins holding 90% of the energy.\n\noptions");
  opts.add_options()("help,h", "show this help");
  const cli::Parsed p = cli::parse(args, opts, "FILE");
  if (p.help) {
    std::cout << opts << "\n";
    return 0;
  }
  const std::string file = cli::required_positional(p, "FILE", "channel-stats");
  const CsiDataset d = read_csi_file(file);
  const double bandwidth =
      d.attributes.count("bandwidth_hz") ? std::stod(d.attributes.at("bandwidth_hz")) : 0.0;
  const std::size_t n = d.h_ad.n_slices;
  double delay = 0.0, angle = 0.0, bins = 0.0, fraction = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const arma::mat power = arma::square(arma::abs(d.h_ad.slice(i)));
    delay += rms_spread(arma::sum(power, 1), bandwidth > 0 ? 1.0 / bandwidth : 1.0);
    angle += circular_spread_bins(arma::sum(power, 0).t());
    const arma::vec e = arma::sort(arma::vectorise(power), "descend");
    const arma::vec c = arma::cumsum(e) / std::max(arma::accu(e), 1e-300);
    const arma::uvec hit = arma::find(c >= 0.9, 1);
    bins += hit.is_empty() ? static_cast<double>(e.n_elem) : static_cast<double>(hit(0)) + 1.0;
    if (!d.h_sf.is_empty()) {
      fraction += arma::accu(power) / arma::accu(arma::square(arma::abs(d.h_sf.slice(i))));
    }
  }
  nlohmann::ordered_json j;
  j["file"] = file;
  j["samples"] = n;
  j["delay_rows"] = d.h_ad.n_rows;
  j["antennas"] = d.h_ad.n_cols;
  j[bandwidth > 0 ? "rms_delay_spread_s" : "rms_delay_spread_taps"] =
      delay / static_cast<double>(n);
  j["rms_angular_spread_bins"] = angle / static_cast<double>(n);
  j["energy_fraction_in_delay_rows"] =
      d.h_sf.is_empty() ? nlohmann::ordered_json(nullptr)
                        : nlohmann::ordered_json(fraction / static_cast<double>(n));
  j["bins_for_90_percent_energy"] = bins / static_cast<double>(n);
  j["attributes"] = d.attributes;
  std::cout << j.dump(2) << "\n";
  return 0;
}

}  // namespace linksim
