// qa_inference: the CSI autoencoder inference backends (nn_compress/inference.hpp) against
// LibTorch on the shipped CsiNet models, and the sparse / int8 kernels (nn_compress/
// sparse_kernels.hpp) against a dense double-precision reference.
//
// Tolerances:
//   fp32 backends (xnnpack, xnnpack-sparse, sparse) vs torch: codes within 1e-4 of the largest
//     |code| of their sample, reconstructions within 1e-4 of the sample's peak (max_rel);
//   int8 backends (int8, sparse-int8): reconstruction NMSE within 0.2 dB of torch's on 64
//     indoor samples;
//   fp32 kernels vs the double reference: |y - ref| <= 1e-5 (sum_j |w_rj x_j| + |bias_r|);
//   int8 kernels with quantised activations (dense GEMM, sparse SpMV): AVX2 and portable
//     bit-identical, and within float rounding of the same (dequantised) products in double;
//   one backend at batch 1, 7 and 64: the same outputs within 1e-5 (fp32) or 1e-3 (int8: batch 1
//     quantises the activations of the sparse layer, batches do not) of the sample's peak.
#define BOOST_TEST_MODULE qa_inference
#include <boost/test/unit_test.hpp>

#include <xnnpack.h>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <type_traits>

#include "nn_compress/compress.hpp"
#include "nn_compress/inference.hpp"
#include "nn_compress/inference_bench.hpp"
#include "nn_compress/nn_feedback.hpp"
#include "nn_compress/sparse_kernels.hpp"
#include "sim/cpu.hpp"

using namespace linksim;

namespace {

const std::filesystem::path kModels = LINKSIM_MODELS_DIR;

/// Random weights [rows x cols]: each entry zero with probability `sparsity`; row 0 (if
/// rows > 2) and the last row entirely zero (an empty row and a 100% sparse row).
std::vector<float> random_weights(std::size_t rows, std::size_t cols, double sparsity,
                                  std::mt19937& rng) {
  std::uniform_real_distribution<float> value(-1.0F, 1.0F);
  std::bernoulli_distribution zero(sparsity);
  std::vector<float> w(rows * cols);
  for (float& v : w) v = zero(rng) ? 0.0F : value(rng);
  if (rows > 2) {
    std::fill_n(w.begin(), cols, 0.0F);
    std::fill_n(w.end() - static_cast<std::ptrdiff_t>(cols), cols, 0.0F);
  }
  return w;
}

std::vector<float> random_vector(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> g;
  std::vector<float> v(n);
  for (float& x : v) x = g(rng);
  return v;
}

/// Checks y [batch x rows] (one sample per row, or yt [rows x batch] when `transposed`) against
/// W x + b computed in double with the dense matrix w [rows x cols].
void check_product(const std::vector<float>& w, const std::vector<float>& x,
                   const std::vector<float>& bias, const std::vector<float>& y, std::size_t rows,
                   std::size_t cols, std::size_t batch, bool transposed) {
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t r = 0; r < rows; ++r) {
      double ref = bias[r], scale = std::abs(bias[r]);
      for (std::size_t j = 0; j < cols; ++j) {
        const double xj = transposed ? x[j * batch + b] : x[b * cols + j];
        ref += static_cast<double>(w[r * cols + j]) * xj;
        scale += std::abs(w[r * cols + j] * xj);
      }
      const float got = transposed ? y[r * batch + b] : y[b * rows + r];
      BOOST_TEST(std::abs(got - ref) <= 1e-5 * scale + 1e-30,
                 "row " << r << " sample " << b << ": " << got << " vs " << ref);
    }
  }
}

struct Shape {
  std::size_t rows, cols;
};
constexpr Shape kShapes[] = {{1, 1}, {3, 7}, {5, 13}, {17, 64}, {33, 100}, {40, 257}};
constexpr double kSparsities[] = {0.0, 0.3, 0.5, 0.8, 0.95, 1.0};
constexpr std::size_t kBatches[] = {2, 7, 8, 33, 41};

