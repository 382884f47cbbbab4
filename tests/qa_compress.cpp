// qa_compress: the compression primitives of nn_compress/compress.hpp and quantize.hpp.
// Pruning hits its sparsity exactly and prunes the smallest weights (checked by brute force);
// structured patterns (rows, 4x1 blocks, 2:4) are checked element by element; a fixed mask
// survives simulated fine-tuning; quantisers meet their error bounds for every bit width;
// k-means finds the centres of a known Gaussian mixture; SVD errors equal the tail singular
// values of matrices built with known singular values.
#define BOOST_TEST_MODULE qa_compress
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <armadillo>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "nn_compress/compress.hpp"
#include "nn_compress/distillation.hpp"
#include "nn_compress/quantize.hpp"
#include "sim/random.hpp"

using namespace linksim;

namespace {

std::vector<float> normal_weights(std::size_t n, std::uint64_t seed, double sd = 1.0) {
  RandomStream rng(seed);
  std::vector<float> w(n);
  for (auto& v : w) v = static_cast<float>(sd * rng.normal());
  return w;
}

std::size_t zeros(const KeepMask& m) {
  return static_cast<std::size_t>(std::count(m.begin(), m.end(), std::uint8_t{0}));
}

std::size_t expected_count(double s, std::size_t n) {
  return static_cast<std::size_t>(std::llround(s * static_cast<double>(n)));
}

/// max |w| over pruned entries <= min |w| over kept entries.
void check_smallest_pruned(std::span<const float> w, const KeepMask& m) {
  float max_pruned = 0.0F, min_kept = std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (m[i] == 0) {
      max_pruned = std::max(max_pruned, std::abs(w[i]));
    } else {
      min_kept = std::min(min_kept, std::abs(w[i]));
    }
  }
  BOOST_TEST(max_pruned <= min_kept);
}

/// A random matrix [rows x cols] with orthonormal columns (cols <= rows).
arma::mat orthonormal(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  RandomStream rng(seed);
  arma::mat g(rows, cols);
  for (auto& v : g) v = rng.normal();
  arma::mat q, r;
  arma::qr_econ(q, r, g);
  return q;
}

