#include "sim/random.hpp"

#include <cstring>

#include "sim/random_kernels.hpp"

namespace linksim {
namespace detail {  // random_avx2.cpp (compiled with -mavx2)
void xoshiro_avx2(std::array<std::array<std::uint64_t, RandomStream::kLanes>, 4>& s,
                  std::uint64_t* out, std::size_t rounds);
void box_muller_avx2(const std::uint64_t* words, double* out, std::size_t n, double stddev);
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

bool have_avx2() {
#if defined(__x86_64__)
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
#else
  return false;
#endif
}

void xoshiro_lanes(LaneState& s, std::uint64_t* out, std::size_t rounds) {
  if (have_avx2()) {
    detail::xoshiro_avx2(s, out, rounds);
  } else {
    xoshiro_kernel<Scalar>(s, out, rounds);
  }
}

/// Box-Muller on `n` pairs of words (u1 from words[0, n), u2 from words[n, 2n)): cosine outputs
/// to out[0, n), sine outputs to out[n, 2n).
void box_muller(const std::uint64_t* words, double* out, std::size_t n, double stddev) {
  std::size_t done = 0;
  if (have_avx2()) {
    detail::box_muller_avx2(words, out, n, stddev);
    done = n - n % detail::kAvx2Width;
  }
  box_muller_kernel<Scalar>(words, out, done, n, stddev);
}

void unpack_bits(const std::uint64_t* words, std::uint8_t* out, std::size_t n_words) {
  if (have_avx2()) {
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

double RandomStream::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double RandomStream::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  const std::array<std::uint64_t, 2> w{next_u64(), next_u64()};
  std::array<double, 2> z{};
  box_muller(w.data(), z.data(), 1, 1.0);
  has_spare_normal_ = true;
  spare_normal_ = z[1];
  return z[0];
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
  alignas(64) std::array<double, kChunkWords> normals;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t remaining = out.size() - done;
    // Each normal consumes one word; pairs come from pairs of words.
    const std::size_t n_words = std::min(kChunkWords, (remaining + 1) & ~std::size_t{1});
    const std::size_t rounds = (n_words + kLanes - 1) / kLanes;
    xoshiro_lanes(s_, words.data(), rounds);
    const std::size_t n_pairs = n_words / 2;
    if (remaining >= n_words) {
      box_muller(words.data(), out.data() + done, n_pairs, stddev);
      done += n_words;
    } else {
      box_muller(words.data(), normals.data(), n_pairs, stddev);
      std::memcpy(out.data() + done, normals.data(), remaining * sizeof(double));
      done += remaining;
    }
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
