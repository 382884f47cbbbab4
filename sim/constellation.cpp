#include "sim/constellation.hpp"

#include <cmath>

namespace linksim {
namespace {

// Gray-labelled 4-PAM level for two bits (b0 MSB): 00 -> -3, 01 -> -1, 11 -> +1, 10 -> +3.
double pam4_level(unsigned b0, unsigned b1) {
  if (b0 == 0) return b1 == 0 ? -3.0 : -1.0;
  return b1 == 0 ? 3.0 : 1.0;
}

}  // namespace

Constellation::Constellation(Modulation modulation) : modulation_(modulation) {
  switch (modulation) {
    case Modulation::Bpsk:
      bits_per_symbol_ = 1;
      points_ = {{1.0, 0.0}, {-1.0, 0.0}};  // bit 0 -> +1, bit 1 -> -1
      break;
    case Modulation::Qpsk: {
      bits_per_symbol_ = 2;
      points_.set_size(4);
      const double a = 1.0 / std::sqrt(2.0);
      for (unsigned l = 0; l < 4; ++l) {
        points_(l) = {bit(l, 0) ? -a : a, bit(l, 1) ? -a : a};
      }
      break;
    }
    case Modulation::Qam16: {
      bits_per_symbol_ = 4;
      points_.set_size(16);
      const double a = 1.0 / std::sqrt(10.0);  // E|x|^2 = 2 * (1 + 9) / 2 / 10 = 1
      for (unsigned l = 0; l < 16; ++l) {
        points_(l) = {a * pam4_level(bit(l, 0), bit(l, 1)), a * pam4_level(bit(l, 2), bit(l, 3))};
      }
      break;
    }
  }
}

std::string_view to_string(Modulation m) {
  switch (m) {
    case Modulation::Bpsk:
      return "bpsk";
    case Modulation::Qpsk:
      return "qpsk";
    case Modulation::Qam16:
      return "qam16";
  }
  return "?";
}

}  // namespace linksim