/// Runs `body` once with the dispatched kernels and once with the portable ones.
template <class Body>
void both_kernels(Body&& body) {
  for (const bool portable : {false, true}) {
    force_portable_kernels(portable);
    BOOST_TEST_CONTEXT("portable " << portable) {
      body();
    }
  }
  force_portable_kernels(false);
}

template <class T, class Make>
void check_sparse(Make make) {
  std::mt19937 rng(5);
  for (const Shape s : kShapes) {
    for (const double sparsity : kSparsities) {
      BOOST_TEST_CONTEXT(s.rows << " x " << s.cols << " sparsity " << sparsity) {
        const std::vector<float> w = random_weights(s.rows, s.cols, sparsity, rng);
        const sparse::MaskedRows<T> a = make(w, s.rows, s.cols);
        const std::vector<float> dense = sparse::to_dense(a);
        const std::vector<float> bias = random_vector(s.rows, rng);
        both_kernels([&] {
          const std::vector<float> x = random_vector(s.cols, rng);
          std::vector<float> y(s.rows);
          if constexpr (std::is_same_v<T, float>) {
            sparse::spmv(a, x.data(), bias.data(), y.data(), 0, s.rows);
            check_product(dense, x, bias, y, s.rows, s.cols, 1, false);
          } else {  // quantised activations: exact against their dequantised values
            sparse::QuantisedActs acts;
            sparse::quantise_activations(x.data(), 1, s.cols, acts);
            std::vector<float> xd(s.cols);
            for (std::size_t j = 0; j < s.cols; ++j) xd[j] = acts.scale[0] * acts.q[j];
            sparse::spmv(a, acts, bias.data(), y.data(), 0, s.rows);
            check_product(dense, xd, bias, y, s.rows, s.cols, 1, false);
            std::vector<float> slow(s.rows);
            sparse::portable::spmv(a, acts, bias.data(), slow.data(), 0, s.rows);
            BOOST_TEST(y == slow);  // bit-identical
          }
          for (const std::size_t batch : kBatches) {
            const std::vector<float> xt = random_vector(s.cols * batch, rng);
            std::vector<float> yt(s.rows * batch);
            // In two row ranges, as the thread pool calls it.
            sparse::spmm(a, xt.data(), batch, bias.data(), yt.data(), 0, s.rows / 2);
            sparse::spmm(a, xt.data(), batch, bias.data(), yt.data(), s.rows / 2, s.rows);
            check_product(dense, xt, bias, yt, s.rows, s.cols, batch, true);
          }
        });
      }
    }
  }
}

/// A loaded shipped model.
CsiAutoencoder model(const char* file) {
  return CsiAutoencoder::load(kModels / file);
}

const arma::mat& samples() {
  static const arma::mat x = indoor_csi_samples(64, 3);
  return x;
}

