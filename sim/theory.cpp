#include "sim/theory.hpp"

#include <cmath>

namespace linksim {

double q_function(double x) {
  return 0.5 * std::erfc(x / std::sqrt(2.0));
}

double ber_awgn(Modulation m, double ebn0) {
  switch (m) {
    case Modulation::Bpsk:
    case Modulation::Qpsk:
      return q_function(std::sqrt(2.0 * ebn0));
    case Modulation::Qam16: {
      const double r = std::sqrt(0.8 * ebn0);
      return (3.0 * q_function(r) + 2.0 * q_function(3.0 * r) - q_function(5.0 * r)) / 4.0;
    }
  }
  return 0.5;
}

double ber_rayleigh_bpsk(double ebn0) {
  return 0.5 * (1.0 - std::sqrt(ebn0 / (1.0 + ebn0)));
}

}  // namespace linksim
