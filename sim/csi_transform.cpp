#include "sim/csi_transform.hpp"

#include <cmath>
#include <stdexcept>

namespace linksim {

arma::cx_mat to_angular_delay(const arma::cx_mat& h_sf) {
  if (h_sf.is_empty()) throw std::invalid_argument("to_angular_delay: empty matrix");
  const double nc = static_cast<double>(h_sf.n_rows);
  const double nt = static_cast<double>(h_sf.n_cols);
  // F_d along each column: sum_p h(p, n) exp(+j 2 pi d p / Nc) = Nc * ifft. F_a^H on the right:
  // sum_n x(d, n) exp(+j 2 pi q n / Nt) = Nt * ifft along each row.
  const arma::cx_mat d = arma::ifft(h_sf);
  arma::cx_mat out = arma::ifft(arma::cx_mat(d.st())).st();
  out *= std::sqrt(nc * nt);  // Nc Nt (undo the two 1/N) / sqrt(Nc Nt)
  return out;
}

arma::cx_mat truncate_delay(const arma::cx_mat& h_ad, std::size_t n_delay) {
  if (n_delay == 0 || n_delay > h_ad.n_rows) {
    throw std::invalid_argument("truncate_delay: n_delay must be in 1..rows");
  }
  return h_ad.rows(0, n_delay - 1);
}

arma::cx_mat from_angular_delay(const arma::cx_mat& h_ad, std::size_t nc) {
  if (h_ad.is_empty() || h_ad.n_rows > nc) {
    throw std::invalid_argument("from_angular_delay: need 1..nc delay rows");
  }
  const double nt = static_cast<double>(h_ad.n_cols);
  arma::cx_mat full(nc, h_ad.n_cols, arma::fill::zeros);
  full.rows(0, h_ad.n_rows - 1) = h_ad;
  // F_a on the right: fft along each row. F_d^H along each column: fft.
  const arma::cx_mat d = arma::fft(arma::cx_mat(full.st())).st();
  arma::cx_mat out = arma::fft(d);
  out /= std::sqrt(static_cast<double>(nc) * nt);
  return out;
}

namespace {
void check_scale(double scale) {
  if (!(scale > 0.0) || !std::isfinite(scale)) {
    throw std::invalid_argument("CsiNet normalisation: scale must be positive and finite");
  }
}
}  // namespace

arma::mat csinet_normalize(const arma::mat& x, double scale) {
  check_scale(scale);
  return 0.5 + x / (2.0 * scale);
}

arma::mat csinet_denormalize(const arma::mat& v, double scale) {
  check_scale(scale);
  return (v - 0.5) * (2.0 * scale);
}

double csinet_scale(const arma::mat& x) {
  const double m = x.is_empty() ? 0.0 : arma::abs(x).max();
  return m > 0.0 ? m : 1.0;
}

}  // namespace linksim
