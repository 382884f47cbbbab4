// Core value types that flow between blocks.
#pragma once

#include <armadillo>
#include <cstdint>
#include <variant>

namespace linksim {

/// Hard bits, one per element, each 0 or 1. Shape: [n_bits].
using Bits = arma::Col<std::uint8_t>;

/// Baseband symbols, in units of sqrt(Es) (mappers produce unit average energy).
/// One-dimensional constellations (BPSK) travel as real vectors, all others as complex ones.
/// Shape: [n_symbols].
using Signal = std::variant<arma::vec, arma::cx_vec>;

/// Number of symbols held by a signal.
inline arma::uword signal_size(const Signal& s) {
  return std::visit([](const auto& v) { return v.n_elem; }, s);
}

/// True when every sample of the signal is finite (no NaN/Inf).
inline bool signal_is_finite(const Signal& s) {
  return std::visit([](const auto& v) { return v.is_finite(); }, s);
}

/// Complex view of a signal (copies a real signal into the real part).
arma::cx_vec to_complex(const Signal& s);

}  // namespace linksim
