// The block interfaces a link is built from. Blocks are nouns (Mapper, Channel, ...); each has one
// verb, takes inputs by const&, writes outputs through references, and draws randomness only
// from the RandomStream the runner hands it. Blocks may keep scratch buffers, so one link (and
// its blocks) is used by one thread at a time; the runner builds one link per thread.
#pragma once

#include <cstddef>
#include <string>

#include "sim/constellation.hpp"
#include "sim/random.hpp"
#include "sim/types.hpp"

namespace linksim {

class Block {
 public:
  virtual ~Block() = default;
  /// The name the block has in scenario files and `linksim list` (e.g. "qpsk").
  virtual std::string name() const = 0;
};

/// Produces the information bits of one frame.
class BitSource : public Block {
 public:
  /// out: [n_bits], each 0 or 1.
  virtual void generate(std::size_t n_bits, RandomStream& rng, Bits& out) = 0;
};

/// Maps bits to symbols of unit average energy (Es = 1).
class Mapper : public Block {
 public:
  virtual const Constellation& constellation() const = 0;
  /// bits: [n_symbols * bits_per_symbol]; symbols: [n_symbols], real for BPSK, complex otherwise.
  virtual void map(const Bits& bits, Signal& symbols) = 0;
};

/// What a channel leaves for the receiver.
struct ChannelState {
  /// True complex gain per symbol, [n_symbols]; empty means gain 1 for every symbol (AWGN).
  arma::cx_vec gain;
  /// Gain the receiver believes in, [n_symbols] (perfect CSI: equal to `gain`, or a pilot-based
  /// estimate); empty means 1.
  arma::cx_vec estimate;
};

/// y = h .* x + w with w ~ CN(0, n0) per complex sample, i.e. N(0, n0/2) per real dimension.
/// A real input stays real only when the channel is real-valued (AWGN): then only the in-phase
/// noise, N(0, n0/2), is drawn, because the quadrature noise is independent of everything a
/// one-dimensional detector uses.
class Channel : public Block {
 public:
  /// x: [n_symbols]; n0: noise variance per complex sample relative to Es = 1 (see snr.hpp);
  /// y: [n_symbols].
  virtual void apply(const Signal& x, double n0, RandomStream& rng, Signal& y,
                     ChannelState& state) = 0;
};

/// Equalised symbols and the effective noise variance each one sees.
struct Equalized {
  Signal y;      ///< [n_symbols], in units of sqrt(Es)
  arma::vec n0;  ///< effective noise variance per complex sample: [1] (common) or [n_symbols]
};

/// Undoes the channel gain the receiver believes in.
class Equalizer : public Block {
 public:
  /// y: received samples [n_symbols] (units of sqrt(Es)); state: the channel's gains (estimate
  /// [n_symbols] or empty for unit gain); n0: noise variance per complex sample (Es = 1);
  /// out.y: [n_symbols]; out.n0: [1] or [n_symbols], the noise variance after equalisation.
  virtual void equalize(const Signal& y, const ChannelState& state, double n0, Equalized& out) = 0;
  /// True when, for this channel state, equalize() would only copy: out.y = y and out.n0 = [n0].
  /// The link then hands y to the demapper as it is instead of calling equalize().
  virtual bool passes_through(const ChannelState& /*state*/) const { return false; }
};

/// Turns equalised symbols into hard bits and, for soft demappers, LLRs.
/// LLR sign convention: llr = ln P(b = 0 | y) / P(b = 1 | y), so llr > 0 favours bit 0.
class Demapper : public Block {
 public:
  /// bits_hat: [n_symbols * bits_per_symbol]; llr: same shape, or left empty by hard demappers.
  virtual void demap(const Equalized& in, Bits& bits_hat, arma::vec& llr) = 0;
};

}  // namespace linksim
