#include "sim/link.hpp"

#include <stdexcept>

#include "sim/kernels.hpp"

namespace linksim {
namespace {

enum Stage : std::size_t { kSource, kMapper, kChannel, kEqualizer, kDemapper };

/// Calls f; times it when `timed` (sampled frames, see LatencyRecorder), else counts the call.
template <class F>
void run_stage(LatencyRecorder& latency, bool timed, std::size_t stage, F&& f) {
  if (!timed) {
    f();
    latency.count_untimed(stage);
    return;
  }
  const StageTimer timer(latency, stage);
  f();
}

/// True when every sample of the signal is finite (a complex vector is 2n doubles).
bool finite(const Signal& s) {
  if (const auto* re = std::get_if<arma::vec>(&s))
    return kernels::all_finite(re->memptr(), re->n_elem);
  const auto& cx = std::get<arma::cx_vec>(s);
  return kernels::all_finite(reinterpret_cast<const double*>(cx.memptr()), 2 * cx.n_elem);
}

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
  const bool timed = latency.time_next_frame();
  run_stage(latency, timed, kSource, [&] { blocks_.source->generate(frame_bits_, rng, bits_); });
  run_stage(latency, timed, kMapper, [&] { blocks_.mapper->map(bits_, tx_); });
  run_stage(latency, timed, kChannel, [&] { blocks_.channel->apply(tx_, n0, rng, rx_, state_); });
  run_stage(latency, timed, kEqualizer, [&] { blocks_.equalizer->equalize(rx_, state_, n0, eq_); });
  // NaN/Inf propagate through the equaliser, so one check covers the channel too; the channel's
  // output is only inspected to name the culprit.
  if (!finite(eq_.y) || !kernels::all_finite(eq_.n0.memptr(), eq_.n0.n_elem)) {
    if (!finite(rx_)) {
      throw NumericalError("channel '" + blocks_.channel->name() +
                           "' produced NaN/Inf samples (n0 = " + std::to_string(n0) + ")");
    }
    throw NumericalError("equalizer '" + blocks_.equalizer->name() + "' produced NaN/Inf samples");
  }
  run_stage(latency, timed, kDemapper, [&] { blocks_.demapper->demap(eq_, bits_hat_, llr_); });
  if (!kernels::all_finite(llr_.memptr(), llr_.n_elem)) {
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
