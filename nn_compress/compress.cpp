#include "nn_compress/compress.hpp"

#include <algorithm>
#include <armadillo>
#include <bit>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "nn_compress/quantize.hpp"
#include "sim/random.hpp"

namespace linksim {
namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

void require_finite(std::span<const float> w, const char* fn) {
  for (const float v : w) require(std::isfinite(v), std::string(fn) + ": non-finite weight");
}

void require_sparsity(double s, const char* fn) {
  require(s >= 0.0 && s <= 1.0, std::string(fn) + ": sparsity must be in [0, 1]");
}

void require_matrix(std::span<const float> w, MatrixDims d, const char* fn) {
  require(w.size() == d.rows * d.cols, std::string(fn) + ": " + std::to_string(w.size()) +
                                           " values for a " + std::to_string(d.rows) + " x " +
                                           std::to_string(d.cols) + " matrix");
}

std::size_t count_of(double sparsity, std::size_t n) {
  return static_cast<std::size_t>(std::llround(sparsity * static_cast<double>(n)));
}

/// Indices 0..n-1 of the `k` smallest scores (ties: lower index first); the rest are kept.
std::vector<std::size_t> smallest(const std::vector<double>& score, std::size_t k) {
  std::vector<std::size_t> idx(score.size());
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  const auto less = [&](std::size_t a, std::size_t b) {
    return score[a] < score[b] || (score[a] == score[b] && a < b);
  };
  if (k < idx.size()) {
    std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), less);
  }
  idx.resize(std::min(k, idx.size()));
  return idx;
}

arma::mat to_arma(std::span<const float> w, MatrixDims d) {
  arma::mat m(d.rows, d.cols);
  for (std::size_t r = 0; r < d.rows; ++r) {
    for (std::size_t c = 0; c < d.cols; ++c) m(r, c) = w[r * d.cols + c];
  }
  return m;
}

double frobenius(std::span<const float> w) {
  double s = 0.0;
  for (const float v : w) s += static_cast<double>(v) * v;
  return std::sqrt(s);
}

double relative_error(std::span<const float> w, const std::vector<float>& approx) {
  double e = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double d = static_cast<double>(w[i]) - approx[i];
    e += d * d;
  }
  const double n = frobenius(w);
  return n > 0.0 ? std::sqrt(e) / n : 0.0;
}

}  // namespace

MatrixDims matrix_dims(const std::vector<std::int64_t>& shape) {
  if (shape.empty()) return {1, 1};
  std::size_t cols = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) cols *= static_cast<std::size_t>(shape[i]);
  if (shape.size() == 1) return {1, static_cast<std::size_t>(shape[0])};
  return {static_cast<std::size_t>(shape[0]), cols};
}

// ---- pruning ----------------------------------------------------------------------------------

KeepMask magnitude_prune_mask(std::span<const float> w, double sparsity) {
  require_sparsity(sparsity, "magnitude_prune_mask");
  require_finite(w, "magnitude_prune_mask");
  std::vector<double> score(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) score[i] = std::abs(w[i]);
  KeepMask mask(w.size(), 1);
  for (const std::size_t i : smallest(score, count_of(sparsity, w.size()))) mask[i] = 0;
  return mask;
}

std::vector<KeepMask> global_magnitude_prune_masks(std::span<const std::span<const float>> layers,
                                                   double sparsity) {
  require_sparsity(sparsity, "global_magnitude_prune_masks");
  std::vector<double> score;
  for (const auto& l : layers) {
    require_finite(l, "global_magnitude_prune_masks");
    for (const float v : l) score.push_back(std::abs(v));
  }
  std::vector<std::uint8_t> keep(score.size(), 1);
  for (const std::size_t i : smallest(score, count_of(sparsity, score.size()))) keep[i] = 0;
  std::vector<KeepMask> masks;
  std::size_t at = 0;
  for (const auto& l : layers) {
    masks.emplace_back(keep.begin() + static_cast<std::ptrdiff_t>(at),
                       keep.begin() + static_cast<std::ptrdiff_t>(at + l.size()));
    at += l.size();
  }
  return masks;
}

KeepMask threshold_prune_mask(std::span<const float> w, float threshold) {
  KeepMask mask(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) mask[i] = std::abs(w[i]) < threshold ? 0 : 1;
  return mask;
}

