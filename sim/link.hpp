// A link: bit source -> mapper -> channel -> equaliser -> demapper -> error counting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/block.hpp"
#include "sim/latency.hpp"
#include "sim/random.hpp"

namespace linksim {

/// What one simulated frame produced.
struct FrameOutcome {
  std::uint64_t bits = 0;
  std::uint64_t bit_errors = 0;
  bool frame_error = false;
};

/// Thrown when a block produces NaN or Inf; the runner stops the point with this message.
class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Anything the Monte Carlo runner can simulate frame by frame (a Sionna-style callable that
/// returns (b, b_hat) counts). One instance is used by one thread.
class FrameSimulator {
 public:
  virtual ~FrameSimulator() = default;
  /// Names of the timed stages (their roles, e.g. "mapper"), in order.
  virtual std::vector<std::string> stage_names() const = 0;
  /// The block filling each stage (e.g. "qpsk"), in the same order; by default the stage names.
  virtual std::vector<std::string> stage_blocks() const { return stage_names(); }
  /// Simulates one frame at noise variance n0 (per complex sample, Es = 1).
  virtual FrameOutcome run_frame(double n0, RandomStream& rng, LatencyRecorder& latency) = 0;
};

/// The blocks of a point-to-point link, in signal order.
struct LinkBlocks {
  std::unique_ptr<BitSource> source;
  std::unique_ptr<Mapper> mapper;
  std::unique_ptr<Channel> channel;
  std::unique_ptr<Equalizer> equalizer;
  std::unique_ptr<Demapper> demapper;
};

class Link final : public FrameSimulator {
 public:
  /// frame_bits must be a positive multiple of the mapper's bits per symbol.
  Link(LinkBlocks blocks, std::size_t frame_bits);

  std::vector<std::string> stage_names() const override;
  std::vector<std::string> stage_blocks() const override;
  FrameOutcome run_frame(double n0, RandomStream& rng, LatencyRecorder& latency) override;

  std::size_t frame_bits() const { return frame_bits_; }
  unsigned bits_per_symbol() const { return blocks_.mapper->constellation().bits_per_symbol(); }

 private:
  /// Puts the frame buffers in one arena at chosen offsets (see link.cpp).
  void place_buffers();

  LinkBlocks blocks_;
  std::size_t frame_bits_;
  std::unique_ptr<std::byte[]> arena_;
  // Per-frame buffers, reused across frames.
  Bits bits_, bits_hat_;
  Signal tx_, rx_;
  ChannelState state_;
  Equalized eq_;
  Equalized rx_view_;  ///< rx_ seen as equalised, when the equaliser passes it through
  arma::vec llr_;
};

/// Number of positions where a and b differ (same length required).
std::uint64_t count_bit_errors(const Bits& a, const Bits& b);

}  // namespace linksim