/// Every non-Torch backend's codes and reconstructions vs torch's, batched and for batch 1.
void check_parity(const CsiAutoencoder& m) {
  const arma::mat& x = samples();
  const auto torch = make_csi_inference(m, InferenceBackend::Torch, 1);
  const arma::mat codes_torch = torch->encode(x);
  const arma::mat x_torch = torch->decode(codes_torch);
  for (const InferenceBackend b : kInferenceBackends) {
    if (b == InferenceBackend::Torch || b == InferenceBackend::Auto) continue;
    BOOST_TEST_CONTEXT(backend_name(b)) {
      const auto inf = make_csi_inference(m, b, 2);
      BOOST_TEST((inf->backend() == b));
      BOOST_TEST(inf->code_values() == m.code_values());
      const arma::mat codes = inf->encode(x);
      BOOST_REQUIRE(codes.n_rows == m.code_values() + 1);
      BOOST_TEST(arma::approx_equal(codes.row(m.code_values()), codes_torch.row(m.code_values()),
                                    "absdiff", 0.0));  // the scales, exactly
      const arma::mat x_hat = inf->decode(codes);
      const ParityError e = parity_error(x, x_hat, x_torch);
      BOOST_TEST_MESSAGE(backend_name(b) << ": max_rel " << e.max_rel << ", NMSE " << e.nmse_db
                                         << " dB (torch " << e.torch_nmse_db << " dB)");
      BOOST_TEST(parity_ok(b, e), "max_rel " << e.max_rel << ", NMSE " << e.nmse_db
                                             << " dB vs torch " << e.torch_nmse_db << " dB");
      if (!is_int8_backend(b)) {
        for (arma::uword c = 0; c < x.n_cols; ++c) {
          const arma::vec ref = codes_torch.col(c).head(m.code_values());
          const double diff =
              arma::abs(codes.col(c).head(m.code_values()) - ref).max() / arma::abs(ref).max();
          BOOST_TEST(diff <= 1e-4, "code of sample " << c << " off by " << diff);
        }
      }
      // Batch 1 and batch 7 take other kernels (SpMV, remainder tiles): same outputs.
      const arma::mat one = inf->reconstruct(x.col(5));
      const arma::mat seven = inf->reconstruct(x.cols(0, 6));
      const double tol = is_int8_backend(b) ? 1e-3 : 1e-5;
      BOOST_TEST(arma::abs(one - x_hat.col(5)).max() <= tol * arma::abs(x_hat.col(5)).max());
      BOOST_TEST(arma::abs(seven - x_hat.cols(0, 6)).max() <=
                 tol * arma::abs(x_hat.cols(0, 6)).max());
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(backend_names_round_trip) {
  for (const InferenceBackend b : kInferenceBackends) {
    BOOST_TEST((inference_backend_named(backend_name(b)) == b));
  }
  BOOST_TEST(!inference_backend_named("tensorrt").has_value());
  BOOST_TEST(inference_backend_list() ==
             "torch, xnnpack, xnnpack-sparse, int8, sparse, sparse-int8, auto");
}

BOOST_AUTO_TEST_CASE(sparse_f32_kernels_match_a_dense_reference) {
  check_sparse<float>([](const std::vector<float>& w, std::size_t r, std::size_t c) {
    const sparse::SparseF32 a = sparse::make_sparse_f32(w, r, c);
    BOOST_TEST(sparse::to_dense(a) == w);  // exact: the format loses nothing
    return a;
  });
}

BOOST_AUTO_TEST_CASE(sparse_int8_kernels_match_a_dense_reference) {
  check_sparse<std::int8_t>([](const std::vector<float>& w, std::size_t r, std::size_t c) {
    const sparse::SparseI8 a = sparse::make_sparse_i8(w, r, c);
    BOOST_TEST(sparse::to_dense(a) == dequantize(quantize_int8_rows(w, r, c)));
    return a;
  });
}

BOOST_AUTO_TEST_CASE(sparse_format_sizes) {
  std::mt19937 rng(1);
  const std::vector<float> w = random_weights(64, 2048, 0.5, rng);
  const sparse::SparseF32 a = sparse::make_sparse_f32(w, 64, 2048);
  std::size_t nonzeros = 0;
  for (const float v : w) nonzeros += v != 0.0F;
  BOOST_TEST(a.nonzeros() == nonzeros);
  BOOST_TEST(a.groups == 256U);
  // About half the dense bytes at 50%: values, 1 bit per weight of masks, row pointers.
  BOOST_TEST(a.bytes() < w.size() * sizeof(float) * 6 / 10);
  BOOST_CHECK_THROW(sparse::make_sparse_f32(w, 64, 2047), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(int8_gemm_is_bit_identical_across_kernels_and_exact) {
  std::mt19937 rng(9);
  for (const Shape s : kShapes) {
    for (const std::size_t batch : {std::size_t{1}, std::size_t{3}, std::size_t{7}}) {
      BOOST_TEST_CONTEXT(s.rows << " x " << s.cols << " batch " << batch) {
        const std::vector<float> w = random_weights(s.rows, s.cols, 0.2, rng);
        const Int8Rows q = quantize_int8_rows(w, s.rows, s.cols);
        const std::vector<float> bias = random_vector(s.rows, rng);
        std::vector<float> x = random_vector(s.cols * batch, rng);
        if (batch > 1) std::fill_n(x.begin(), s.cols, 0.0F);  // an all-zero sample
        sparse::QuantisedActs acts;
        sparse::quantise_activations(x.data(), batch, s.cols, acts);
        std::vector<float> fast(batch * s.rows), slow(batch * s.rows);
        sparse::int8_gemm(q, acts, bias.data(), fast.data(), 0, s.rows);
        sparse::portable::int8_gemm(q, acts, bias.data(), slow.data(), 0, s.rows);
        BOOST_TEST(fast == slow);
        std::vector<float> avx2(batch * s.rows);  // AVX2 where the CPU has AVX-512 VNNI too
        cap_kernels_at_avx2(true);
        sparse::int8_gemm(q, acts, bias.data(), avx2.data(), 0, s.rows);
        cap_kernels_at_avx2(false);
        BOOST_TEST(avx2 == slow);
        // The same products in double: dequantised weights times dequantised activations.
        const std::vector<float> wd = dequantize(q);
        std::vector<float> xd(x.size());
        for (std::size_t b = 0; b < batch; ++b) {
          for (std::size_t j = 0; j < s.cols; ++j) {
            xd[b * s.cols + j] = acts.scale[b] * acts.q[b * acts.stride + j];
            // Quantisation error of an activation: at most half a step.
            BOOST_TEST(std::abs(xd[b * s.cols + j] - x[b * s.cols + j]) <= 0.51F * acts.scale[b]);
          }
        }
        check_product(wd, xd, bias, fast, s.rows, s.cols, batch, false);
      }
    }
  }
}

/// w with whole 16-column blocks of each row zeroed (prune.method = blocks16x1).
std::vector<float> block_pruned(std::vector<float> w, std::size_t rows, std::size_t cols,
                                double sparsity) {
  const KeepMask keep = block_prune_mask(w, MatrixDims{rows, cols}, sparsity, 16);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (!keep[i]) w[i] = 0.0F;
  }
  return w;
}

BOOST_AUTO_TEST_CASE(block_gemv_equals_the_dense_int8_gemm_and_keeps_only_nonzero_blocks) {
  std::mt19937 rng(12);
  for (const Shape s : kShapes) {
    for (const bool blocks : {false, true}) {
      BOOST_TEST_CONTEXT(s.rows << " x " << s.cols << (blocks ? ", 16x1-pruned" : ", 20%")) {
        std::vector<float> w = random_weights(s.rows, s.cols, 0.2, rng);
        if (blocks) w = block_pruned(w, s.rows, s.cols, 0.6);
        const Int8Rows q = quantize_int8_rows(w, s.rows, s.cols);
        const sparse::BlockRowsI8 a = sparse::make_block_rows_i8(w, s.rows, s.cols);
        // Exactly the 16-column blocks holding a non-zero int8 weight are stored.
        std::size_t nonzero_blocks = 0;
        for (std::size_t r = 0; r < s.rows; ++r) {
          for (std::size_t c0 = 0; c0 < s.cols; c0 += 16) {
            bool any = false;
            for (std::size_t c = c0; c < std::min(c0 + 16, s.cols); ++c) {
              any = any || q.q[r * s.cols + c] != 0;
            }
            nonzero_blocks += any;
          }
        }
        BOOST_TEST(a.blocks() == nonzero_blocks);
        BOOST_TEST(a.values.size() == 16 * nonzero_blocks);
        const std::vector<float> bias = random_vector(s.rows, rng);
        const std::vector<float> x = random_vector(s.cols, rng);
        sparse::QuantisedActs acts;
        sparse::quantise_activations(x.data(), 1, s.cols, acts);
        std::vector<float> dense(s.rows), fast(s.rows), slow(s.rows);
        sparse::portable::int8_gemm(q, acts, bias.data(), dense.data(), 0, s.rows);
        sparse::block_gemv(a, acts, bias.data(), fast.data(), 0, s.rows);
        sparse::portable::block_gemv(a, acts, bias.data(), slow.data(), 0, s.rows);
        BOOST_TEST(fast == dense);  // the same exact int32 sums
        BOOST_TEST(slow == dense);
        cap_kernels_at_avx2(true);
        sparse::block_gemv(a, acts, bias.data(), fast.data(), 0, s.rows);
        cap_kernels_at_avx2(false);
        BOOST_TEST(fast == dense);
      }
    }
  }
  // A 16x1 block-pruned 64 x 512 matrix at 75% keeps a quarter of the blocks.
  const std::vector<float> w = block_pruned(random_weights(64, 512, 0.0, rng), 64, 512, 0.75);
  BOOST_TEST(sparse::make_block_rows_i8(w, 64, 512).blocks() == 64U * 32 / 4);
}

BOOST_AUTO_TEST_CASE(conv3x3_to2_matches_a_direct_sum) {
  std::mt19937 rng(4);
  for (const std::size_t cin : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{16}}) {
    for (const auto& [h, w] :
         {std::pair<std::size_t, std::size_t>{1, 1}, {2, 3}, {5, 7}, {32, 32}}) {
      BOOST_TEST_CONTEXT("cin " << cin << ", " << h << " x " << w) {
        const std::size_t batch = 3;
        const std::vector<float> wt = random_vector(18 * cin, rng), bias = random_vector(2, rng);
        const std::vector<float> x = random_vector(batch * h * w * cin, rng);
        const sparse::Conv3x3To2 k = sparse::make_conv3x3_to2(wt, bias, cin);
        both_kernels([&] {
          std::vector<float> y(batch * h * w * 2);
          sparse::conv3x3_to2(k, x.data(), h, w, y.data(), 0, 1);
          sparse::conv3x3_to2(k, x.data(), h, w, y.data(), 1, batch);
          for (std::size_t i = 0; i < batch; ++i) {
            for (std::size_t r = 0; r < h; ++r) {
              for (std::size_t c = 0; c < w; ++c) {
                for (std::size_t o = 0; o < 2; ++o) {
                  double ref = bias[o], scale = std::abs(bias[o]);
                  for (std::size_t kh = 0; kh < 3; ++kh) {
                    for (std::size_t kw = 0; kw < 3; ++kw) {
                      const auto rr = static_cast<std::ptrdiff_t>(r + kh) - 1;
                      const auto cc = static_cast<std::ptrdiff_t>(c + kw) - 1;
                      if (rr < 0 || cc < 0 || rr >= static_cast<std::ptrdiff_t>(h) ||
                          cc >= static_cast<std::ptrdiff_t>(w)) {
                        continue;
                      }
                      for (std::size_t ci = 0; ci < cin; ++ci) {
                        const double p =
                            static_cast<double>(wt[((o * 3 + kh) * 3 + kw) * cin + ci]) *
                            x[((i * h + static_cast<std::size_t>(rr)) * w +
                               static_cast<std::size_t>(cc)) *
                                  cin +
                              ci];
                        ref += p;
                        scale += std::abs(p);
                      }
                    }
                  }
                  const float got = y[((i * h + r) * w + c) * 2 + o];
                  BOOST_TEST(std::abs(got - ref) <= 1e-5 * scale);
                }
              }
            }
          }
        });
      }
    }
  }
  BOOST_CHECK_THROW(sparse::make_conv3x3_to2(std::vector<float>(17), std::vector<float>(2), 1),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(csinet_cr4_backends_match_torch) {
  check_parity(model("csinet_indoor_cr4.lsnn"));
}

BOOST_AUTO_TEST_CASE(csinet_cr16_backends_match_torch) {
  check_parity(model("csinet_indoor_cr16.lsnn"));
}

BOOST_AUTO_TEST_CASE(portable_kernels_give_the_same_network_outputs) {
  const CsiAutoencoder m = model("csinet_indoor_cr16.lsnn");
  const arma::mat x = samples().cols(0, 9);
  for (const InferenceBackend b :
       {InferenceBackend::Sparse, InferenceBackend::SparseInt8, InferenceBackend::Int8}) {
    BOOST_TEST_CONTEXT(backend_name(b)) {
      const auto inf = make_csi_inference(m, b, 1);
      const arma::mat fast = inf->reconstruct(x);
      force_portable_kernels(true);
      const arma::mat slow = inf->reconstruct(x);
      force_portable_kernels(false);
      // The int8 kernels are bit-identical (tested above); the convolutions and the fp32
      // kernels round differently, which int8 activations may carry over a quantisation step.
      const double tol = is_int8_backend(b) ? 1e-3 : 1e-5;
      BOOST_TEST(arma::abs(fast - slow).max() <= tol * arma::abs(slow).max());
    }
  }
}

BOOST_AUTO_TEST_CASE(pruned_model_sparse_backends_match_xnnpack_dense) {
  PostTrainingCompression post;
  post.sparsity = 0.7;
  const CsiAutoencoder m =
      post_training_compress(model("csinet_indoor_cr4.lsnn"), "csinet_indoor_cr4.lsnn", post).model;
  std::size_t zeros = 0, total = 0;
  for (const NamedArray& a : m.state()) {
    if (a.name != "encoder_fc.weight" && a.name != "decoder_fc.weight") continue;
    total += a.values.size();
    zeros += static_cast<std::size_t>(std::count(a.values.begin(), a.values.end(), 0.0F));
  }
  BOOST_TEST(static_cast<double>(zeros) / static_cast<double>(total) == 0.7,
             boost::test_tools::tolerance(1e-3));
  const arma::mat x = samples().cols(0, 19);
  const auto dense = make_csi_inference(m, InferenceBackend::Xnnpack, 1);
  const arma::mat ref = dense->reconstruct(x);
  for (const InferenceBackend b : {InferenceBackend::Sparse, InferenceBackend::XnnpackSparse}) {
    BOOST_TEST_CONTEXT(backend_name(b)) {
      const arma::mat got = make_csi_inference(m, b, 1)->reconstruct(x);
      BOOST_TEST(parity_error(x, got, ref).max_rel <= 1e-5);
    }
  }
  post.sparsity = 1.5;  // on the uncompressed model: the sparsity itself is refused
  BOOST_CHECK_THROW(
      post_training_compress(model("csinet_indoor_cr4.lsnn"), "csinet_indoor_cr4.lsnn", post),
      std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(other_architectures_run_on_torch_only) {
  const CsiAutoencoder crnet(CsiArch::CrNet, 16, 1);
  BOOST_CHECK_THROW(make_csi_inference(crnet, InferenceBackend::Xnnpack, 1), std::invalid_argument);
  BOOST_CHECK_THROW(make_csi_inference(crnet, InferenceBackend::SparseInt8, 1),
                    std::invalid_argument);
  const auto chosen = make_csi_inference(crnet, InferenceBackend::Auto, 1);
  BOOST_TEST((chosen->backend() == InferenceBackend::Torch));
  BOOST_TEST(chosen->description().find("torch") != std::string::npos);
  const arma::mat x = samples().cols(0, 1);
  BOOST_TEST(arma::approx_equal(chosen->reconstruct(x), crnet.reconstruct(x), "absdiff", 0.0));
}

BOOST_AUTO_TEST_CASE(auto_picks_a_measured_backend_that_passes_parity) {
  const CsiAutoencoder m = model("csinet_indoor_cr16.lsnn");
  const auto chosen = make_csi_inference(m, InferenceBackend::Auto, 1);
  BOOST_TEST_MESSAGE(chosen->description());
  BOOST_TEST((chosen->backend() != InferenceBackend::Auto));
  BOOST_TEST(chosen->description().find("auto: ") == 0U);
  const arma::mat& x = samples();
  const arma::mat ref = make_csi_inference(m, InferenceBackend::Torch, 1)->reconstruct(x);
  BOOST_TEST(parity_ok(chosen->backend(), parity_error(x, chosen->reconstruct(x), ref)));
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_rejected) {
  const CsiAutoencoder m = model("csinet_indoor_cr16.lsnn");
  for (const InferenceBackend b : {InferenceBackend::Xnnpack, InferenceBackend::Int8}) {
    const auto inf = make_csi_inference(m, b, 1);
    BOOST_CHECK_THROW(inf->encode(arma::mat(100, 2, arma::fill::zeros)), std::invalid_argument);
    arma::mat x = samples().cols(0, 1);
    x(3, 1) = arma::datum::nan;
    BOOST_CHECK_THROW(inf->encode(x), std::invalid_argument);
    BOOST_CHECK_THROW(inf->decode(arma::mat(m.code_values(), 1, arma::fill::zeros)),
                      std::invalid_argument);
    // The zero channel: scale 0, reconstruction exactly zero.
    const arma::mat codes = inf->encode(arma::mat(kCsiValues, 1, arma::fill::zeros));
    BOOST_TEST(codes(m.code_values(), 0) == 0.0);
    BOOST_TEST(arma::abs(inf->decode(codes)).max() == 0.0);
  }
}

BOOST_AUTO_TEST_CASE(bench_reports_every_backend) {
  InferenceBenchOptions options;
  options.prune_sparsity = 0.5;
  options.seconds = 0.0;  // the minimum number of passes
  options.threads = 1;
  options.test_samples = 16;
  options.batch = 8;
  const nlohmann::json j =
      nlohmann::json::parse(bench_csi_inference(kModels / "csinet_indoor_cr16.lsnn", options));
  BOOST_TEST(j.at("dense_zero_fraction").get<double>() == 0.5, boost::test_tools::tolerance(1e-3));
  BOOST_TEST(j.at("backends").size() == 6U);
  for (const auto& row : j.at("backends")) {
    BOOST_TEST_CONTEXT(row.at("backend").get<std::string>()) {
      BOOST_REQUIRE(!row.contains("error"));
      BOOST_TEST(row.at("latency_us").at("p50").get<double>() > 0.0);
      BOOST_TEST(row.at("latency_us").at("p99").get<double>() >=
                 row.at("latency_us").at("p50").get<double>());
      BOOST_TEST(row.at("throughput_samples_per_s").get<double>() > 0.0);
      BOOST_TEST(row.at("parity").at("within_tolerance").get<bool>());
    }
  }
  BOOST_TEST(j.at("auto").at("chosen").get<std::string>() != "auto");
}

// Not run by default: the figures for the README / reports.
//   LINKSIM_BENCH_MODEL=models/csinet_indoor_cr4.lsnn LINKSIM_BENCH_SPARSITY=0.5
//   build/tests/qa_inference --run_test=bench_report
BOOST_AUTO_TEST_CASE(bench_report, *boost::unit_test::disabled()) {
  const char* file = std::getenv("LINKSIM_BENCH_MODEL");
  const char* sparsity = std::getenv("LINKSIM_BENCH_SPARSITY");
  const char* seconds = std::getenv("LINKSIM_BENCH_SECONDS");
  std::cout << bench_csi_inference(file != nullptr ? file : kModels / "csinet_indoor_cr4.lsnn",
                                   sparsity != nullptr ? std::stod(sparsity) : 0.0,
                                   seconds != nullptr ? std::stod(seconds) : 1.0, 2)
            << '\n';
}

// Not run by default: batch-1 medians (us) of the dense-layer kernels on CsiNet CR 4's shapes at
// a few sparsities, next to XNNPACK's dense fp32 fully-connected operator.
//   build/tests/qa_inference --run_test=kernel_report
BOOST_AUTO_TEST_CASE(kernel_report, *boost::unit_test::disabled()) {
  std::mt19937 rng(1);
  const auto median_us = [](auto&& f) {
    for (int i = 0; i < 3; ++i) f();
    std::vector<double> us;
    for (int i = 0; i < 200; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      f();
      us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
  };
  BOOST_REQUIRE(xnn_initialize(nullptr) == xnn_status_success);
  for (const double sparsity : {0.0, 0.5, 0.8, 0.9}) {
    for (const Shape s : {Shape{512, 2048}, Shape{2048, 512}}) {
      const std::vector<float> w = random_weights(s.rows, s.cols, sparsity, rng);
      const sparse::SparseF32 a = sparse::make_sparse_f32(w, s.rows, s.cols);
      const sparse::SparseI8 q = sparse::make_sparse_i8(w, s.rows, s.cols);
      const Int8Rows d = quantize_int8_rows(w, s.rows, s.cols);
      const std::vector<float> x = random_vector(s.cols, rng), bias(s.rows, 0.0F);
      std::vector<float> y(s.rows);
      sparse::QuantisedActs acts;
      xnn_operator_t op = nullptr;
      BOOST_REQUIRE(xnn_create_fully_connected_nc_f32(s.cols, s.rows, s.cols, s.rows, w.data(),
                                                      bias.data(), -INFINITY, INFINITY, 0,
                                                      &op) == xnn_status_success);
      std::cout << "sparsity " << sparsity << ", " << s.rows << " x " << s.cols << ": xnnpack "
                << median_us([&] {
                     xnn_setup_fully_connected_nc_f32(op, 1, x.data(), y.data(), nullptr);
                     xnn_run_operator(op, nullptr);
                   })
                << ", sparse f32 "
                << median_us([&] { sparse::spmv(a, x.data(), bias.data(), y.data(), 0, s.rows); })
                << ", sparse int8 " << median_us([&] {
                     sparse::quantise_activations(x.data(), 1, s.cols, acts);
                     sparse::spmv(q, acts, bias.data(), y.data(), 0, s.rows);
                   })
                << ", dense int8 " << median_us([&] {
                     sparse::quantise_activations(x.data(), 1, s.cols, acts);
                     sparse::int8_gemm(d, acts, bias.data(), y.data(), 0, s.rows);
                   })
                << " us (bytes: dense fp32 " << w.size() * 4 << ", sparse f32 " << a.bytes()
                << ", sparse int8 " << q.bytes() << ")\n";
      // The same sparsity in 16x1 blocks: the block GEMV skips them.
      const std::vector<float> wb = block_pruned(w, s.rows, s.cols, sparsity);
      const sparse::BlockRowsI8 b = sparse::make_block_rows_i8(wb, s.rows, s.cols);
      const sparse::BlockRowsI8 u = sparse::make_block_rows_i8(w, s.rows, s.cols);
      std::cout << "  block int8 GEMV: unstructured " << median_us([&] {
        sparse::quantise_activations(x.data(), 1, s.cols, acts);
        sparse::block_gemv(u, acts, bias.data(), y.data(), 0, s.rows);
      }) << ", 16x1-block-pruned "
                << median_us([&] {
                     sparse::quantise_activations(x.data(), 1, s.cols, acts);
                     sparse::block_gemv(b, acts, bias.data(), y.data(), 0, s.rows);
                   })
                << " us (" << b.blocks() << " of " << s.rows * s.cols / 16 << " blocks)\n";
      xnn_delete_operator(op);
    }
  }
}
