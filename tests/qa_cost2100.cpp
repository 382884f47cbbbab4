// qa_cost2100: the COST 2100-style generator's invariants (determinism, thread-count
// independence, the angular-delay transform, shapes) and its statistics for the indoor set.
#define BOOST_TEST_MODULE qa_cost2100
#include <boost/test/unit_test.hpp>

#include <numbers>

#include "channels/cost2100.hpp"
#include "sim/csi_transform.hpp"

using namespace linksim;

BOOST_AUTO_TEST_CASE(shapes_and_determinism) {
  const auto& p = cost2100_params(Cost2100Scenario::IndoorHall5GHz);
  const auto g = csinet_geometry(Cost2100Scenario::IndoorHall5GHz);
  RandomStream a(derive_seed(5, 0, 3)), b(derive_seed(5, 0, 3)), c(derive_seed(5, 0, 4));
  const CsiDrop da = generate_drop(p, g, a), db = generate_drop(p, g, b),
                dc = generate_drop(p, g, c);
  BOOST_TEST(da.h_sf.n_rows == 1024U);
  BOOST_TEST(da.h_sf.n_cols == 32U);
  BOOST_TEST(da.h_ad.n_rows == 32U);
  BOOST_TEST(da.h_ad.n_cols == 32U);
  BOOST_TEST(arma::approx_equal(da.h_sf, db.h_sf, "absdiff", 0.0));
  BOOST_TEST(!arma::approx_equal(da.h_sf, dc.h_sf, "absdiff", 0.0));
}

BOOST_AUTO_TEST_CASE(thread_count_does_not_change_the_drops) {
  const auto& p = cost2100_params(Cost2100Scenario::SemiUrban300MHzLos);
  const auto g = csinet_geometry(Cost2100Scenario::SemiUrban300MHzLos);
  const auto one = generate_drops(p, g, 6, 11, 1);
  const auto two = generate_drops(p, g, 6, 11, 2);
  for (std::size_t i = 0; i < one.size(); ++i) {
    BOOST_TEST(arma::approx_equal(one[i].h_ad, two[i].h_ad, "absdiff", 0.0), "drop " << i);
  }
}

BOOST_AUTO_TEST_CASE(angular_delay_transform_is_unitary_and_invertible) {
  RandomStream rng(1);
  arma::cx_mat h(64, 8);
  for (auto& v : h) v = {rng.normal(), rng.normal()};
  const arma::cx_mat full = to_angular_delay(h);
  // Unitary: energy is preserved, and the inverse gives the input back.
  BOOST_TEST(std::abs(arma::accu(arma::square(arma::abs(full))) -
                      arma::accu(arma::square(arma::abs(h)))) < 1e-9);
  BOOST_TEST(arma::approx_equal(from_angular_delay(full, 64), h, "absdiff", 1e-12));
  // Truncation then zero-filling is exact for a channel whose energy is in the first rows.
  arma::cx_mat short_ad = full;
  short_ad.rows(16, 63).zeros();
  const arma::cx_mat h_short = from_angular_delay(short_ad, 64);
  BOOST_TEST(
      arma::approx_equal(from_angular_delay(truncate_delay(to_angular_delay(h_short), 16), 64),
                         h_short, "absdiff", 1e-12));
}

BOOST_AUTO_TEST_CASE(a_single_path_lands_in_its_delay_row) {
  // A path with excess delay tau puts its energy near delay row tau * B; check it with a
  // synthetic spatial-frequency response.
  const std::size_t nc = 256, nt = 4;
  const double bandwidth = 20e6, tau = 5.0 / bandwidth;  // exactly row 5
  arma::cx_mat h(nc, nt);
  for (std::size_t k = 0; k < nc; ++k) {
    for (std::size_t n = 0; n < nt; ++n) {
      h(k, n) = std::polar(1.0, -2.0 * std::numbers::pi * (bandwidth / nc) * k * tau);
    }
  }
  const arma::cx_mat ad = truncate_delay(to_angular_delay(h), 32);
  const arma::vec row_energy = arma::sum(arma::square(arma::abs(ad)), 1);
  BOOST_TEST(row_energy.index_max() == 5U);
  BOOST_TEST(row_energy(5) / arma::accu(arma::square(arma::abs(h))) > 0.999);
}

BOOST_AUTO_TEST_CASE(indoor_channels_are_short_and_sparse) {
  // Indoors (20 m hall, 3 ns cluster delay spread) nearly all energy sits in the first 32 delay
  // rows of a 20 MHz, 1024-subcarrier grid, in a few angular-delay bins.
  const auto& p = cost2100_params(Cost2100Scenario::IndoorHall5GHz);
  const auto g = csinet_geometry(Cost2100Scenario::IndoorHall5GHz);
  const auto drops = generate_drops(p, g, 100, 3, 2);
  double fraction = 0.0, bins = 0.0;
  for (const auto& d : drops) {
    fraction +=
        arma::accu(arma::square(arma::abs(d.h_ad))) / arma::accu(arma::square(arma::abs(d.h_sf)));
    const arma::vec e = arma::sort(arma::vectorise(arma::square(arma::abs(d.h_ad))), "descend");
    const arma::vec c = arma::cumsum(e) / arma::accu(e);
    bins += static_cast<double>(arma::as_scalar(arma::find(c >= 0.9, 1))) + 1.0;
  }
  BOOST_TEST(fraction / 100.0 > 0.95);
  BOOST_TEST(bins / 100.0 < 64.0);  // of 1024 bins
}

