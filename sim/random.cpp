#include "sim/random.hpp"

#include <bit>
#include <cmath>
#include <cstring>

#include "sim/cpu.hpp"
#include "sim/random_kernels.hpp"

namespace linksim {
namespace detail {  // random_avx2.cpp (compiled with -mavx2)
void xoshiro_avx2(std::array<std::array<std::uint64_t, RandomStream::kLanes>, 4>& s,
                  std::uint64_t* out, std::size_t rounds);
void ziggurat_avx2(const std::uint64_t* words, double* out, std::uint64_t* accept, std::size_t n,
                   const double* x, const double* ratio, double stddev);
void unpack_bits_avx2(const std::uint64_t* words, std::uint8_t* out, std::size_t n_words);
constexpr std::size_t kAvx2Width = 4;
}  // namespace detail

namespace {

constexpr std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void xoshiro_lanes(LaneState& s, std::uint64_t* out, std::size_t rounds) {
  if (has_avx2()) {
    detail::xoshiro_avx2(s, out, rounds);
  } else {
    xoshiro_kernel<Scalar>(s, out, rounds);
  }
}

/// Ziggurat tables for 256 layers of equal area v, base strip plus tail beyond r.
struct Ziggurat {
  static constexpr double r = 3.6541528853610088;
  static constexpr double v = 0.00492867323399;
  std::array<double, kZigguratLayers + 1> x{};  ///< x[0] = v / f(r), x[1] = r > ... > x[256] = 0
  std::array<double, kZigguratLayers> ratio{};  ///< x[i+1] / x[i]: the fast-path bound on u
  std::array<double, kZigguratLayers + 1> f{};  ///< f(x[i]) = exp(-x[i]^2 / 2)
};

const Ziggurat& ziggurat() {
  static const Ziggurat z = [] {
    Ziggurat t;
    const auto f = [](double v) { return std::exp(-0.5 * v * v); };
    t.x[0] = Ziggurat::v / f(Ziggurat::r);
    t.x[1] = Ziggurat::r;
    for (std::size_t i = 1; i + 1 < kZigguratLayers; ++i) {
      t.x[i + 1] = std::sqrt(-2.0 * std::log(Ziggurat::v / t.x[i] + f(t.x[i])));
    }
    t.x[kZigguratLayers] = 0.0;
    for (std::size_t i = 0; i < kZigguratLayers; ++i) t.ratio[i] = t.x[i + 1] / t.x[i];
    for (std::size_t i = 0; i <= kZigguratLayers; ++i) t.f[i] = f(t.x[i]);
    return t;
  }();
  return z;
}

/// Fast path over words[0, n) (see ziggurat_kernel).
void ziggurat_fast(const std::uint64_t* words, double* out, std::uint64_t* accept, std::size_t n,
                   double stddev) {
  const Ziggurat& z = ziggurat();
  std::size_t done = 0;
  if (has_avx2()) {
    detail::ziggurat_avx2(words, out, accept, n, z.x.data(), z.ratio.data(), stddev);
    done = n - n % detail::kAvx2Width;
  }
  ziggurat_kernel<Scalar>(words, out, accept, done, n, z.x.data(), z.ratio.data(), stddev);
}

void unpack_bits(const std::uint64_t* words, std::uint8_t* out, std::size_t n_words) {
  if (has_avx2()) {
    detail::unpack_bits_avx2(words, out, n_words);
  } else {
    unpack_bits_kernel(words, out, n_words);
  }
}

constexpr std::size_t kChunkRounds = 64;  // words per chunk: kChunkRounds * kLanes
constexpr std::size_t kChunkWords = kChunkRounds * RandomStream::kLanes;

}  // namespace

std::uint64_t derive_seed(std::uint64_t master_seed, std::uint64_t point_index,
                          std::uint64_t frame_index) {
  std::uint64_t x = master_seed;
  std::uint64_t h = splitmix64(x);
  x = h ^ (point_index * 0xd1b54a32d192ed03ULL);
  h = splitmix64(x);
  x = h ^ (frame_index * 0x8cb92ba72f3d8dd7ULL);
  return splitmix64(x);
}

RandomStream::RandomStream(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (std::size_t l = 0; l < kLanes; ++l) {
    for (std::size_t w = 0; w < 4; ++w) s_[w][l] = splitmix64(x);
  }
}

void RandomStream::refill() {
  xoshiro_lanes(s_, buffer_.data(), 1);
  used_ = 0;
}

std::uint64_t RandomStream::next_u64() {
  if (used_ == kLanes) refill();
  return buffer_[used_++];
}

double RandomStream::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double RandomStream::normal() {
  const std::uint64_t w = next_u64();
  double z = 0.0;
  std::uint64_t accepted = 0;
  ziggurat_fast(&w, &z, &accepted, 1, 1.0);
  return accepted != 0 ? z : normal_slow(w);
}

double RandomStream::normal_slow(std::uint64_t w) {
  const Ziggurat& t = ziggurat();
  for (;;) {
    const std::size_t i = w & (kZigguratLayers - 1);
    const double u = std::bit_cast<double>(0x3ff0000000000000ULL | (w >> 12)) - 1.0;
    const double sign = ((w >> 8) & 1U) != 0 ? -1.0 : 1.0;
    const double z = u * t.x[i];
    if (u < t.ratio[i]) return sign * z;
    if (i == 0) {  // the tail beyond r (Marsaglia 1964)
      double a = 0.0, b = 0.0;
      do {
        a = -std::log(1.0 - uniform()) / Ziggurat::r;
        b = -std::log(1.0 - uniform());
      } while (b + b < a * a);
      return sign * (Ziggurat::r + a);
    }
    // A wedge: accept when a uniform height under the layer falls below the density.
    const double y = t.f[i] + uniform() * (t.f[i + 1] - t.f[i]);
    if (y < std::exp(-0.5 * z * z)) return sign * z;
    w = next_u64();
  }
}

void RandomStream::fill_bits(std::span<std::uint8_t> bits) {
  alignas(64) std::array<std::uint64_t, kChunkWords> words;
  alignas(64) std::array<std::uint8_t, 64 * kChunkWords> unpacked;
  std::size_t done = 0;
  while (done < bits.size()) {
    const std::size_t remaining = bits.size() - done;
    const std::size_t n_words = std::min(kChunkWords, (remaining + 63) / 64);
    const std::size_t rounds = (n_words + kLanes - 1) / kLanes;
    xoshiro_lanes(s_, words.data(), rounds);
    if (remaining >= 64 * n_words) {
      unpack_bits(words.data(), bits.data() + done, n_words);
      done += 64 * n_words;
    } else {
      unpack_bits(words.data(), unpacked.data(), n_words);
      std::memcpy(bits.data() + done, unpacked.data(), remaining);
      done += remaining;
    }
  }
}

void RandomStream::fill_normal(std::span<double> out, double stddev) {
  alignas(64) std::array<std::uint64_t, kChunkWords> words;
  alignas(64) std::array<std::uint64_t, kChunkWords> accepted;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min(kChunkWords, out.size() - done);
    xoshiro_lanes(s_, words.data(), (n + kLanes - 1) / kLanes);
    double* dst = out.data() + done;
    ziggurat_fast(words.data(), dst, accepted.data(), n, stddev);
    // The 1.5% of draws that miss the fast path, in order (the same on every instruction set).
    // Four masks at a time: most groups are all accepted.
    std::size_t j = 0;
    for (; j + 4 <= n; j += 4) {
      if ((accepted[j] & accepted[j + 1] & accepted[j + 2] & accepted[j + 3]) != 0) continue;
      for (std::size_t q = j; q < j + 4; ++q) {
        if (accepted[q] == 0) dst[q] = stddev * normal_slow(words[q]);
      }
    }
    for (; j < n; ++j) {
      if (accepted[j] == 0) dst[j] = stddev * normal_slow(words[j]);
    }
    done += n;
  }
}

void RandomStream::fill_uniform(std::span<double> out) {
  alignas(64) std::array<std::uint64_t, kChunkWords> words;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min(kChunkWords, out.size() - done);
    xoshiro_lanes(s_, words.data(), (n + kLanes - 1) / kLanes);
    for (std::size_t i = 0; i < n; ++i) {
      out[done + i] = static_cast<double>(words[i] >> 11) * 0x1.0p-53;
    }
    done += n;
  }
}

}  // namespace linksim
