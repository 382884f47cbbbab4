#include <span>

#include "blocks/blocks.hpp"

namespace linksim {
namespace {

class RandomBitSource final : public BitSource {
 public:
  std::string name() const override { return "random_bits"; }
  void generate(std::size_t n_bits, RandomStream& rng, Bits& out) override {
    out.set_size(n_bits);
    rng.fill_bits(std::span(out.memptr(), out.n_elem));
  }
};

}  // namespace

std::unique_ptr<BitSource> make_random_bit_source() {
  return std::make_unique<RandomBitSource>();
}

}  // namespace linksim
