#include <cmath>
#include <stdexcept>

#include "blocks/blocks.hpp"
#include "sim/kernels.hpp"

namespace linksim {
namespace {

class ConstellationMapper final : public Mapper {
 public:
  explicit ConstellationMapper(Modulation m) : constellation_(m) {}
  std::string name() const override { return std::string(to_string(constellation_.modulation())); }
  const Constellation& constellation() const override { return constellation_; }

  void map(const Bits& bits, Signal& symbols) override {
    const unsigned k = constellation_.bits_per_symbol();
    if (bits.n_elem % k != 0) {
      throw std::invalid_argument(name() + ": bit count " + std::to_string(bits.n_elem) +
                                  " is not a multiple of " + std::to_string(k));
    }
    const arma::uword n = bits.n_elem / k;
    const std::uint8_t* b = bits.memptr();
    if (constellation_.is_real()) {
      if (!std::holds_alternative<arma::vec>(symbols)) symbols = arma::vec();
      auto& x = std::get<arma::vec>(symbols);
      x.set_size(n);
      kernels::bpsk_map(b, x.memptr(), n);
      return;
    }
    if (!std::holds_alternative<arma::cx_vec>(symbols)) symbols = arma::cx_vec();
    auto& x = std::get<arma::cx_vec>(symbols);
    x.set_size(n);
    const arma::cx_vec& pts = constellation_.points();
    for (arma::uword i = 0; i < n; ++i) {
      unsigned label = 0;
      for (unsigned j = 0; j < k; ++j) label = (label << 1) | b[i * k + j];
      x(i) = pts(label);
    }
  }

 private:
  Constellation constellation_;
};

}  // namespace

std::unique_ptr<Mapper> make_mapper(Modulation modulation) {
  return std::make_unique<ConstellationMapper>(modulation);
}

}  // namespace linksim
