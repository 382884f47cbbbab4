// Closed-form uncoded BER, used to print a "theory" column next to simulated results.
#pragma once

#include "sim/constellation.hpp"

namespace linksim {

/// Gaussian tail function Q(x) = P(N(0,1) > x).
double q_function(double x);

/// Bit error rate of Gray-mapped `m` with coherent ML symbol decisions over AWGN at Eb/N0 (linear):
///   BPSK, QPSK: Q(sqrt(2 Eb/N0));
///   16-QAM:     (3 Q(sqrt(4/5 Eb/N0)) + 2 Q(3 sqrt(4/5 Eb/N0)) - Q(5 sqrt(4/5 Eb/N0))) / 4.
double ber_awgn(Modulation m, double ebn0);

/// BPSK (and per-bit QPSK) over Rayleigh fading with perfect CSI at mean Eb/N0 (linear):
///   0.5 (1 - sqrt(g / (1 + g))).
double ber_rayleigh_bpsk(double ebn0);

}  // namespace linksim
