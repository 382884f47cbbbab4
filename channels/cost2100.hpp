// A COST 2100-style geometry-based stochastic channel for downlink massive MIMO CSI (as used by
// CsiNet): a BS with an Nt-element half-wavelength ULA at the centre of a square area, a
// single-antenna UE dropped uniformly in it, OFDM with Nc subcarriers.
//
// Model (per drop), following COST 2100 (Liu et al., IEEE Wireless Commun. 2012; parameter sets
// from the reference MATLAB implementation, get_para.m; ../shared/REFERENCE.md section 4):
//  - visible far clusters: each seen through a visibility region (VR) whose centre lies
//    uniformly in a disc of radius r_c around the UE; VR gain
//      g = 1/2 - atan(2 sqrt(2) (d - r_c + l_c) / sqrt(lambda l_c)) / pi;
//  - clusters are single or twin; the BS-side cluster lies uniformly in the cell and sets the
//    departure angles; a single cluster's delay is its geometric BS -> cluster -> UE delay, a twin
//    cluster's excess delay (over LOS) is exponential with mean 1/k_tau (its link delay);
//    each cluster has log-normal delay and angular spreads, which set its ellipsoid; MPCs are
//    Gaussian inside it (delay offset with the delay spread, lateral offset with the angular
//    spread) with amplitudes CN(0, 1/N_mpc);
//  - cluster power: VR gain x delay decay max(exp(-k_tau (tau - tau0)), exp(-k_tau (tau_b - tau0)))
//    x log-normal shadowing; path loss 20 log10 d + 20 log10 f - 147.56 dB on the whole link;
//  - a LOS component with Rician K factor where the parameter set has one.
// Channel: H(f_k, n) = sum_l a_l exp(-j 2 pi f_k (tau_l - tau0)) exp(-j pi n cos(phi_l)),
// f_k = k B / Nc, with delays relative to the first arrival (the UE is synchronised to it).
#pragma once

#include <armadillo>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sim/random.hpp"

namespace linksim {

enum class Cost2100Scenario { IndoorHall5GHz, SemiUrban300MHzLos, SemiUrban300MHzNlos };

/// Every scenario, in table order.
inline constexpr Cost2100Scenario kCost2100Scenarios[] = {Cost2100Scenario::IndoorHall5GHz,
                                                          Cost2100Scenario::SemiUrban300MHzLos,
                                                          Cost2100Scenario::SemiUrban300MHzNlos};

/// The name used on the command line and in scenario files: "cost2100_indoor",
/// "cost2100_outdoor_los", "cost2100_outdoor_nlos".
std::string_view channel_name(Cost2100Scenario scenario);
/// The scenario of a channel name, if it is one.
std::optional<Cost2100Scenario> cost2100_scenario_named(std::string_view name);

/// One COST 2100 parameter set. Angles in degrees, delays in seconds, distances in metres.
struct Cost2100Params {
  std::string_view name;
  double carrier_hz;
  double cell_radius_m;
  double vr_radius_m;        ///< r_c
  double vr_transition_m;    ///< l_c
  double mean_far_clusters;  ///< visible far clusters: Poisson(mean) (min 1), or fixed
  bool poisson_clusters;
  std::size_t mpcs_per_cluster;
  double single_cluster_ratio;  ///< fraction of single (not twin) clusters
  double delay_spread_s;        ///< cluster delay spread median
  double delay_spread_sigma;  ///< its log-normal spread: std of the spread (indoor) or dB (outdoor)
  bool delay_spread_in_db;
  double aod_spread_deg, aod_spread_sigma;  ///< cluster angular spread at the BS
  bool aod_spread_in_db;
  double k_tau_per_s;  ///< cluster power decay (1/s)
  double tau_b_s;      ///< cut-off delay of the decay
  bool has_los;
  double k_factor_db, k_factor_std_db;
  double shadowing_db;  ///< log-normal shadowing std (dB)
};

/// The parameter table (one place): IndoorHall_5GHz (used at 5.3 GHz), SemiUrban_300MHz LOS/NLOS.
const Cost2100Params& cost2100_params(Cost2100Scenario scenario);

/// The massive MIMO geometry and OFDM grid.
struct CsiGeometry {
  std::size_t antennas = 32;       ///< Nt, half-wavelength ULA along the x axis
  std::size_t subcarriers = 1024;  ///< Nc
  double bandwidth_hz = 20e6;      ///< B; subcarrier spacing B / Nc
  double area_side_m = 20.0;       ///< UE uniform in a square of this side centred on the BS
  std::size_t delay_rows = 32;     ///< rows kept of the angular-delay matrix
};

/// CsiNet's defaults for a scenario: 20 m square indoors, 400 m outdoors.
CsiGeometry csinet_geometry(Cost2100Scenario scenario);

/// One channel drop.
struct CsiDrop {
  arma::cx_mat h_sf;  ///< spatial-frequency channel, [Nc, Nt]
  arma::cx_mat
      h_ad;  ///< angular-delay channel (sim/csi_transform.hpp), first delay rows, [rows, Nt]
  double rms_delay_spread_s = 0.0;      ///< power-weighted, over all paths
  double rms_angular_spread_deg = 0.0;  ///< power-weighted AoD spread at the BS
  std::size_t paths = 0;
};

/// Draws one drop from the frame's random stream.
CsiDrop generate_drop(const Cost2100Params& params, const CsiGeometry& geometry, RandomStream& rng);

/// Draws `n` drops on `threads` threads; drop i uses stream derive_seed(seed, 0, i), so the
/// result does not depend on the thread count. With keep_h_sf = false each drop's h_sf is freed
/// as soon as it is made (it is 32 times the size of h_ad: 18 GB for 35000 drops).
std::vector<CsiDrop> generate_drops(const Cost2100Params& params, const CsiGeometry& geometry,
                                    std::size_t n, std::uint64_t seed, unsigned threads,
                                    bool keep_h_sf = true);

}  // namespace linksim
