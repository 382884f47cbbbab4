#include <cmath>
#include <span>
#include <stdexcept>

#include "channels/channels.hpp"

namespace linksim {
namespace {

class RayleighBlockChannel final : public Channel {
 public:
  explicit RayleighBlockChannel(const RayleighBlockParams& p) : p_(p) {
    if (p_.coherence_symbols == 0) throw std::invalid_argument("coherence_symbols must be >= 1");
    if (p_.csi == CsiMode::LsPilot && p_.pilots == 0)
      throw std::invalid_argument("pilots must be >= 1");
  }
  std::string name() const override { return "rayleigh_block"; }

  void apply(const Signal& x, double n0, RandomStream& rng, Signal& y,
             ChannelState& state) override {
    const arma::uword n = signal_size(x);
    const arma::uword lc = p_.coherence_symbols;
    const arma::uword n_blocks = (n + lc - 1) / lc;
    const double sigma = std::sqrt(n0 / 2.0);

    // Draw order is fixed: block gains, then sample noise, then pilot noise.
    block_gain_.set_size(n_blocks);
    rng.fill_normal(std::span(reinterpret_cast<double*>(block_gain_.memptr()), 2 * n_blocks),
                    std::sqrt(0.5));
    state.gain.set_size(n);
    for (arma::uword i = 0; i < n; ++i) state.gain(i) = block_gain_(i / lc);

    if (!std::holds_alternative<arma::cx_vec>(y)) y = arma::cx_vec();
    auto& out = std::get<arma::cx_vec>(y);
    out.set_size(n);
    rng.fill_normal(std::span(reinterpret_cast<double*>(out.memptr()), 2 * n), sigma);
    out += state.gain % to_complex(x);

    if (p_.csi == CsiMode::Perfect) {
      state.estimate = state.gain;
      return;
    }
    // LS from `pilots` unit pilots per block: h_hat = mean_p (h + w_p) = h + CN(0, n0 / P).
    pilot_noise_.set_size(n_blocks * p_.pilots);
    rng.fill_normal(
        std::span(reinterpret_cast<double*>(pilot_noise_.memptr()), 2 * pilot_noise_.n_elem),
        sigma);
    estimate_blocks_.set_size(n_blocks);
    for (arma::uword b = 0; b < n_blocks; ++b) {
      std::complex<double> sum = 0.0;
      for (arma::uword q = 0; q < p_.pilots; ++q)
        sum += block_gain_(b) + pilot_noise_(b * p_.pilots + q);
      estimate_blocks_(b) = sum / static_cast<double>(p_.pilots);
    }
    state.estimate.set_size(n);
    for (arma::uword i = 0; i < n; ++i) state.estimate(i) = estimate_blocks_(i / lc);
  }

 private:
  RayleighBlockParams p_;
  arma::cx_vec block_gain_, pilot_noise_, estimate_blocks_;
};

}  // namespace

std::unique_ptr<Channel> make_rayleigh_block_channel(const RayleighBlockParams& params) {
  return std::make_unique<RayleighBlockChannel>(params);
}

}  // namespace linksim
