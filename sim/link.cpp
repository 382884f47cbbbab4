#include "sim/link.hpp"

#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <variant>

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

/// Makes out.y a view of y's samples (no copy) and out.n0 = [n0].
void view_as_equalized(Signal& y, double n0, Equalized& out) {
  std::visit(
      [&out](auto& v) {
        using Vec = std::decay_t<decltype(v)>;
        out.y.emplace<Vec>(v.memptr(), v.n_elem, /*copy_aux_mem=*/false, /*strict=*/true);
      },
      y);
  out.n0.set_size(1);
  out.n0(0) = n0;
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
  place_buffers();
}

void Link::place_buffers() {
  // A load whose address matches a pending store's in its low 12 bits waits for it (4K
  // aliasing), and a copy whose destination is just past its source modulo 4096 falls to a
  // slow path (3 B/ns instead of 90 here). Where the allocator happens to put the buffers
  // decides which passes suffer, so they get fixed offsets modulo 4096 instead: each signal
  // buffer starts 1 KiB before the one it is computed from (rx from tx, the equaliser's copy
  // from rx), and the bit buffers sit in between. Blocks resize buffers with set_size, which
  // keeps this memory as long as the size does not change; a block that changes the type
  // (e.g. a complex channel output for a real input) simply gets fresh memory.
  constexpr std::size_t kPage = 4096;
  const std::size_t n_sym = frame_bits_ / bits_per_symbol();
  const bool real = blocks_.mapper->constellation().is_real();
  const std::size_t signal_bytes = n_sym * (real ? sizeof(double) : sizeof(arma::cx_double));
  const auto span = [&](std::size_t bytes) { return (bytes + kPage - 1) / kPage * kPage + kPage; };
  const std::size_t total = 3 * span(signal_bytes) + 2 * span(frame_bits_) + kPage;
  arena_ = std::make_unique<std::byte[]>(total);
  auto* p = reinterpret_cast<std::byte*>(
      (reinterpret_cast<std::uintptr_t>(arena_.get()) + kPage - 1) / kPage * kPage);
  const auto take = [&p, &span](std::size_t bytes, std::size_t offset) {
    std::byte* at = p + offset;
    p += span(bytes);
    return at;
  };
  std::byte* tx = take(signal_bytes, 0);
  std::byte* rx = take(signal_bytes, 3 * kPage / 4);
  std::byte* eq = take(signal_bytes, kPage / 2);
  std::byte* bits = take(frame_bits_, kPage / 4);
  std::byte* bits_hat = take(frame_bits_, kPage / 8);
  bits_ = Bits(reinterpret_cast<std::uint8_t*>(bits), frame_bits_, false, false);
  bits_hat_ = Bits(reinterpret_cast<std::uint8_t*>(bits_hat), frame_bits_, false, false);
  const auto signal = [&](std::byte* at) -> Signal {
    if (real) return arma::vec(reinterpret_cast<double*>(at), n_sym, false, false);
    return arma::cx_vec(reinterpret_cast<arma::cx_double*>(at), n_sym, false, false);
  };
  tx_ = signal(tx);
  rx_ = signal(rx);
  eq_.y = signal(eq);
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
  // An equaliser with nothing to undo (unit gains) would only copy rx; the demapper then reads
  // rx in place.
  const bool through = blocks_.equalizer->passes_through(state_);
  Equalized& eq = through ? rx_view_ : eq_;
  run_stage(latency, timed, kEqualizer, [&] {
    if (through) {
      view_as_equalized(rx_, n0, rx_view_);
    } else {
      blocks_.equalizer->equalize(rx_, state_, n0, eq_);
    }
  });
  // NaN/Inf propagate through the equaliser, so one check covers the channel too; the channel's
  // output is only inspected to name the culprit.
  if (!finite(eq.y) || !kernels::all_finite(eq.n0.memptr(), eq.n0.n_elem)) {
    if (!finite(rx_)) {
      throw NumericalError("channel '" + blocks_.channel->name() +
                           "' produced NaN/Inf samples (n0 = " + std::to_string(n0) + ")");
    }
    throw NumericalError("equalizer '" + blocks_.equalizer->name() + "' produced NaN/Inf samples");
  }
  run_stage(latency, timed, kDemapper, [&] { blocks_.demapper->demap(eq, bits_hat_, llr_); });
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
