// Gray-labelled constellations with unit average energy.
#pragma once

#include <armadillo>
#include <string_view>

namespace linksim {

enum class Modulation { Bpsk, Qpsk, Qam16 };

/// A constellation: point `points()(label)` carries the bits of `label`, most significant bit
/// first (bit 0 of the symbol is the MSB of the label). Average energy is exactly 1.
class Constellation {
 public:
  explicit Constellation(Modulation modulation);

  Modulation modulation() const { return modulation_; }
  /// Bits per symbol (1, 2 or 4).
  unsigned bits_per_symbol() const { return bits_per_symbol_; }
  /// True for one-dimensional constellations (BPSK): symbols travel as real signals.
  bool is_real() const { return modulation_ == Modulation::Bpsk; }
  /// Points indexed by label. Shape: [2^bits_per_symbol].
  const arma::cx_vec& points() const { return points_; }
  /// Bit `b` (0 = MSB) of `label`.
  unsigned bit(unsigned label, unsigned b) const {
    return (label >> (bits_per_symbol_ - 1 - b)) & 1U;
  }

 private:
  Modulation modulation_;
  unsigned bits_per_symbol_;
  arma::cx_vec points_;
};

std::string_view to_string(Modulation m);

}  // namespace linksim