namespace {
struct DropStats {
  double rms_delay_s = 0, energy_fraction = 0;
  double single_cluster_angle_deg = 0;  ///< mean AoD spread of drops with one cluster
  std::size_t single_cluster_drops = 0;
};
DropStats mean_stats(Cost2100Scenario s, std::size_t n) {
  const auto& p = cost2100_params(s);
  const auto drops = generate_drops(p, csinet_geometry(s), n, 7, 2);
  DropStats m;
  for (const auto& d : drops) {
    m.rms_delay_s += d.rms_delay_spread_s / static_cast<double>(n);
    m.energy_fraction += arma::accu(arma::square(arma::abs(d.h_ad))) /
                         arma::accu(arma::square(arma::abs(d.h_sf))) / static_cast<double>(n);
    if (d.paths == p.mpcs_per_cluster) {
      m.single_cluster_angle_deg += d.rms_angular_spread_deg;
      ++m.single_cluster_drops;
    }
  }
  if (m.single_cluster_drops > 0) {
    m.single_cluster_angle_deg /= static_cast<double>(m.single_cluster_drops);
  }
  return m;
}
}  // namespace

BOOST_AUTO_TEST_CASE(statistics_follow_the_parameter_sets) {
  // Power-weighted RMS delay spread: a cluster's excess delay is exponential with rate k_tau and
  // its power decays as exp(-k_tau tau), so the power-weighted excess delay is exponential with
  // rate 2 k_tau (standard deviation 1 / (2 k_tau)); MPCs add the cluster delay spread sigma_tau.
  // Prediction sqrt(sigma_tau^2 + (1 / (2 k_tau))^2), ignoring the decay floor, shadowing, the
  // VR gain and the LOS path: tolerance +-35%. Nearly all energy must sit in the first 32 delay
  // rows of the CsiNet grid (20 MHz, 1024 subcarriers), as in CsiNet's data.
  for (auto s : {Cost2100Scenario::IndoorHall5GHz, Cost2100Scenario::SemiUrban300MHzLos,
                 Cost2100Scenario::SemiUrban300MHzNlos}) {
    const auto& p = cost2100_params(s);
    const DropStats m = mean_stats(s, 400);
    const double predicted = std::hypot(p.delay_spread_s, 0.5 / p.k_tau_per_s);
    BOOST_TEST_INFO(p.name << ": mean RMS delay spread " << m.rms_delay_s << " s, predicted "
                           << predicted << " s; energy in 32 rows " << m.energy_fraction);
    BOOST_TEST(std::abs(m.rms_delay_s / predicted - 1.0) < 0.35);
    BOOST_TEST(m.energy_fraction > 0.93);
  }
  // A drop with a single indoor cluster (3 MPCs) shows that cluster's departure-angle spread,
  // drawn around 3 deg (std 2 deg); the power-weighted spread of 3 MPCs is somewhat smaller.
  const DropStats indoor = mean_stats(Cost2100Scenario::IndoorHall5GHz, 400);
  BOOST_TEST_REQUIRE(indoor.single_cluster_drops > 10U);
  BOOST_TEST(indoor.single_cluster_angle_deg > 1.0);
  BOOST_TEST(indoor.single_cluster_angle_deg < 4.5);
  BOOST_TEST_MESSAGE("single-cluster indoor drops: " << indoor.single_cluster_drops
                                                     << ", AoD spread "
                                                     << indoor.single_cluster_angle_deg << " deg");
}

BOOST_AUTO_TEST_CASE(csinet_normalisation_maps_to_the_unit_interval_and_back) {
  RandomStream rng(8);
  arma::mat x(2048, 3);
  for (auto& v : x) v = 1e-4 * rng.normal();
  const double s = csinet_scale(x);
  BOOST_TEST(s == arma::abs(x).max());
  const arma::mat v = csinet_normalize(x, s);
  BOOST_TEST(v.min() >= 0.0);
  BOOST_TEST(v.max() <= 1.0);
  BOOST_TEST(std::abs(csinet_normalize(arma::mat(1, 1, arma::fill::zeros), s)(0) - 0.5) == 0.0);
  BOOST_TEST(arma::approx_equal(csinet_denormalize(v, s), x, "absdiff", 1e-18));
  BOOST_CHECK_THROW(csinet_normalize(x, 0.0), std::invalid_argument);
  BOOST_TEST(csinet_scale(arma::mat(4, 4, arma::fill::zeros)) == 1.0);
}