KeepMask row_prune_mask(std::span<const float> w, MatrixDims dims, double sparsity) {
  return block_prune_mask(w, dims, sparsity, std::max<std::size_t>(dims.cols, 1));
}

KeepMask block_prune_mask(std::span<const float> w, MatrixDims dims, double sparsity,
                          std::size_t block) {
  require_sparsity(sparsity, "block_prune_mask");
  require_matrix(w, dims, "block_prune_mask");
  require(block >= 1, "block_prune_mask: block must be >= 1");
  require_finite(w, "block_prune_mask");
  const std::size_t per_row = (dims.cols + block - 1) / block;
  std::vector<double> norm(dims.rows * per_row, 0.0);
  for (std::size_t r = 0; r < dims.rows; ++r) {
    for (std::size_t c = 0; c < dims.cols; ++c) {
      const double v = w[r * dims.cols + c];
      norm[r * per_row + c / block] += v * v;
    }
  }
  KeepMask mask(w.size(), 1);
  for (const std::size_t b : smallest(norm, count_of(sparsity, norm.size()))) {
    const std::size_t r = b / per_row, c0 = (b % per_row) * block;
    for (std::size_t c = c0; c < std::min(c0 + block, dims.cols); ++c) mask[r * dims.cols + c] = 0;
  }
  return mask;
}

KeepMask n_of_m_prune_mask(std::span<const float> w, MatrixDims dims, std::size_t n,
                           std::size_t m) {
  require_matrix(w, dims, "n_of_m_prune_mask");
  require(n >= 1 && n <= m, "n_of_m_prune_mask: needs 0 < n <= m");
  require_finite(w, "n_of_m_prune_mask");
  KeepMask mask(w.size(), 0);
  std::vector<std::size_t> group;
  for (std::size_t r = 0; r < dims.rows; ++r) {
    for (std::size_t c0 = 0; c0 < dims.cols; c0 += m) {
      group.clear();
      for (std::size_t c = c0; c < std::min(c0 + m, dims.cols); ++c) {
        group.push_back(r * dims.cols + c);
      }
      // Largest first; equal magnitudes: the higher index first (kept).
      std::sort(group.begin(), group.end(), [&](std::size_t a, std::size_t b) {
        const float fa = std::abs(w[a]), fb = std::abs(w[b]);
        return fa > fb || (fa == fb && a > b);
      });
      for (std::size_t j = 0; j < std::min(n, group.size()); ++j) mask[group[j]] = 1;
    }
  }
  return mask;
}

std::vector<std::size_t> select_prunable(const std::vector<NamedArray>& arrays,
                                         LayerSelection selection,
                                         const std::vector<std::string>& names) {
  std::vector<std::size_t> weights;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    if (arrays[i].shape.size() >= 2) weights.push_back(i);
  }
  switch (selection) {
    case LayerSelection::AllWeights:
      return weights;
    case LayerSelection::AllExceptFirstAndLast:
      if (weights.size() <= 2) return {};
      return {weights.begin() + 1, weights.end() - 1};
    case LayerSelection::Named: {
      std::vector<std::size_t> chosen;
      for (const std::size_t i : weights) {
        if (std::find(names.begin(), names.end(), arrays[i].name) != names.end()) {
          chosen.push_back(i);
        }
      }
      for (const auto& name : names) {
        const bool found = std::any_of(chosen.begin(), chosen.end(),
                                       [&](std::size_t i) { return arrays[i].name == name; });
        require(found, "select_prunable: " + name + " is not a weight of rank >= 2 of the model");
      }
      return chosen;
    }
  }
  return {};
}

double GradualPruningSchedule::sparsity_at(std::int64_t step) const {
  require(frequency >= 1 && steps >= 1, "GradualPruningSchedule: frequency and steps must be >= 1");
  if (step < begin_step) return initial_sparsity;
  const std::int64_t done = std::min((step - begin_step) / frequency, steps);
  if (done == 0) return initial_sparsity;  // exactly, without rounding
  if (done == steps) return final_sparsity;
  const double left = 1.0 - static_cast<double>(done) / static_cast<double>(steps);
  return final_sparsity + (initial_sparsity - final_sparsity) * left * left * left;
}

bool GradualPruningSchedule::is_pruning_step(std::int64_t step) const {
  return step >= begin_step && step <= begin_step + steps * frequency &&
         (step - begin_step) % frequency == 0;
}

