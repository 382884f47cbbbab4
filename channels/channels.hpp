// Channel models. Noise convention (sim/snr.hpp): CN(0, n0) per complex sample, Es = 1.
#pragma once

#include <cstddef>
#include <memory>

#include "sim/block.hpp"

namespace linksim {

/// "awgn": y = x + w. A real (BPSK) input stays real and gets N(0, n0/2) noise; a complex input
/// gets CN(0, n0). Leaves the channel state empty (unit gain). The noise is added in one pass by
/// RandomStream::add_normal (32 random bits per real sample; exact in distribution up to 23-bit
/// uniforms within each ziggurat layer and single-precision values, tail included).
std::unique_ptr<Channel> make_awgn_channel();

enum class CsiMode {
  Perfect,  ///< "perfect": the receiver knows every gain exactly
  LsPilot,  ///< "ls": least-squares estimate from pilots (x_p = 1) sent through each fading block
};

struct RayleighBlockParams {
  std::size_t coherence_symbols = 1;  ///< symbols per fading block (>= 1); a frame starts a block
  CsiMode csi = CsiMode::Perfect;
  std::size_t pilots =
      1;  ///< pilots per block for CsiMode::LsPilot (their energy is not counted in Eb/N0)
};

/// "rayleigh_block": y = h x + w, h ~ CN(0, 1) i.i.d. per block of `coherence_symbols`
/// symbols, w ~ CN(0, n0). The output is always complex. The state carries the true gains and
/// the receiver's estimate (LS: h + CN(0, n0 / pilots), the mean of the pilot observations).
std::unique_ptr<Channel> make_rayleigh_block_channel(const RayleighBlockParams& params);

}  // namespace linksim
