#include "sim/link.hpp"

#include <stdexcept>

#include "sim/kernels.hpp"

namespace linksim {
namespace {

enum Stage : std::size_t { kSource, kMapper, kChannel, kEqualizer, kDemapper };

}  // namespace

Link::Link(LinkBlocks blocks, std::size_t frame_bits)
    : blocks_(std::move(blocks)), frame_bits_(frame_bits) {
  if (!blocks_.source || !blocks_.mapper || !blocks_.channel || !blocks_.equalizer ||
      !blocks_.demapper) {
    throw std::invalid_argument("a link needs a source, mapper, channel, equalizer and demapper");
  }
  const unsigned k = bits_per_symbol();
  if (frame_bits_ == 0 || frame_bits_ % k != 0) {
    throw std::invalid_argument("frame_bits (" + std::to_string(frame_bits_) +
                                ") must be a positive multiple of the bits per symbol (" +
                                std::to_string(k) + ")");
  }
}

std::vector<std::string> Link::stage_names() const {
  return {"source", "mapper", "channel", "equalizer", "demapper"};
}

std::vector<std::string> Link::stage_blocks() const {
  return {blocks_.source->name(), blocks_.mapper->name(), blocks_.channel->name(),
          blocks_.equalizer->name(), blocks_.demapper->name()};
}

FrameOutcome Link::run_frame(double n0, RandomStream& rng, LatencyRecorder& latency) {
  {
    StageTimer t(latency, kSource);
    blocks_.source->generate(frame_bits_, rng, bits_);
  }
  {
    StageTimer t(latency, kMapper);
    blocks_.mapper->map(bits_, tx_);
  }
  {
    StageTimer t(latency, kChannel);
    blocks_.channel->apply(tx_, n0, rng, rx_, state_);
  }
  {
    StageTimer t(latency, kEqualizer);
    blocks_.equalizer->equalize(rx_, state_, n0, eq_);
  }
  // NaN/Inf propagate through the equaliser, so one check covers the channel too; the channel's
  // output is only inspected to name the culprit.
  if (!signal_is_finite(eq_.y) || !eq_.n0.is_finite()) {
    if (!signal_is_finite(rx_)) {
      throw NumericalError("channel '" + blocks_.channel->name() +
                           "' produced NaN/Inf samples (n0 = " + std::to_string(n0) + ")");
    }
    throw NumericalError("equalizer '" + blocks_.equalizer->name() + "' produced NaN/Inf samples");
  }
  {
    StageTimer t(latency, kDemapper);
    blocks_.demapper->demap(eq_, bits_hat_, llr_);
  }
  if (!llr_.is_empty() && !llr_.is_finite()) {
    throw NumericalError("demapper '" + blocks_.demapper->name() + "' produced NaN/Inf LLRs");
  }
  FrameOutcome out;
  out.bits = frame_bits_;
  out.bit_errors = count_bit_errors(bits_, bits_hat_);
  out.frame_error = out.bit_errors > 0;
  return out;
}

std::uint64_t count_bit_errors(const Bits& a, const Bits& b) {
  if (a.n_elem != b.n_elem) {
    throw std::logic_error("count_bit_errors: " + std::to_string(a.n_elem) + " vs " +
                           std::to_string(b.n_elem) + " bits");
  }
  return kernels::count_mismatches(a.memptr(), b.memptr(), a.n_elem);
}

}  // namespace linksim