void apply_mask(std::span<float> w, std::span<const std::uint8_t> mask) {
  require(w.size() == mask.size(), "apply_mask: mask and weights differ in size");
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (mask[i] == 0) w[i] = 0.0F;
  }
}

double mask_sparsity(std::span<const std::uint8_t> mask) {
  if (mask.empty()) return 0.0;
  const auto zeros = std::count(mask.begin(), mask.end(), std::uint8_t{0});
  return static_cast<double>(zeros) / static_cast<double>(mask.size());
}

// ---- quantisation -----------------------------------------------------------------------------

UniformQuantized quantize_uniform(std::span<const float> w, unsigned bits) {
  require(bits >= 2 && bits <= 16, "quantize_uniform: bits must be in 2..16");
  require_finite(w, "quantize_uniform");
  UniformQuantized q;
  q.bits = bits;
  q.codes.resize(w.size());
  if (w.empty()) return q;
  const auto [lo, hi] = std::minmax_element(w.begin(), w.end());
  const std::uint32_t top = (1U << bits) - 1U;
  q.min = *lo;
  q.step = static_cast<float>((static_cast<double>(*hi) - *lo) / top);
  if (q.step <= 0.0F) {
    q.step = 0.0F;
    return q;
  }
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double c = std::round((static_cast<double>(w[i]) - q.min) / q.step);
    q.codes[i] = static_cast<std::uint16_t>(std::clamp(c, 0.0, static_cast<double>(top)));
  }
  return q;
}

float uniform_value(float min, float step, std::uint32_t code) {
  return min + step * static_cast<float>(code);
}

std::vector<float> dequantize(const UniformQuantized& q) {
  std::vector<float> w(q.codes.size());
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = uniform_value(q.min, q.step, q.codes[i]);
  return w;
}

std::vector<std::uint16_t> to_half(std::span<const float> w) {
  std::vector<std::uint16_t> h(w.size());
  std::transform(w.begin(), w.end(), h.begin(), float_to_half);
  return h;
}

std::vector<float> from_half(std::span<const std::uint16_t> h) {
  std::vector<float> w(h.size());
  std::transform(h.begin(), h.end(), w.begin(), half_to_float);
  return w;
}

// ---- clustering -------------------------------------------------------------------------------