std::vector<float> row_major(const arma::mat& m) {
  std::vector<float> w(m.n_elem);
  for (std::size_t r = 0; r < m.n_rows; ++r) {
    for (std::size_t c = 0; c < m.n_cols; ++c) w[r * m.n_cols + c] = static_cast<float>(m(r, c));
  }
  return w;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(pruning)

BOOST_AUTO_TEST_CASE(magnitude_pruning_hits_the_sparsity_exactly) {
  for (const std::size_t n : {1U, 7U, 1000U, 4099U}) {
    const auto w = normal_weights(n, n);
    for (const double s : {0.0, 0.1, 0.5, 0.73, 0.9, 1.0}) {
      const KeepMask m = magnitude_prune_mask(w, s);
      BOOST_TEST(m.size() == n);
      BOOST_TEST(zeros(m) == expected_count(s, n));
      check_smallest_pruned(w, m);
    }
  }
}

BOOST_AUTO_TEST_CASE(ties_prune_the_lower_index_first) {
  const std::vector<float> w = {1, -1, 1, 1, 2, -2, 0.5F};
  BOOST_TEST(magnitude_prune_mask(w, 4.0 / 7.0) == (KeepMask{0, 0, 0, 1, 1, 1, 0}),
             boost::test_tools::per_element());
  const std::vector<float> flat(10, 3.0F);
  BOOST_TEST(magnitude_prune_mask(flat, 0.3) == (KeepMask{0, 0, 0, 1, 1, 1, 1, 1, 1, 1}),
             boost::test_tools::per_element());
  BOOST_CHECK_THROW(magnitude_prune_mask(w, 1.5), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(global_pruning_uses_one_threshold_across_layers) {
  const auto a = normal_weights(300, 1, 0.1), b = normal_weights(500, 2, 1.0),
             c = normal_weights(200, 3, 10.0);
  const std::vector<std::span<const float>> layers = {a, b, c};
  for (const double s : {0.25, 0.5, 0.8}) {
    const auto masks = global_magnitude_prune_masks(layers, s);
    BOOST_TEST_REQUIRE(masks.size() == 3U);
    BOOST_TEST(zeros(masks[0]) + zeros(masks[1]) + zeros(masks[2]) == expected_count(s, 1000));
    // One threshold: the largest pruned weight anywhere is below the smallest kept one anywhere.
    std::vector<float> all;
    KeepMask all_mask;
    for (std::size_t l = 0; l < 3; ++l) {
      all.insert(all.end(), layers[l].begin(), layers[l].end());
      all_mask.insert(all_mask.end(), masks[l].begin(), masks[l].end());
    }
    check_smallest_pruned(all, all_mask);
    // The small-scale layer loses the most.
    BOOST_TEST(mask_sparsity(masks[0]) > mask_sparsity(masks[1]));
    BOOST_TEST(mask_sparsity(masks[1]) > mask_sparsity(masks[2]));
  }
}

BOOST_AUTO_TEST_CASE(threshold_pruning_matches_a_count) {
  const auto w = normal_weights(5000, 9, 0.05);
  for (const float t : {0.01F, 0.02F, 0.05F, 0.1F}) {
    const KeepMask m = threshold_prune_mask(w, t);
    std::size_t below = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      below += std::abs(w[i]) < t ? 1 : 0;
      BOOST_TEST((m[i] == 0) == (std::abs(w[i]) < t));
    }
    BOOST_TEST(zeros(m) == below);
  }
}

BOOST_AUTO_TEST_CASE(row_pruning_removes_whole_rows_of_smallest_norm) {
  const MatrixDims d{16, 10};
  auto w = normal_weights(d.rows * d.cols, 4);
  for (std::size_t c = 0; c < d.cols; ++c) w[5 * d.cols + c] *= 0.01F;  // row 5 is the weakest
  for (const double s : {0.25, 0.5}) {
    const KeepMask m = row_prune_mask(w, d, s);
    std::vector<double> norm(d.rows, 0.0);
    std::vector<int> pruned(d.rows, 0);
    for (std::size_t r = 0; r < d.rows; ++r) {
      std::size_t z = 0;
      for (std::size_t c = 0; c < d.cols; ++c) {
        norm[r] += static_cast<double>(w[r * d.cols + c]) * w[r * d.cols + c];
        z += m[r * d.cols + c] == 0 ? 1 : 0;
      }
      BOOST_TEST((z == 0 || z == d.cols));  // all or nothing
      pruned[r] = z == d.cols ? 1 : 0;
    }
    BOOST_TEST(std::accumulate(pruned.begin(), pruned.end(), 0) ==
               static_cast<int>(expected_count(s, d.rows)));
    BOOST_TEST(pruned[5] == 1);
    double max_pruned = 0.0, min_kept = 1e300;
    for (std::size_t r = 0; r < d.rows; ++r) {
      if (pruned[r] != 0) {
        max_pruned = std::max(max_pruned, norm[r]);
      } else {
        min_kept = std::min(min_kept, norm[r]);
      }
    }
    BOOST_TEST(max_pruned <= min_kept);
  }
}

BOOST_AUTO_TEST_CASE(block_pruning_is_all_or_nothing_per_block) {
  // 4x1 blocks (blocks4x1) and 16x1 (blocks16x1); each row ends in a shorter block.
  for (const std::size_t block : {std::size_t{4}, std::size_t{16}}) {
    const MatrixDims d{8, 2 * block + 2};
    const std::size_t blocks = d.rows * 3;
    const auto w = normal_weights(d.rows * d.cols, 5);
    for (const double s : {0.5, 0.75}) {
      BOOST_TEST_CONTEXT("block " << block << ", sparsity " << s) {
        const KeepMask m = block_prune_mask(w, d, s, block);
        std::size_t pruned_blocks = 0;
        double max_pruned = 0.0, min_kept = 1e300;
        for (std::size_t r = 0; r < d.rows; ++r) {
          for (std::size_t c0 = 0; c0 < d.cols; c0 += block) {
            std::size_t z = 0, len = 0;
            double norm = 0.0;
            for (std::size_t c = c0; c < std::min(c0 + block, d.cols); ++c, ++len) {
              z += m[r * d.cols + c] == 0 ? 1 : 0;
              norm += static_cast<double>(w[r * d.cols + c]) * w[r * d.cols + c];
            }
            BOOST_TEST((z == 0 || z == len));
            if (z == len) {
              ++pruned_blocks;
              max_pruned = std::max(max_pruned, norm);
            } else {
              min_kept = std::min(min_kept, norm);
            }
          }
        }
        BOOST_TEST(pruned_blocks == expected_count(s, blocks));
        BOOST_TEST(max_pruned <= min_kept);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(two_of_four_keeps_the_two_largest_of_every_group) {
  for (const std::size_t cols : {16U, 18U}) {  // 18: a last partial group of 2, kept whole
    const MatrixDims d{8, cols};
    const auto w = normal_weights(d.rows * d.cols, cols);
    const KeepMask m = n_of_m_prune_mask(w, d, 2, 4);
    for (std::size_t r = 0; r < d.rows; ++r) {
      for (std::size_t c0 = 0; c0 < cols; c0 += 4) {
        const std::size_t len = std::min<std::size_t>(4, cols - c0);
        std::size_t kept = 0;
        for (std::size_t c = c0; c < c0 + len; ++c) {
          kept += m[r * cols + c];
          // A kept weight is at least as large as every pruned one of its group.
          for (std::size_t o = c0; o < c0 + len; ++o) {
            if (m[r * cols + c] == 1 && m[r * cols + o] == 0) {
              BOOST_TEST(std::abs(w[r * cols + c]) >= std::abs(w[r * cols + o]));
            }
          }
        }
        BOOST_TEST(kept == std::min<std::size_t>(2, len));
      }
    }
    if (cols == 16) BOOST_TEST(mask_sparsity(m) == 0.5);
  }
}

BOOST_AUTO_TEST_CASE(layer_selection_spares_biases_batchnorm_and_first_last) {
  const auto arr = [](const std::string& name, std::vector<std::int64_t> shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return NamedArray{name, shape, std::vector<float>(static_cast<std::size_t>(n), 1.0F)};
  };
  const std::vector<NamedArray> model = {
      arr("encoder_conv.conv.weight", {2, 2, 3, 3}),
      arr("encoder_conv.conv.bias", {2}),
      arr("encoder_conv.bn.weight", {2}),
      arr("encoder_fc.weight", {8, 32}),
      arr("encoder_fc.bias", {8}),
      arr("decoder_fc.weight", {32, 8}),
      arr("refine.conv.weight", {8, 2, 3, 3}),
      arr("decoder_conv.weight", {2, 2, 3, 3}),
      arr("encoder_conv.bn.running_mean", {2}),
      arr("encoder_conv.bn.num_batches_tracked", {}),
  };
  BOOST_TEST(select_prunable(model, LayerSelection::AllWeights) ==
                 (std::vector<std::size_t>{0, 3, 5, 6, 7}),
             boost::test_tools::per_element());
  BOOST_TEST(select_prunable(model, LayerSelection::AllExceptFirstAndLast) ==
                 (std::vector<std::size_t>{3, 5, 6}),
             boost::test_tools::per_element());
  BOOST_TEST(
      select_prunable(model, LayerSelection::Named, {"decoder_fc.weight", "encoder_fc.weight"}) ==
          (std::vector<std::size_t>{3, 5}),
      boost::test_tools::per_element());
  BOOST_CHECK_THROW(select_prunable(model, LayerSelection::Named, {"encoder_fc.bias"}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(select_prunable(model, LayerSelection::Named, {"nope"}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(gradual_schedule_follows_the_cubic) {
  const GradualPruningSchedule g{0.1, 0.9, 1000, 50, 20};  // ends at step 2000
  BOOST_TEST(g.sparsity_at(0) == 0.1);
  BOOST_TEST(g.sparsity_at(1000) == 0.1);
  BOOST_TEST(g.sparsity_at(2000) == 0.9, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(g.sparsity_at(99999) == 0.9, boost::test_tools::tolerance(1e-12));
  // Half way (step 1500 = 10 of 20 pruning steps): s_f + (s_i - s_f) / 8.
  BOOST_TEST(g.sparsity_at(1500) == 0.9 - 0.8 / 8.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(g.sparsity_at(1549) == g.sparsity_at(1500));  // constant between pruning steps
  double last = 0.0;
  for (std::int64_t t = 0; t <= 2100; t += 7) {
    BOOST_TEST(g.sparsity_at(t) >= last);
    last = g.sparsity_at(t);
  }
  BOOST_TEST(g.is_pruning_step(1000));
  BOOST_TEST(g.is_pruning_step(1050));
  BOOST_TEST(g.is_pruning_step(2000));
  BOOST_TEST(!g.is_pruning_step(1051));
  BOOST_TEST(!g.is_pruning_step(2050));
  BOOST_TEST(!g.is_pruning_step(950));
}

BOOST_AUTO_TEST_CASE(fixed_mask_survives_fine_tuning_steps) {
  auto w = normal_weights(2048, 11);
  const KeepMask m = magnitude_prune_mask(w, 0.5);
  apply_mask(w, m);
  RandomStream rng(12);
  for (int step = 0; step < 10; ++step) {
    std::vector<float> before = w;
    for (auto& v : w) v -= static_cast<float>(0.01 * rng.normal());  // a "gradient step"
    std::vector<float> stepped = w;
    apply_mask(w, m);
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (m[i] == 0) {
        BOOST_TEST(w[i] == 0.0F);
      } else {
        BOOST_TEST(w[i] == stepped[i]);
      }
    }
    BOOST_TEST(std::count(w.begin(), w.end(), 0.0F) == 1024);
  }
  std::vector<float> short_w(3);
  BOOST_CHECK_THROW(apply_mask(short_w, m), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(quantisation)

BOOST_AUTO_TEST_CASE(uniform_error_within_half_a_step_for_every_width) {
  const auto w = normal_weights(3000, 21, 0.2);
  const auto [lo, hi] = std::minmax_element(w.begin(), w.end());
  for (unsigned k = 2; k <= 16; ++k) {
    const UniformQuantized q = quantize_uniform(w, k);
    const double step = (static_cast<double>(*hi) - *lo) / ((1U << k) - 1U);
    BOOST_TEST(q.step == step, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(q.min == *lo);
    const auto deq = dequantize(q);
    double worst = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      BOOST_TEST(q.codes[i] < (1U << k));
      worst = std::max(worst, std::abs(static_cast<double>(deq[i]) - w[i]));
    }
    BOOST_TEST(worst <= step / 2 + 1e-6 * (*hi - *lo), "k=" << k << " error " << worst);
    BOOST_TEST(*std::max_element(q.codes.begin(), q.codes.end()) == (1U << k) - 1U);
    BOOST_TEST(*std::min_element(q.codes.begin(), q.codes.end()) == 0U);
  }
  const std::vector<float> flat(5, -0.25F);
  const auto q = quantize_uniform(flat, 4);
  BOOST_TEST(dequantize(q) == flat, boost::test_tools::per_element());
  BOOST_CHECK_THROW(quantize_uniform(w, 1), std::invalid_argument);
  BOOST_CHECK_THROW(quantize_uniform(w, 17), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(int8_rows_error_within_half_a_scale) {
  const std::size_t rows = 12, cols = 37;
  auto w = normal_weights(rows * cols, 22);
  for (std::size_t c = 0; c < cols; ++c) w[3 * cols + c] *= 100.0F;  // rows of different range
  for (std::size_t c = 0; c < cols; ++c) w[7 * cols + c] = 0.0F;     // an all-zero row
  const Int8Rows q = quantize_int8_rows(w, rows, cols);
  const auto deq = dequantize(q);
  for (std::size_t r = 0; r < rows; ++r) {
    float peak = 0.0F;
    for (std::size_t c = 0; c < cols; ++c) peak = std::max(peak, std::abs(w[r * cols + c]));
    BOOST_TEST(q.scale[r] == (peak > 0 ? peak / 127.0F : 1.0F));
    for (std::size_t c = 0; c < cols; ++c) {
      BOOST_TEST(std::abs(deq[r * cols + c] - w[r * cols + c]) <= q.scale[r] * 0.5F * 1.0001F);
      BOOST_TEST(std::abs(q.q[r * cols + c]) <= 127);
    }
  }
}

BOOST_AUTO_TEST_CASE(half_round_trip_exact_on_representable_values) {
  std::vector<float> exact = {0.0F,
                              -0.0F,
                              1.0F,
                              -2.5F,
                              65504.0F,
                              -65504.0F,
                              0.333251953125F,
                              std::ldexp(1.0F, -14),
                              std::ldexp(1.0F, -24),
                              std::ldexp(3.0F, -24),
                              1025.0F,
                              0.1000976562F};
  for (int m = -1023; m <= 1023; m += 17) exact.push_back(std::ldexp(static_cast<float>(m), -10));
  const auto back = from_half(to_half(exact));
  for (std::size_t i = 0; i < exact.size(); ++i) {
    BOOST_TEST(std::bit_cast<std::uint32_t>(back[i]) == std::bit_cast<std::uint32_t>(exact[i]));
  }
  // Normal range: relative error <= 2^-11 (half an ulp of an 11-bit significand).
  const auto w = normal_weights(20000, 23, 100.0);
  const auto r = from_half(to_half(w));
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (std::abs(w[i]) >= std::ldexp(1.0F, -14)) {
      BOOST_TEST(std::abs(r[i] - w[i]) <= std::ldexp(std::abs(w[i]), -11));
    }
  }
  BOOST_TEST(std::isinf(from_half(to_half(std::vector<float>{70000.0F}))[0]));
}

BOOST_AUTO_TEST_CASE(kmeans_quantisation_beats_the_uniform_grid) {
  // Linear init = the uniform grid; Lloyd never increases the error, so the trained codebook's
  // MSE is at most the uniform quantiser's at the same width.
  const auto w = normal_weights(4000, 24, 0.1);
  for (unsigned b = 3; b <= 7; ++b) {
    const Clustered c = kmeans_quantize(w, b);
    BOOST_TEST(c.codebook.size() <= (std::size_t{1} << b));
    const auto kq = dequantize(c);
    const auto uq = dequantize(quantize_uniform(w, b));
    double ke = 0.0, ue = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      BOOST_TEST(c.index[i] < c.codebook.size());
      ke += std::pow(static_cast<double>(kq[i]) - w[i], 2);
      ue += std::pow(static_cast<double>(uq[i]) - w[i], 2);
    }
    BOOST_TEST(ke <= ue * 1.0001, "bits " << b << ": k-means " << ke << " uniform " << ue);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(clustering)

BOOST_AUTO_TEST_CASE(finds_the_centres_of_a_gaussian_mixture) {
  const std::vector<double> centres = {-3.0, -0.5, 1.0, 4.0};
  RandomStream rng(31);
  std::vector<float> w;
  std::vector<std::size_t> component;
  for (std::size_t i = 0; i < 2000; ++i) {  // interleaved components, 500 each
    const std::size_t c = i % 4;
    w.push_back(static_cast<float>(centres[c] + 0.05 * rng.normal()));
    component.push_back(c);
  }
  for (const ClusterInit init :
       {ClusterInit::KMeansPlusPlus, ClusterInit::Linear, ClusterInit::Density}) {
    for (const std::uint64_t seed : {1U, 2U, 3U, 4U, 5U}) {
      const Clustered c = cluster_weights(w, ClusterOptions{4, init, seed, 300});
      BOOST_TEST_REQUIRE(c.codebook.size() == 4U);
      for (std::size_t j = 0; j < 4; ++j) {
        // The mean of 500 samples of sd 0.05 is within 5 * 0.05 / sqrt(500) = 0.011.
        BOOST_TEST(std::abs(c.codebook[j] - centres[j]) < 0.012,
                   "init " << static_cast<int>(init) << " seed " << seed);
      }
      for (std::size_t i = 0; i < w.size(); ++i) BOOST_TEST(c.index[i] == component[i]);
    }
  }
}

BOOST_AUTO_TEST_CASE(lloyd_fixed_point_on_random_weights) {
  // At convergence each centroid is the mean of its members and each weight sits with its
  // nearest centroid.
  const auto w = normal_weights(3000, 32, 0.05);
  for (const ClusterInit init :
       {ClusterInit::KMeansPlusPlus, ClusterInit::Linear, ClusterInit::Density}) {
    const Clustered c = cluster_weights(w, ClusterOptions{32, init, 7, 1000});
    BOOST_TEST(c.codebook.size() <= 32U);
    BOOST_TEST(c.codebook.size() >= 24U);
    BOOST_TEST(std::is_sorted(c.codebook.begin(), c.codebook.end()));
    std::vector<double> sum(c.codebook.size(), 0.0);
    std::vector<std::size_t> count(c.codebook.size(), 0);
    for (std::size_t i = 0; i < w.size(); ++i) {
      sum[c.index[i]] += w[i];
      ++count[c.index[i]];
      double best = 1e300;
      for (const float v : c.codebook)
        best = std::min(best, std::abs(static_cast<double>(v) - w[i]));
      BOOST_TEST(std::abs(static_cast<double>(c.codebook[c.index[i]]) - w[i]) <= best + 1e-7);
    }
    for (std::size_t j = 0; j < c.codebook.size(); ++j) {
      BOOST_TEST(count[j] > 0U);
      BOOST_TEST(c.codebook[j] == sum[j] / static_cast<double>(count[j]),
                 boost::test_tools::tolerance(1e-5));
    }
    // Deterministic.
    const Clustered again = cluster_weights(w, ClusterOptions{32, init, 7, 1000});
    BOOST_TEST(again.codebook == c.codebook, boost::test_tools::per_element());
    BOOST_TEST(again.index == c.index, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(few_distinct_values_are_kept_exactly) {
  const std::vector<float> w = {3.0F, 1.0F, 2.0F, 1.0F};
  const Clustered c = cluster_weights(w);  // n < k = 32
  BOOST_TEST(c.codebook == (std::vector<float>{1.0F, 2.0F, 3.0F}),
             boost::test_tools::per_element());
  BOOST_TEST(dequantize(c) == w, boost::test_tools::per_element());
  const std::vector<float> flat(100, 0.7F);
  const Clustered f = cluster_weights(flat, ClusterOptions{4, ClusterInit::Linear, 1, 300});
  BOOST_TEST(f.codebook.size() == 1U);
  BOOST_TEST(dequantize(f) == flat, boost::test_tools::per_element());
  BOOST_TEST(cluster_weights(std::vector<float>{}).codebook.empty());
  BOOST_CHECK_THROW(cluster_weights(w, ClusterOptions{0}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(codebook_gradient_sums_the_shared_weights) {
  Clustered c;
  c.codebook = {-1.0F, 0.0F, 2.0F};
  c.index = {2, 0, 2, 1, 0, 2};
  const std::vector<float> g = {0.5F, 1.0F, -0.25F, 3.0F, 2.0F, 1.0F};
  BOOST_TEST(codebook_gradient(c, g) == (std::vector<float>{3.0F, 3.0F, 1.25F}),
             boost::test_tools::per_element());
  BOOST_CHECK_THROW(codebook_gradient(c, std::vector<float>(2)), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(low_rank)

BOOST_AUTO_TEST_CASE(svd_error_equals_the_tail_singular_values) {
  const std::size_t rows = 24, cols = 16;
  arma::vec s(cols);
  for (std::size_t i = 0; i < cols; ++i) s(i) = std::pow(0.7, static_cast<double>(i)) * 3.0;
  const arma::mat w =
      orthonormal(rows, cols, 41) * arma::diagmat(s) * orthonormal(cols, cols, 42).t();
  const auto wf = row_major(w);
  const double total = arma::accu(arma::square(s));
  for (std::size_t r = 1; r <= cols; ++r) {
    const LowRankFactors f = factorize_low_rank(wf, {rows, cols}, r);
    BOOST_TEST(f.a.size() == rows * r);
    BOOST_TEST(f.b.size() == r * cols);
    const double tail =
        r < cols ? std::sqrt(arma::accu(arma::square(s.subvec(r, cols - 1))) / total) : 0.0;
    if (r == cols) {
      BOOST_TEST(f.relative_error < 1e-5);
      const auto back = reconstruct(f);
      for (std::size_t i = 0; i < wf.size(); ++i) BOOST_TEST(std::abs(back[i] - wf[i]) < 1e-5);
    } else {
      BOOST_TEST(f.relative_error == tail, boost::test_tools::tolerance(1e-4));
    }
  }
  BOOST_CHECK_THROW(factorize_low_rank(wf, {rows, cols}, 17), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(factor_pairs_compose_back_into_their_layer) {
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};  // [3 x 2]
  const std::vector<float> b = {1, 0, -1, 2};       // [2 x 2]
  std::vector<NamedArray> arrays = {{"bias", {2}, {7, 8}},
                                    {"fc.weight.lowrank_a", {3, 2}, a},
                                    {"fc.weight.lowrank_b", {2, 2}, b},
                                    {"other", {1}, {9}}};
  const std::vector<NamedArray> out = compose_factors(arrays);
  BOOST_TEST_REQUIRE(out.size() == 3U);
  BOOST_TEST(out[1].name == "fc.weight");
  BOOST_TEST((out[1].shape == std::vector<std::int64_t>{3, 2}));
  // [1 2; 3 4; 5 6] [1 0; -1 2] = [-1 4; -1 8; -1 12]
  BOOST_TEST((out[1].values == std::vector<float>{-1, 4, -1, 8, -1, 12}));
  BOOST_TEST(out[2].name == "other");
  std::vector<NamedArray> lonely = {arrays[1]};
  BOOST_CHECK_THROW(compose_factors(lonely), std::invalid_argument);
  lonely = {arrays[2]};
  BOOST_CHECK_THROW(compose_factors(lonely), std::invalid_argument);
  std::vector<NamedArray> mismatched = {arrays[1], {"fc.weight.lowrank_b", {3, 2}, {}}};
  BOOST_CHECK_THROW(compose_factors(mismatched), std::invalid_argument);
  // A separable pair: V [r, in, kh, 1], H [out, r, 1, kw] -> the kernel of reconstruct().
  SeparableConv sc;
  sc.out = 2;
  sc.in = 1;
  sc.kh = 2;
  sc.kw = 3;
  sc.rank = 1;
  sc.vertical = {1, -2};
  sc.horizontal = {1, 2, 3, 0.5F, 0, -1};
  const std::vector<NamedArray> kernel =
      compose_factors({{"conv.weight.separable_v", {1, 1, 2, 1}, sc.vertical},
                       {"conv.weight.separable_h", {2, 1, 1, 3}, sc.horizontal}});
  BOOST_TEST_REQUIRE(kernel.size() == 1U);
  BOOST_TEST((kernel[0].shape == std::vector<std::int64_t>{2, 1, 2, 3}));
  BOOST_TEST((kernel[0].values == reconstruct(sc)));
  // K[0, 0, 1, :] = V[0, 0, 1] H[0, 0, :] = -2 (1, 2, 3)
  BOOST_TEST(kernel[0].values[3] == -2.0F);
  BOOST_CHECK_THROW(compose_factors({{"conv.weight.separable_v", {1, 1, 2, 1}, sc.vertical},
                                     {"conv.weight.separable_h", {2, 2, 1, 3}, {}}}),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(separable_conv_is_exact_on_a_rank_two_kernel) {
  // K[o,c,y,x] = sum_{k<2} V[k,c,y] H[o,k,x]: exactly two vertical-then-horizontal paths.
  const std::int64_t out = 4, in = 3, kh = 3, kw = 5;
  const auto v = normal_weights(2 * in * kh, 51), h = normal_weights(out * 2 * kw, 52);
  std::vector<float> k(static_cast<std::size_t>(out * in * kh * kw));
  for (std::int64_t o = 0; o < out; ++o) {
    for (std::int64_t c = 0; c < in; ++c) {
      for (std::int64_t y = 0; y < kh; ++y) {
        for (std::int64_t x = 0; x < kw; ++x) {
          double acc = 0.0;
          for (std::int64_t r = 0; r < 2; ++r) {
            acc += static_cast<double>(v[static_cast<std::size_t>((r * in + c) * kh + y)]) *
                   h[static_cast<std::size_t>((o * 2 + r) * kw + x)];
          }
          k[static_cast<std::size_t>(((o * in + c) * kh + y) * kw + x)] = static_cast<float>(acc);
        }
      }
    }
  }
  const std::vector<std::int64_t> shape = {out, in, kh, kw};
  const SeparableConv two = separate_conv(k, shape, 2);
  BOOST_TEST(two.relative_error < 1e-5);
  BOOST_TEST(two.vertical.size() == static_cast<std::size_t>(2 * in * kh));
  BOOST_TEST(two.horizontal.size() == static_cast<std::size_t>(out * 2 * kw));
  BOOST_TEST(separate_conv(k, shape, 1).relative_error > 1e-2);

  // Applying the two convolutions ("valid", stride 1) to an image equals applying K.
  const std::int64_t H = 7, W = 9;
  const auto img = normal_weights(static_cast<std::size_t>(in * H * W), 53);
  const auto at = [&](std::int64_t c, std::int64_t y, std::int64_t x) {
    return static_cast<double>(img[static_cast<std::size_t>((c * H + y) * W + x)]);
  };
  double worst = 0.0;
  for (std::int64_t o = 0; o < out; ++o) {
    for (std::int64_t y0 = 0; y0 + kh <= H; ++y0) {
      for (std::int64_t x0 = 0; x0 + kw <= W; ++x0) {
        double direct = 0.0, separable = 0.0;
        for (std::int64_t c = 0; c < in; ++c) {
          for (std::int64_t y = 0; y < kh; ++y) {
            for (std::int64_t x = 0; x < kw; ++x) {
              direct += k[static_cast<std::size_t>(((o * in + c) * kh + y) * kw + x)] *
                        at(c, y0 + y, x0 + x);
            }
          }
        }
        for (std::int64_t r = 0; r < 2; ++r) {
          for (std::int64_t x = 0; x < kw; ++x) {
            double mid = 0.0;  // vertical conv output, channel r, at (y0, x0 + x)
            for (std::int64_t c = 0; c < in; ++c) {
              for (std::int64_t y = 0; y < kh; ++y) {
                mid += two.vertical[static_cast<std::size_t>((r * in + c) * kh + y)] *
                       at(c, y0 + y, x0 + x);
              }
            }
            separable += two.horizontal[static_cast<std::size_t>((o * 2 + r) * kw + x)] * mid;
          }
        }
        worst = std::max(worst, std::abs(direct - separable));
      }
    }
  }
  BOOST_TEST(worst < 1e-4);
  // Full rank min(in kh, out kw) = 9 reproduces any kernel.
  const auto any = normal_weights(k.size(), 54);
  BOOST_TEST(separate_conv(any, shape, 9).relative_error < 1e-5);
  BOOST_CHECK_THROW(separate_conv(any, shape, 10), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(storage_accounting) {
  BOOST_TEST(index_bits(0) == 0U);
  BOOST_TEST(index_bits(1) == 0U);
  BOOST_TEST(index_bits(2) == 1U);
  BOOST_TEST(index_bits(3) == 2U);
  BOOST_TEST(index_bits(32) == 5U);
  BOOST_TEST(index_bits(33) == 6U);
  BOOST_TEST(index_bits(65536) == 16U);
  BOOST_TEST(packed_bytes(10, 5) == 7U);
  BOOST_TEST(packed_bytes(8, 1) == 1U);
  BOOST_TEST(packed_bytes(9, 1) == 2U);
  BOOST_TEST(packed_bytes(100, 0) == 0U);
  BOOST_TEST(matrix_dims({64, 2048}).rows == 64U);
  BOOST_TEST(matrix_dims({8, 2, 3, 3}).cols == 18U);
  BOOST_TEST(matrix_dims({5}).rows == 1U);
  BOOST_TEST(matrix_dims({}).cols == 1U);
}

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(distillation)

BOOST_AUTO_TEST_CASE(classifier_distillation_loss_and_gradient) {
  const arma::mat s = {{1.0, -0.5, 0.2}, {0.3, 2.0, -1.0}, {-1.2, 0.1, 0.4}, {0.0, 0.7, 1.5}};
  const arma::mat t = {{2.0, 0.0, -0.3}, {0.1, 1.0, 0.2}, {-0.5, 0.3, 0.1}, {0.4, -0.2, 2.0}};
  const arma::uvec y = {0, 1, 3};
  // alpha = 0: the mean cross-entropy, -log softmax(s)[y].
  double ce = 0;
  for (arma::uword n = 0; n < 3; ++n) {
    ce -= s(y(n), n) - std::log(arma::accu(arma::exp(s.col(n))));
  }
  BOOST_TEST(distillation_loss(s, t, y, 3.0, 0.0).loss == ce / 3,
             boost::test_tools::tolerance(1e-12));
  // alpha = 1 and the teacher's own logits: KL = 0, gradient 0.
  const DistillationLoss same = distillation_loss(t, t, y, 2.0, 1.0);
  BOOST_TEST(std::abs(same.loss) < 1e-12);
  BOOST_TEST(arma::abs(same.grad).max() < 1e-12);
  // The gradient against central differences, mixed loss.
  const double temperature = 2.5, alpha = 0.7;
  const DistillationLoss l = distillation_loss(s, t, y, temperature, alpha);
  double worst = 0;
  for (arma::uword i = 0; i < s.n_elem; ++i) {
    arma::mat up = s, down = s;
    up(i) += 1e-6;
    down(i) -= 1e-6;
    const double numeric = (distillation_loss(up, t, y, temperature, alpha).loss -
                            distillation_loss(down, t, y, temperature, alpha).loss) /
                           2e-6;
    worst = std::max(worst, std::abs(numeric - l.grad(i)));
  }
  BOOST_TEST(worst < 1e-7);
  // Each column of the gradient sums to zero (softmax differences).
  BOOST_TEST(arma::abs(arma::sum(l.grad, 0)).max() < 1e-12);
  BOOST_CHECK_THROW(distillation_loss(s, t, arma::uvec{0, 1, 4}, 1.0, 0.5), std::invalid_argument);
  BOOST_CHECK_THROW(distillation_loss(s, t, y, 0.0, 0.5), std::invalid_argument);
  BOOST_CHECK_THROW(distillation_loss(s, t, y, 1.0, 1.5), std::invalid_argument);
  BOOST_CHECK_THROW(distillation_loss(s, t.cols(0, 1), y, 1.0, 0.5), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
