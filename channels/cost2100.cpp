#include "channels/cost2100.hpp"

#include "sim/csi_transform.hpp"

#include <atomic>
#include <cmath>
#include <complex>
#include <numbers>
#include <stdexcept>
#include <thread>

namespace linksim {
namespace {

constexpr double kC = 299792458.0;  // speed of light, m/s
constexpr double kPi = std::numbers::pi;
using cx = std::complex<double>;

// One table for every parameter set (REFERENCE.md section 4, from get_para.m).
const Cost2100Params kParams[] = {
    {"IndoorHall_5GHz",
     5.3e9,
     30.0,
     2.72,
     1.0,
     3.8,
     true,
     3,
     0.0,
     3e-9,
     0.6e-9,
     false,
     3.0,
     2.0,
     false,
     16e6,
     0.1e-6,
     false,
     0.0,
     0.0,
     0.0},
    {"SemiUrban_300MHz_LOS",
     300e6,
     500.0,
     32.8,
     16.8,
     6.0,
     false,
     27,
     0.1,
     139e-9,
     3.66,
     true,
     14.6,
     2.43,
     true,
     1.21 * std::numbers::ln10 * 1e6,
     2.4e-6,
     true,
     -4.7,
     2.0,
     2.05},
    {"SemiUrban_300MHz_NLOS",
     300e6,
     500.0,
     24.5,
     12.2,
     6.0,
     false,
     48,
     0.2,
     317e-9,
     2.5,
     true,
     18.6,
     2.02,
     true,
     0.72 * std::numbers::ln10 * 1e6,
     4.2e-6,
     false,
     0.0,
     0.0,
     2.27},
};

struct Point {
  double x = 0.0, y = 0.0;
};
double dist(Point a, Point b) {
  return std::hypot(a.x - b.x, a.y - b.y);
}

double poisson(double mean, RandomStream& rng) {  // Knuth; small means only
  const double limit = std::exp(-mean);
  double p = 1.0;
  int k = -1;
  do {
    ++k;
    p *= rng.uniform();
  } while (p > limit);
  return k;
}

/// A spread drawn around its median: log-normal with sigma in dB, or normal with a linear std
/// (kept at or above a tenth of the median).
double draw_spread(double median, double sigma, bool in_db, RandomStream& rng) {
  if (in_db) return median * std::pow(10.0, sigma * rng.normal() / 10.0);
  return std::max(0.1 * median, median + sigma * rng.normal());
}

/// A point uniform in the disc of radius r around c.
Point in_disc(Point c, double r, RandomStream& rng) {
  const double rho = r * std::sqrt(rng.uniform());
  const double th = 2.0 * kPi * rng.uniform();
  return {c.x + rho * std::cos(th), c.y + rho * std::sin(th)};
}

struct Path {
  cx gain;
  double delay_s;  ///< absolute
  double aod_rad;  ///< from the array axis (x)
};

}  // namespace

const Cost2100Params& cost2100_params(Cost2100Scenario scenario) {
  return kParams[static_cast<int>(scenario)];
}

std::string_view channel_name(Cost2100Scenario scenario) {
  switch (scenario) {
    case Cost2100Scenario::IndoorHall5GHz:
      return "cost2100_indoor";
    case Cost2100Scenario::SemiUrban300MHzLos:
      return "cost2100_outdoor_los";
    case Cost2100Scenario::SemiUrban300MHzNlos:
      return "cost2100_outdoor_nlos";
  }
  return "?";
}

std::optional<Cost2100Scenario> cost2100_scenario_named(std::string_view name) {
  for (Cost2100Scenario s : kCost2100Scenarios) {
    if (channel_name(s) == name) return s;
  }
  return std::nullopt;
}

CsiGeometry csinet_geometry(Cost2100Scenario scenario) {
  CsiGeometry g;
  g.area_side_m = scenario == Cost2100Scenario::IndoorHall5GHz ? 20.0 : 400.0;
  return g;
}

CsiDrop generate_drop(const Cost2100Params& p, const CsiGeometry& g, RandomStream& rng) {
  const double lambda = kC / p.carrier_hz;
  const Point bs{0.0, 0.0};
  Point ue;
  do {  // uniform in the square, at least 1 m from the BS
    ue = {(rng.uniform() - 0.5) * g.area_side_m, (rng.uniform() - 0.5) * g.area_side_m};
  } while (dist(ue, bs) < 1.0);
  const double d_los = dist(ue, bs);
  const double tau0 = d_los / kC;

  std::vector<Path> paths;
  const std::size_t clusters =
      p.poisson_clusters
          ? static_cast<std::size_t>(std::max(1.0, poisson(p.mean_far_clusters, rng)))
          : static_cast<std::size_t>(p.mean_far_clusters);
  for (std::size_t c = 0; c < clusters; ++c) {
    // Visibility region: its centre uniform in a disc of radius r_c around the UE.
    const double d_vr = dist(in_disc(ue, p.vr_radius_m, rng), ue);
    const double vr_gain =
        0.5 - std::atan(2.0 * std::sqrt(2.0) * (d_vr - p.vr_radius_m + p.vr_transition_m) /
                        std::sqrt(lambda * p.vr_transition_m)) /
                  kPi;
    // BS-side cluster uniform in the cell (at least 2 m out): it sets the departure angles.
    Point c_bs;
    do {
      c_bs = in_disc(bs, p.cell_radius_m, rng);
    } while (dist(c_bs, bs) < 2.0);
    // A single cluster is one scatterer: its delay follows from the geometry BS -> cluster -> UE.
    // A twin cluster's BS-side and MS-side parts are joined by a link delay; we draw that link
    // delay so the cluster's excess delay over the LOS delay is exponential with mean 1/k_tau
    // (the parameter set's power-decay constant), which keeps the twin geometry free of
    // unphysical kilometre-long detours.
    const bool twin = rng.uniform() >= p.single_cluster_ratio;
    const double tau_c = twin ? tau0 - std::log(1.0 - rng.uniform()) / p.k_tau_per_s
                              : (dist(bs, c_bs) + dist(c_bs, ue)) / kC;
    const double decay = std::max(std::exp(-p.k_tau_per_s * (tau_c - tau0)),
                                  std::exp(-p.k_tau_per_s * (p.tau_b_s - tau0)));
    const double shadow = std::pow(10.0, p.shadowing_db * rng.normal() / 10.0);
    const double power = vr_gain * decay * shadow;
    // Cluster ellipsoid: radial extent from the delay spread, lateral from the angular spread.
    const double delay_sd =
        draw_spread(p.delay_spread_s, p.delay_spread_sigma, p.delay_spread_in_db, rng);
    const double spread_rad =
        draw_spread(p.aod_spread_deg, p.aod_spread_sigma, p.aod_spread_in_db, rng) * kPi / 180.0;
    const double d_c = dist(bs, c_bs);
    const double lateral_sd = d_c * std::tan(std::min(spread_rad, 1.2));
    const Point u_lat{-c_bs.y / d_c, c_bs.x / d_c};
    const double amp = std::sqrt(power / static_cast<double>(p.mpcs_per_cluster));
    for (std::size_t m = 0; m < p.mpcs_per_cluster; ++m) {
      // Each MPC: a delay offset with the cluster's delay spread (the ellipsoid's radial axis),
      // and a lateral offset that sets its departure angle.
      const double tau = std::max(tau0, tau_c + delay_sd * rng.normal());
      const double l = lateral_sd * rng.normal();
      const Point m_bs{c_bs.x + l * u_lat.x, c_bs.y + l * u_lat.y};
      const cx a = amp * cx(rng.normal(), rng.normal()) / std::sqrt(2.0);
      paths.push_back({a, tau, std::atan2(m_bs.y, m_bs.x)});
    }
  }
  if (p.has_los) {
    double scattered = 0.0;
    for (const auto& path : paths) scattered += std::norm(path.gain);
    const double k_db = p.k_factor_db + p.k_factor_std_db * rng.normal();
    const double los = std::sqrt(std::pow(10.0, k_db / 10.0) * scattered);
    paths.push_back(
        {los * std::polar(1.0, -2.0 * kPi * d_los / lambda), tau0, std::atan2(ue.y, ue.x)});
  }
  // Path loss (free space) on the whole link.
  const double pl_db = 20.0 * std::log10(d_los) + 20.0 * std::log10(p.carrier_hz) - 147.56;
  const double pl_amp = std::pow(10.0, -pl_db / 20.0);

  // The UE synchronises to the first arrival: delays are taken relative to it.
  double tau_first = paths.empty() ? tau0 : paths.front().delay_s;
  for (const auto& path : paths) tau_first = std::min(tau_first, path.delay_s);
  const std::size_t nc = g.subcarriers, nt = g.antennas, np = paths.size();
  const double df = g.bandwidth_hz / static_cast<double>(nc);
  arma::cx_mat freq(nc, np), steer(np, nt);
  double power_sum = 0.0, tau_mean = 0.0, tau_sq = 0.0;
  cx angle_sum = 0.0;
  for (std::size_t l = 0; l < np; ++l) {
    const Path& path = paths[l];
    const cx w = std::polar(1.0, -2.0 * kPi * df * (path.delay_s - tau_first));
    cx f = pl_amp * path.gain;
    for (std::size_t k = 0; k < nc; ++k) {
      freq(k, l) = f;
      f *= w;
    }
    for (std::size_t n = 0; n < nt; ++n) {
      steer(l, n) = std::polar(1.0, -kPi * static_cast<double>(n) * std::cos(path.aod_rad));
    }
    const double pw = std::norm(path.gain);
    power_sum += pw;
    tau_mean += pw * (path.delay_s - tau_first);
    tau_sq += pw * (path.delay_s - tau_first) * (path.delay_s - tau_first);
    angle_sum += pw * std::polar(1.0, path.aod_rad);
  }
  CsiDrop drop;
  drop.paths = np;
  drop.h_sf = freq * steer;
  drop.h_ad = truncate_delay(to_angular_delay(drop.h_sf), g.delay_rows);
  if (power_sum > 0.0) {
    tau_mean /= power_sum;
    drop.rms_delay_spread_s = std::sqrt(std::max(0.0, tau_sq / power_sum - tau_mean * tau_mean));
    // Circular standard deviation sqrt(-2 ln R) of the power-weighted departure angles.
    const double r = std::min(1.0, std::abs(angle_sum) / power_sum);
    drop.rms_angular_spread_deg = std::sqrt(-2.0 * std::log(std::max(r, 1e-300))) * 180.0 / kPi;
  }
  return drop;
}

std::vector<CsiDrop> generate_drops(const Cost2100Params& params, const CsiGeometry& geometry,
                                    std::size_t n, std::uint64_t seed, unsigned threads,
                                    bool keep_h_sf) {
  std::vector<CsiDrop> drops(n);
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      RandomStream rng(derive_seed(seed, 0, i));
      drops[i] = generate_drop(params, geometry, rng);
      if (!keep_h_sf) drops[i].h_sf.reset();
    }
  };
  std::vector<std::thread> pool;
  try {
    for (unsigned t = 1; t < std::max(1U, threads); ++t) pool.emplace_back(work);
  } catch (...) {  // fewer threads than asked for: the ones started (and this one) do the work
  }
  work();
  for (auto& th : pool) th.join();
  return drops;
}

}  // namespace linksim
