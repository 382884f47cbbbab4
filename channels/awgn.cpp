#include <cmath>
#include <span>

#include "channels/channels.hpp"

namespace linksim {
namespace {

class AwgnChannel final : public Channel {
 public:
  std::string name() const override { return "awgn"; }

  void apply(const Signal& x, double n0, RandomStream& rng, Signal& y,
             ChannelState& state) override {
    state.gain.reset();
    state.estimate.reset();
    const double sigma = std::sqrt(n0 / 2.0);  // per real dimension
    if (const auto* re = std::get_if<arma::vec>(&x)) {
      if (!std::holds_alternative<arma::vec>(y)) y = arma::vec();
      auto& out = std::get<arma::vec>(y);
      out.set_size(re->n_elem);
      rng.add_normal(std::span(out.memptr(), out.n_elem), std::span(re->memptr(), re->n_elem),
                     sigma);
      return;
    }
    const auto& cx = std::get<arma::cx_vec>(x);
    if (!std::holds_alternative<arma::cx_vec>(y)) y = arma::cx_vec();
    auto& out = std::get<arma::cx_vec>(y);
    out.set_size(cx.n_elem);
    // A complex vector is stored as interleaved (re, im) doubles.
    rng.add_normal(std::span(reinterpret_cast<double*>(out.memptr()), 2 * out.n_elem),
                   std::span(reinterpret_cast<const double*>(cx.memptr()), 2 * cx.n_elem), sigma);
  }
};

}  // namespace

std::unique_ptr<Channel> make_awgn_channel() {
  return std::make_unique<AwgnChannel>();
}

}  // namespace linksim
