// Angular-delay transforms of massive MIMO CSI (CsiNet's H_ad = F_d H_sf F_a^H), shared by the
// channel generator (channels/) and the CSI feedback blocks (blocks/).
#pragma once

#include <armadillo>
#include <cstddef>

namespace linksim {

/// Delay rows kept after truncation, as in CsiNet (32 of the Nc delay taps).
inline constexpr std::size_t kCsiDelayRows = 32;

/// H_ad = F_d H_sf F_a^H with unitary DFT matrices whose delay sign matches the channel model
/// H(f) = sum_l a_l exp(-j 2 pi f tau_l) (channels/cost2100), so positive delays land in the first
/// rows: F_d(d, p) = exp(+j 2 pi d p / Nc) / sqrt(Nc) over subcarriers p (the inverse of the
/// usual "forward" DFT), F_a(q, n) = exp(-j 2 pi q n / Nt) / sqrt(Nt) over antennas n.
/// \param h_sf spatial-frequency channel, shape [Nc subcarriers x Nt antennas], complex gain.
/// \return angular-delay matrix, shape [Nc delay taps x Nt angle bins]. Unitary, so
///         ||H_ad||_F = ||H_sf||_F (energy fractions can be read off H_ad directly).
arma::cx_mat to_angular_delay(const arma::cx_mat& h_sf);

/// The first `n_delay` delay rows of an angular-delay matrix, shape [n_delay x Nt].
/// Throws std::invalid_argument if h_ad has fewer rows.
arma::cx_mat truncate_delay(const arma::cx_mat& h_ad, std::size_t n_delay = kCsiDelayRows);

/// Inverse of to_angular_delay: H_sf = F_d^H H_ad_full F_a, where H_ad_full is h_ad zero-filled
/// to `nc` delay rows (the truncated rows are taken as zero).
/// \param h_ad angular-delay matrix, shape [n_delay x Nt], n_delay <= nc.
/// \param nc number of subcarriers Nc of the result.
/// \return spatial-frequency matrix, shape [nc x Nt]. With n_delay = nc the round trip
///         from_angular_delay(to_angular_delay(H), Nc) == H holds to rounding (~1e-15 relative);
///         after truncation it is exact whenever H_ad's energy lies in the kept rows.
arma::cx_mat from_angular_delay(const arma::cx_mat& h_ad, std::size_t nc);

/// CsiNet's normalisation of real CSI values (the flattened real and imaginary parts of H_ad) to
/// [0, 1] around an offset of 0.5: v = 0.5 + x / (2 scale). With scale >= max |x| every value lands
/// in [0, 1] (CsiNet's sigmoid output range); x = 0 maps to 0.5. Reversible:
/// csinet_denormalize(csinet_normalize(x, s), s) == x up to rounding.
/// \param x real values (any shape, any unit), \param scale > 0 in the unit of x: a dataset-wide
///        constant (CsiNet) or per sample (our NN blocks), e.g. csinet_scale(x).
/// Throws std::invalid_argument unless scale > 0 and finite.
arma::mat csinet_normalize(const arma::mat& x, double scale);
/// Inverse of csinet_normalize: x = (v - 0.5) * 2 scale.
arma::mat csinet_denormalize(const arma::mat& v, double scale);
/// The smallest scale that maps every value of x into [0, 1]: max |x| (1 if x is all zero).
double csinet_scale(const arma::mat& x);

}  // namespace linksim