Clustered cluster_weights(std::span<const float> w, const ClusterOptions& opt) {
  require(opt.clusters >= 1, "cluster_weights: needs at least one cluster");
  require_finite(w, "cluster_weights");
  Clustered out;
  out.index.resize(w.size());
  if (w.empty()) return out;
  const std::size_t n = w.size(), k = opt.clusters;
  std::vector<std::size_t> perm(n);
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  std::stable_sort(perm.begin(), perm.end(),
                   [&](std::size_t a, std::size_t b) { return w[a] < w[b]; });
  std::vector<double> s(n);
  for (std::size_t i = 0; i < n; ++i) s[i] = w[perm[i]];

  // Range ends (exclusive) in sorted order of each cluster, given sorted centroids: a value
  // below the midpoint of two neighbours goes left, at or above it right.
  const auto ends_of = [&](const std::vector<double>& c) {
    std::vector<std::size_t> e(c.size());
    for (std::size_t j = 0; j + 1 < c.size(); ++j) {
      const double mid = 0.5 * (c[j] + c[j + 1]);
      e[j] = static_cast<std::size_t>(std::lower_bound(s.begin(), s.end(), mid) - s.begin());
    }
    e.back() = n;
    return e;
  };

  std::vector<double> c;
  std::size_t distinct = 1;
  for (std::size_t i = 1; i < n; ++i) distinct += s[i] != s[i - 1] ? 1 : 0;
  if (distinct <= k) {  // exact: one centroid per distinct value
    c.push_back(s[0]);
    for (std::size_t i = 1; i < n; ++i) {
      if (s[i] != s[i - 1]) c.push_back(s[i]);
    }
  } else {
    switch (opt.init) {
      case ClusterInit::Linear:
        for (std::size_t j = 0; j < k; ++j) {
          c.push_back(k == 1 ? 0.5 * (s.front() + s.back())
                             : s.front() + (s.back() - s.front()) * static_cast<double>(j) /
                                               static_cast<double>(k - 1));
        }
        break;
      case ClusterInit::Density:
        for (std::size_t j = 0; j < k; ++j) {
          const auto at = static_cast<std::size_t>((static_cast<double>(j) + 0.5) *
                                                   static_cast<double>(n) / static_cast<double>(k));
          c.push_back(s[std::min(at, n - 1)]);
        }
        break;
      case ClusterInit::KMeansPlusPlus: {
        RandomStream rng(opt.seed);
        const auto pick =
            std::min(static_cast<std::size_t>(rng.uniform() * static_cast<double>(n)), n - 1);
        c.push_back(s[pick]);
        std::vector<double> d2(n);
        for (std::size_t i = 0; i < n; ++i) d2[i] = (s[i] - c[0]) * (s[i] - c[0]);
        while (c.size() < k) {
          const double total = std::accumulate(d2.begin(), d2.end(), 0.0);
          if (!(total > 0.0)) break;
          const double target = rng.uniform() * total;
          double run = 0.0;
          std::size_t i = 0;
          for (; i + 1 < n; ++i) {
            run += d2[i];
            if (run > target && d2[i] > 0.0) break;
          }
          while (d2[i] == 0.0 && i > 0) --i;  // rounding at the very end: a point not chosen yet
          c.push_back(s[i]);
          for (std::size_t t = 0; t < n; ++t) {
            d2[t] = std::min(d2[t], (s[t] - s[i]) * (s[t] - s[i]));
          }
        }
        break;
      }
    }
    std::sort(c.begin(), c.end());
    c.erase(std::unique(c.begin(), c.end()), c.end());
    // Lloyd iterations; each cluster is a contiguous range of the sorted values, so a mean is a
    // difference of prefix sums.
    std::vector<double> prefix(n + 1, 0.0);
    for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + s[i];
    std::vector<std::size_t> ends = ends_of(c);
    for (std::size_t it = 0; it < opt.max_iterations; ++it) {
      std::size_t begin = 0;
      for (std::size_t j = 0; j < c.size(); ++j) {
        if (ends[j] > begin) {
          c[j] = (prefix[ends[j]] - prefix[begin]) / static_cast<double>(ends[j] - begin);
        }
        begin = std::max(begin, ends[j]);
      }
      std::sort(c.begin(), c.end());
      auto next = ends_of(c);
      if (next == ends) break;
      ends = std::move(next);
    }
    // Final centroids: the means of the non-empty ranges.
    std::vector<double> means;
    std::size_t begin = 0;
    for (std::size_t j = 0; j < c.size(); ++j) {
      if (ends[j] > begin) {
        means.push_back((prefix[ends[j]] - prefix[begin]) / static_cast<double>(ends[j] - begin));
      }
      begin = std::max(begin, ends[j]);
    }
    c = std::move(means);
  }
  // Nearest-centroid assignment (by midpoints), then drop entries no weight uses (possible only
  // when Lloyd stopped at max_iterations).
  const std::vector<std::size_t> ends = ends_of(c);
  std::size_t begin = 0;
  for (std::size_t j = 0; j < c.size(); ++j) {
    if (ends[j] <= begin) continue;
    const auto id = static_cast<std::uint32_t>(out.codebook.size());
    out.codebook.push_back(static_cast<float>(c[j]));
    for (std::size_t i = begin; i < ends[j]; ++i) out.index[perm[i]] = id;
    begin = ends[j];
  }
  return out;
}

Clustered kmeans_quantize(std::span<const float> w, unsigned bits, ClusterInit init,
                          std::uint64_t seed) {
  require(bits >= 1 && bits <= 16, "kmeans_quantize: bits must be in 1..16");
  return cluster_weights(w, ClusterOptions{std::size_t{1} << bits, init, seed, 300});
}

std::vector<float> dequantize(const Clustered& c) {
  std::vector<float> w(c.index.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    require(c.index[i] < c.codebook.size(), "dequantize: cluster index out of range");
    w[i] = c.codebook[c.index[i]];
  }
  return w;
}

std::vector<float> codebook_gradient(const Clustered& c, std::span<const float> weight_grad) {
  require(weight_grad.size() == c.index.size(),
          "codebook_gradient: one gradient per weight expected");
  std::vector<double> g(c.codebook.size(), 0.0);
  for (std::size_t i = 0; i < weight_grad.size(); ++i) {
    require(c.index[i] < g.size(), "codebook_gradient: cluster index out of range");
    g[c.index[i]] += weight_grad[i];
  }
  return {g.begin(), g.end()};
}

