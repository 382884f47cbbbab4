// SNR conventions, in one place.
//
// Symbols have unit average energy, Es = 1. Uncoded, each symbol carries k = bits_per_symbol
// information bits, so Eb = Es / k and
//     Es/N0 [dB] = Eb/N0 [dB] + 10 log10(k),
//     n0 = 1 / (Es/N0 linear)      (noise variance per complex sample),
// i.e. a complex sample gets CN(0, n0) noise and each real dimension N(0, n0/2).
// A scenario sweeps either Eb/N0 or Es/N0 (`sweep.snr`); every point reports both.
#pragma once

namespace linksim {

enum class SnrKind { EbN0, EsN0 };

struct SnrPoint {
  double ebn0_db;
  double esn0_db;
  double n0;  ///< noise variance per complex sample (Es = 1)
};

/// The operating point for `snr_db` of the given kind with `bits_per_symbol` bits per symbol.
SnrPoint make_snr_point(SnrKind kind, double snr_db, unsigned bits_per_symbol);

}  // namespace linksim
