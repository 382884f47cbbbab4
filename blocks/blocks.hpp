// Concrete link blocks: bit source, mappers, equalisers and demappers.
// Each factory returns a ready-to-use block behind its sim/ interface (GNU Radio-style make()).
#pragma once

#include <memory>

#include "sim/block.hpp"
#include "sim/constellation.hpp"

namespace linksim {

/// "random_bits": i.i.d. fair bits from the frame's random stream.
std::unique_ptr<BitSource> make_random_bit_source();

/// "bpsk", "qpsk", "qam16": Gray mapping, unit average energy (see Constellation).
std::unique_ptr<Mapper> make_mapper(Modulation modulation);

enum class EqualizerKind {
  None,      ///< "none": passes samples through and ignores the channel state
  Coherent,  ///< "coherent": one-tap y * conj(h) / |h|^2 with the receiver's gain (perfect or LS)
};
std::unique_ptr<Equalizer> make_equalizer(EqualizerKind kind);

enum class DemapperKind {
  Hard,        ///< "hard": nearest constellation point per symbol (no LLRs)
  Exact,       ///< "exact": exact LLRs, log-sum-exp over the constellation
  MaxLog,      ///< "maxlog": max-log LLRs
  ItppHard,    ///< "itpp_hard": IT++ Modulator_2D::demodulate_bits (reference implementation)
  ItppLogMap,  ///< "itpp_logmap": IT++ demodulate_soft_bits, LOGMAP
  ItppMaxLog,  ///< "itpp_maxlog": IT++ demodulate_soft_bits, APPROX (max-log)
};
/// A demapper for symbols drawn from `constellation` (the mapper's).
std::unique_ptr<Demapper> make_demapper(DemapperKind kind, const Constellation& constellation);

}  // namespace linksim