// ---- low rank ---------------------------------------------------------------------------------

LowRankFactors factorize_low_rank(std::span<const float> w, MatrixDims dims, std::size_t rank) {
  require_matrix(w, dims, "factorize_low_rank");
  require(rank >= 1 && rank <= std::min(dims.rows, dims.cols),
          "factorize_low_rank: rank must be in 1..min(rows, cols)");
  require_finite(w, "factorize_low_rank");
  arma::mat u, v;
  arma::vec s;
  if (!arma::svd_econ(u, s, v, to_arma(w, dims))) {
    throw std::runtime_error("factorize_low_rank: SVD did not converge");
  }
  LowRankFactors f;
  f.dims = dims;
  f.rank = rank;
  f.a.resize(dims.rows * rank);
  f.b.resize(rank * dims.cols);
  for (std::size_t r = 0; r < dims.rows; ++r) {
    for (std::size_t k = 0; k < rank; ++k) f.a[r * rank + k] = static_cast<float>(u(r, k) * s(k));
  }
  for (std::size_t k = 0; k < rank; ++k) {
    for (std::size_t c = 0; c < dims.cols; ++c)
      f.b[k * dims.cols + c] = static_cast<float>(v(c, k));
  }
  f.relative_error = relative_error(w, reconstruct(f));
  return f;
}

std::vector<float> reconstruct(const LowRankFactors& f) {
  std::vector<float> w(f.dims.rows * f.dims.cols);
  for (std::size_t r = 0; r < f.dims.rows; ++r) {
    for (std::size_t c = 0; c < f.dims.cols; ++c) {
      double acc = 0.0;
      for (std::size_t k = 0; k < f.rank; ++k) {
        acc += static_cast<double>(f.a[r * f.rank + k]) * f.b[k * f.dims.cols + c];
      }
      w[r * f.dims.cols + c] = static_cast<float>(acc);
    }
  }
  return w;
}

SeparableConv separate_conv(std::span<const float> kernel, const std::vector<std::int64_t>& shape,
                            std::size_t rank) {
  require(shape.size() == 4 &&
              std::all_of(shape.begin(), shape.end(), [](std::int64_t d) { return d >= 1; }),
          "separate_conv: the kernel must have shape [out, in, kh, kw]");
  SeparableConv sc;
  sc.out = shape[0];
  sc.in = shape[1];
  sc.kh = shape[2];
  sc.kw = shape[3];
  const auto out = static_cast<std::size_t>(sc.out), in = static_cast<std::size_t>(sc.in),
             kh = static_cast<std::size_t>(sc.kh), kw = static_cast<std::size_t>(sc.kw);
  require(kernel.size() == out * in * kh * kw, "separate_conv: value count does not match shape");
  require(rank >= 1 && rank <= std::min(in * kh, out * kw),
          "separate_conv: rank must be in 1..min(in kh, out kw)");
  require_finite(kernel, "separate_conv");
  arma::mat m(in * kh, out * kw);
  for (std::size_t o = 0; o < out; ++o) {
    for (std::size_t c = 0; c < in; ++c) {
      for (std::size_t y = 0; y < kh; ++y) {
        for (std::size_t x = 0; x < kw; ++x) {
          m(c * kh + y, o * kw + x) = kernel[((o * in + c) * kh + y) * kw + x];
        }
      }
    }
  }
  arma::mat u, v;
  arma::vec s;
  if (!arma::svd_econ(u, s, v, m)) throw std::runtime_error("separate_conv: SVD did not converge");
  sc.rank = rank;
  sc.vertical.resize(rank * in * kh);
  sc.horizontal.resize(out * rank * kw);
  for (std::size_t k = 0; k < rank; ++k) {
    const double root = std::sqrt(s(k));
    for (std::size_t c = 0; c < in; ++c) {
      for (std::size_t y = 0; y < kh; ++y) {
        sc.vertical[(k * in + c) * kh + y] = static_cast<float>(root * u(c * kh + y, k));
      }
    }
    for (std::size_t o = 0; o < out; ++o) {
      for (std::size_t x = 0; x < kw; ++x) {
        sc.horizontal[(o * rank + k) * kw + x] = static_cast<float>(root * v(o * kw + x, k));
      }
    }
  }
  sc.relative_error = relative_error(kernel, reconstruct(sc));
  return sc;
}

