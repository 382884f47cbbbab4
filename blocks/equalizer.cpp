#include <stdexcept>

#include "blocks/blocks.hpp"

namespace linksim {
namespace {

class PassThroughEqualizer final : public Equalizer {
 public:
  std::string name() const override { return "none"; }
  void equalize(const Signal& y, const ChannelState& /*state*/, double n0,
                Equalized& out) override {
    out.y = y;
    out.n0.set_size(1);
    out.n0(0) = n0;
  }
  bool passes_through(const ChannelState& /*state*/) const override { return true; }
};

class CoherentEqualizer final : public Equalizer {
 public:
  std::string name() const override { return "coherent"; }
  bool passes_through(const ChannelState& state) const override {
    return state.estimate.is_empty();
  }
  void equalize(const Signal& y, const ChannelState& state, double n0, Equalized& out) override {
    if (passes_through(state)) {  // unit gain: nothing to undo
      out.y = y;
      out.n0.set_size(1);
      out.n0(0) = n0;
      return;
    }
    const arma::cx_vec& h = state.estimate;
    if (h.n_elem != signal_size(y)) {
      throw std::logic_error("coherent equalizer: " + std::to_string(h.n_elem) + " gains for " +
                             std::to_string(signal_size(y)) + " samples");
    }
    const arma::cx_vec yc = to_complex(y);
    const arma::vec power = arma::square(arma::abs(h));
    out.y = arma::cx_vec(yc % arma::conj(h) / power);
    out.n0 = n0 / power;
  }
};

}  // namespace

std::unique_ptr<Equalizer> make_equalizer(EqualizerKind kind) {
  switch (kind) {
    case EqualizerKind::None:
      return std::make_unique<PassThroughEqualizer>();
    case EqualizerKind::Coherent:
      return std::make_unique<CoherentEqualizer>();
  }
  throw std::invalid_argument("unknown equalizer kind");
}

}  // namespace linksim
