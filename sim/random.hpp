// Counter-based random streams: every (seed, point, frame) triple owns an independent stream, so
// Monte Carlo counts do not depend on the number of threads or on the order frames are run in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace linksim {
namespace detail {
struct Zig32Entry;  // random_kernels.hpp
}  // namespace detail

/// Mixes the master seed with a point and frame index into the seed of one stream
/// (SplitMix64 finaliser over a keyed combination; distinct triples give unrelated streams).
std::uint64_t derive_seed(std::uint64_t master_seed, std::uint64_t point_index,
                          std::uint64_t frame_index);

/// A random stream handed to a block by the runner. Blocks never hold global RNG state.
///
/// The generator is xoshiro256++ run as 8 interleaved lanes (each lane seeded by SplitMix64),
/// which lets the bulk fills below be vectorised. Not thread-safe: one stream per frame.
class RandomStream {
 public:
  static constexpr std::size_t kLanes = 8;

  explicit RandomStream(std::uint64_t seed);

  /// One 64-bit uniform word.
  std::uint64_t next_u64();
  /// One uniform double in [0, 1) with 53 random bits.
  double uniform();
  /// One standard normal N(0, 1) sample (ziggurat, as fill_normal).
  double normal();

  /// Fills `bits` with i.i.d. fair bits (each byte 0 or 1).
  void fill_bits(std::span<std::uint8_t> bits);
  /// Fills `out` with i.i.d. N(0, stddev^2) samples: a 256-layer ziggurat (Marsaglia & Tsang),
  /// exact in distribution up to 52-bit uniforms, tail included (no truncation). The fast path
  /// (98.5% of draws) is vectorised; the results are the same on every instruction set.
  void fill_normal(std::span<double> out, double stddev);
  /// Fills `out` with i.i.d. uniform doubles in [0, 1).
  void fill_uniform(std::span<double> out);

  /// y[i] = x[i] + stddev * z_i with z_i i.i.d. N(0, 1): additive Gaussian noise in one pass.
  /// Shapes: y and x both [n]; they must not overlap. Throws std::invalid_argument on a size
  /// mismatch.
  ///
  /// A single-word ziggurat: one 32-bit random word per sample (half the bits of fill_normal)
  /// and the same 256 layers. 8 bits pick the layer, 1 the sign and 23 the uniform u; a draw's
  /// value is u * (stddev * x[layer]) in double precision. Whether the draw is accepted is
  /// decided exactly: u against x[layer+1] / x[layer] (98.5% of draws, vectorised), else, for
  /// the wedges, a 52-bit uniform height against the density in double precision (a fitted
  /// quadratic squeeze, exp when in doubt) and the tail beyond r = 3.654 by Marsaglia's method
  /// in double precision with 53-bit uniforms; rejected draws start again with fresh words. So
  /// the samples are exact in distribution up to 23-bit uniforms within each layer (a grid of
  /// x[layer] * 2^-23, under 5e-7), tail included: nothing is truncated. The results are the
  /// same on every instruction set.
  void add_normal(std::span<double> y, std::span<const double> x, double stddev);

 private:
  void refill();
  /// The ziggurat's slow path (wedges, tail, retries) for a word that missed the fast path.
  double normal_slow(std::uint64_t word);
  /// The most misses add_normal finishes at a time.
  static constexpr std::size_t kMaxMisses = 2048;
  /// Finishes the m draws of add_normal that missed the fast path: index[k] is the sample (in
  /// y, x) of miss k, word[k] its 32-bit word; both arrays are reused as scratch.
  void finish_misses(std::span<double> y, std::span<const double> x, double stddev,
                     const detail::Zig32Entry* table, std::uint32_t* index, std::uint32_t* word,
                     std::size_t m);
  /// A draw from the tail beyond the base strip's edge r (Marsaglia 1964), without its sign.
  double normal_tail();
  /// Whether (z, a uniform height drawn here) in the wedge of layer `layer` lies under the
  /// density.
  bool wedge_accepts(std::size_t layer, double z);
  std::array<std::array<std::uint64_t, kLanes>, 4> s_{};  // state word w of lane l: s_[w][l]
  std::array<std::uint64_t, kLanes> buffer_{};
  std::size_t used_ = kLanes;
};

}  // namespace linksim