std::vector<float> reconstruct(const SeparableConv& sc) {
  const auto out = static_cast<std::size_t>(sc.out), in = static_cast<std::size_t>(sc.in),
             kh = static_cast<std::size_t>(sc.kh), kw = static_cast<std::size_t>(sc.kw);
  std::vector<float> k(out * in * kh * kw);
  for (std::size_t o = 0; o < out; ++o) {
    for (std::size_t c = 0; c < in; ++c) {
      for (std::size_t y = 0; y < kh; ++y) {
        for (std::size_t x = 0; x < kw; ++x) {
          double acc = 0.0;
          for (std::size_t r = 0; r < sc.rank; ++r) {
            acc += static_cast<double>(sc.vertical[(r * in + c) * kh + y]) *
                   sc.horizontal[(o * sc.rank + r) * kw + x];
          }
          k[((o * in + c) * kh + y) * kw + x] = static_cast<float>(acc);
        }
      }
    }
  }
  return k;
}

std::vector<NamedArray> compose_factors(std::vector<NamedArray> arrays) {
  const auto ends_with = [](const std::string& name, std::string_view suffix) {
    return name.size() > suffix.size() &&
           std::string_view(name).substr(name.size() - suffix.size()) == suffix;
  };
  const auto find = [&](const std::string& name) {
    return std::find_if(arrays.begin(), arrays.end(),
                        [&](const NamedArray& x) { return x.name == name; });
  };
  struct Pair {
    std::string_view first, second;
  };
  constexpr Pair kPairs[] = {{kLowRankA, kLowRankB}, {kSeparableV, kSeparableH}};
  std::vector<NamedArray> out;
  for (NamedArray& a : arrays) {
    bool consumed = false;
    for (const Pair& pair : kPairs) {
      if (ends_with(a.name, pair.second)) {  // taken with its first factor
        const std::string layer = a.name.substr(0, a.name.size() - pair.second.size());
        require(find(layer + std::string(pair.first)) != arrays.end(),
                "factor '" + a.name + "' without its " + std::string(pair.first));
        consumed = true;
      } else if (ends_with(a.name, pair.first)) {
        const std::string layer = a.name.substr(0, a.name.size() - pair.first.size());
        const auto b = find(layer + std::string(pair.second));
        require(b != arrays.end(),
                "factor '" + a.name + "' without its " + std::string(pair.second));
        if (pair.first == kLowRankA) {
          require(a.shape.size() == 2 && b->shape.size() == 2 && a.shape[1] == b->shape[0] &&
                      a.shape[1] >= 1,
                  "low-rank factors of '" + layer + "' do not chain ([rows x r] times [r x cols])");
          LowRankFactors f;
          f.dims = {static_cast<std::size_t>(a.shape[0]), static_cast<std::size_t>(b->shape[1])};
          f.rank = static_cast<std::size_t>(a.shape[1]);
          f.a = a.values;
          f.b = b->values;
          out.push_back({layer, {a.shape[0], b->shape[1]}, reconstruct(f)});
        } else {
          require(a.shape.size() == 4 && b->shape.size() == 4 && a.shape[3] == 1 &&
                      b->shape[2] == 1 && a.shape[0] == b->shape[1] && a.shape[0] >= 1,
                  "separable factors of '" + layer +
                      "' do not chain ([r, in, kh, 1] then [out, r, 1, kw])");
          SeparableConv sc;
          sc.rank = static_cast<std::size_t>(a.shape[0]);
          sc.in = a.shape[1];
          sc.kh = a.shape[2];
          sc.out = b->shape[0];
          sc.kw = b->shape[3];
          sc.vertical = a.values;
          sc.horizontal = b->values;
          out.push_back({layer, {sc.out, sc.in, sc.kh, sc.kw}, reconstruct(sc)});
        }
        consumed = true;
      }
    }
    if (!consumed) out.push_back(std::move(a));
  }
  return out;
}

// ---- storage accounting -----------------------------------------------------------------------

unsigned index_bits(std::uint64_t symbols) {
  return symbols <= 1 ? 0U : static_cast<unsigned>(std::bit_width(symbols - 1));
}

std::uint64_t packed_bytes(std::uint64_t count, unsigned bits) {
  return (count * bits + 7) / 8;
}

}  // namespace linksim
