#include "sim/snr.hpp"

#include <cmath>

namespace linksim {

SnrPoint make_snr_point(SnrKind kind, double snr_db, unsigned bits_per_symbol) {
  const double k_db = 10.0 * std::log10(static_cast<double>(bits_per_symbol));
  SnrPoint p{};
  p.ebn0_db = kind == SnrKind::EbN0 ? snr_db : snr_db - k_db;
  p.esn0_db = kind == SnrKind::EsN0 ? snr_db : snr_db + k_db;
  p.n0 = std::pow(10.0, -p.esn0_db / 10.0);
  return p;
}

}  // namespace linksim
