#include "nn_compress/csinet_engine.hpp"

#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "nn_compress/sparse_kernels.hpp"

namespace linksim::detail {
namespace {

constexpr float kSlope = 0.3F;         // LeakyReLU slope of csi_nets.cpp
constexpr std::size_t kPixels = 1024;  // 32 x 32
constexpr std::size_t kSide = 32;
constexpr std::size_t kChunk = 256;        // samples per pass (bounds the activation buffers)
constexpr std::size_t kParallelBatch = 8;  // smaller chunks run on the calling thread only
constexpr float kInf = std::numeric_limits<float>::infinity();

struct OpDeleter {
  void operator()(xnn_operator_t op) const { xnn_delete_operator(op); }
};
using Op = std::unique_ptr<xnn_operator, OpDeleter>;

struct PoolDeleter {
  void operator()(pthreadpool_t p) const { pthreadpool_destroy(p); }
};
using Pool = std::unique_ptr<pthreadpool, PoolDeleter>;

void check(xnn_status status, const std::string& what) {
  if (status != xnn_status_success) {
    throw std::runtime_error("XNNPACK: " + what + " failed (status " +
                             std::to_string(static_cast<int>(status)) + ")");
  }
}

/// The arrays of a model by name.
class Arrays {
 public:
  explicit Arrays(const CsiAutoencoder& model) {
    for (NamedArray& a : model.state()) by_name_.emplace(a.name, std::move(a));
  }
  const std::vector<float>& operator[](const std::string& name) const {
    const auto it = by_name_.find(name);
    if (it == by_name_.end()) {
      throw std::invalid_argument("CsiNet engine: the model has no array '" + name + "'");
    }
    return it->second.values;
  }

 private:
  std::map<std::string, NamedArray> by_name_;
};

/// A 3x3 convolution with its BatchNorm folded: weights OHWI (XNNPACK's NHWC layout), bias [O].
struct Conv {
  std::size_t in = 0, out = 0;
  std::vector<float> w, b;
};

/// `prefix`.weight [O, I, 3, 3] (PyTorch OIHW) and .bias, then the BatchNorm `bn` (if not
/// empty): w' = w g / sqrt(var + eps), b' = (b - mean) g / sqrt(var + eps) + beta.
Conv folded_conv(const Arrays& arrays, const std::string& conv, const std::string& bn,
                 std::size_t in, std::size_t out, double eps) {
  const std::vector<float>& w = arrays[conv + ".weight"];
  const std::vector<float>& b = arrays[conv + ".bias"];
  if (w.size() != out * in * 9 || b.size() != out) {
    throw std::invalid_argument("CsiNet engine: '" + conv + "' has an unexpected shape");
  }
  Conv c;
  c.in = in;
  c.out = out;
  c.w.resize(w.size());
  c.b.resize(out);
  for (std::size_t o = 0; o < out; ++o) {
    double gain = 1.0, shift = b[o];
    if (!bn.empty()) {
      gain = arrays[bn + ".weight"][o] / std::sqrt(arrays[bn + ".running_var"][o] + eps);
      shift = (b[o] - arrays[bn + ".running_mean"][o]) * gain + arrays[bn + ".bias"][o];
    }
    c.b[o] = static_cast<float>(shift);
    for (std::size_t i = 0; i < in; ++i) {
      for (std::size_t k = 0; k < 9; ++k) {
        c.w[(o * 9 + k) * in + i] = static_cast<float>(w[(o * in + i) * 9 + k] * gain);
      }
    }
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Dense layers: x [batch x in] -> y [batch x out], one sample per row.

class DenseLayer {
 public:
  virtual ~DenseLayer() = default;
  virtual void run(const float* x, float* y, std::size_t batch, pthreadpool_t pool) = 0;
};

void transpose(const float* a, std::size_t rows, std::size_t cols, float* t) {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  }
}

class XnnDense final : public DenseLayer {
 public:
  XnnDense(const std::vector<float>& w, const std::vector<float>& b, std::size_t in,
           std::size_t out) {
    xnn_operator_t op = nullptr;
    check(xnn_create_fully_connected_nc_f32(in, out, in, out, w.data(), b.data(), -kInf, kInf, 0,
                                            &op),
          "fully_connected_nc_f32 " + std::to_string(in) + "->" + std::to_string(out));
    op_.reset(op);
  }
  void run(const float* x, float* y, std::size_t batch, pthreadpool_t pool) override {
    check(xnn_setup_fully_connected_nc_f32(op_.get(), batch, x, y, pool), "fully_connected setup");
    check(xnn_run_operator(op_.get(), pool), "fully_connected run");
  }

 private:
  Op op_;
};

/// XNNPACK's sparse path: a 1x1 NCHW convolution over a 1 x batch "image" (the batch is the
/// spatial axis), so the activations are transposed to [in x batch] and back.
class XnnSparseDense final : public DenseLayer {
 public:
  XnnSparseDense(const std::vector<float>& w, const std::vector<float>& b, std::size_t in,
                 std::size_t out)
      : in_(in), out_(out) {
    xnn_operator_t op = nullptr;
    check(xnn_create_convolution2d_nchw_f32(0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, in, out, in, out,
                                            w.data(), b.data(), -kInf, kInf, 0, &op),
          "convolution2d_nchw_f32 1x1 (sparse) " + std::to_string(in) + "->" + std::to_string(out));
    op_.reset(op);
  }
  void run(const float* x, float* y, std::size_t batch, pthreadpool_t pool) override {
    const float* xt = x;
    float* yt = y;
    if (batch > 1) {
      xt_.resize(in_ * batch);
      yt_.resize(out_ * batch);
      transpose(x, batch, in_, xt_.data());
      xt = xt_.data();
      yt = yt_.data();
    }
    check(xnn_setup_convolution2d_nchw_f32(op_.get(), 1, 1, batch, xt, yt, pool),
          "convolution2d_nchw setup");
    check(xnn_run_operator(op_.get(), pool), "convolution2d_nchw run");
    if (batch > 1) transpose(yt, out_, batch, y);
  }

 private:
  std::size_t in_, out_;
  std::vector<float> xt_, yt_;
  Op op_;
};

/// Calls fn(r0, r1) over [0, rows) in tiles, on the pool's threads (or this thread).
template <class Fn>
void parallel_rows(pthreadpool_t pool, std::size_t rows, Fn&& fn, std::size_t tile = 64) {
  if (pool == nullptr || pthreadpool_get_threads_count(pool) <= 1) {
    fn(std::size_t{0}, rows);
    return;
  }
  const auto call = [](void* ctx, std::size_t start, std::size_t count) {
    (*static_cast<Fn*>(ctx))(start, start + count);
  };
  pthreadpool_parallelize_1d_tile_1d(pool, call, &fn, rows, tile, 0);
}

template <class T>
class OwnSparseDense final : public DenseLayer {
 public:
  /// blocks: int8 only, the same weights in 16-column blocks for batch 1 (block_gemv).
  OwnSparseDense(sparse::MaskedRows<T> a, std::vector<float> b, sparse::BlockRowsI8 blocks = {})
      : a_(std::move(a)), b_(std::move(b)), blocks_(std::move(blocks)) {}
  void run(const float* x, float* y, std::size_t batch, pthreadpool_t pool) override {
    if (batch == 1) {
      if constexpr (std::is_same_v<T, float>) {
        parallel_rows(pool, a_.rows, [&](std::size_t r0, std::size_t r1) {
          sparse::spmv(a_, x, b_.data(), y, r0, r1);
        });
      } else {  // int8 block GEMV: activations quantised per sample (sparse_kernels.hpp)
        sparse::quantise_activations(x, 1, a_.cols, acts_);
        parallel_rows(pool, a_.rows, [&](std::size_t r0, std::size_t r1) {
          sparse::block_gemv(blocks_, acts_, b_.data(), y, r0, r1);
        });
      }
      return;
    }
    xt_.resize(a_.cols * batch);
    yt_.resize(a_.rows * batch);
    transpose(x, batch, a_.cols, xt_.data());
    parallel_rows(pool, a_.rows, [&](std::size_t r0, std::size_t r1) {
      sparse::spmm(a_, xt_.data(), batch, b_.data(), yt_.data(), r0, r1);
    });
    transpose(yt_.data(), a_.rows, batch, y);
  }

 private:
  sparse::MaskedRows<T> a_;
  std::vector<float> b_;
  sparse::BlockRowsI8 blocks_;  // int8 only
  std::vector<float> xt_, yt_;
  sparse::QuantisedActs acts_;  // int8 only
};

class Int8Dense final : public DenseLayer {
 public:
  Int8Dense(const std::vector<float>& w, std::vector<float> b, std::size_t in, std::size_t out)
      : w_(quantize_int8_rows(w, out, in)), b_(std::move(b)) {}
  void run(const float* x, float* y, std::size_t batch, pthreadpool_t pool) override {
    sparse::quantise_activations(x, batch, w_.cols, acts_);
    parallel_rows(pool, w_.rows, [&](std::size_t r0, std::size_t r1) {
      sparse::int8_gemm(w_, acts_, b_.data(), y, r0, r1);
    });
  }

 private:
  Int8Rows w_;
  std::vector<float> b_;
  sparse::QuantisedActs acts_;
};

std::unique_ptr<DenseLayer> make_dense(DenseKind kind, const std::vector<float>& w,
                                       const std::vector<float>& b, std::size_t in,
                                       std::size_t out) {
  switch (kind) {
    case DenseKind::Xnnpack:
      return std::make_unique<XnnDense>(w, b, in, out);
    case DenseKind::XnnpackSparse:
      return std::make_unique<XnnSparseDense>(w, b, in, out);
    case DenseKind::SparseF32:
      return std::make_unique<OwnSparseDense<float>>(sparse::make_sparse_f32(w, out, in), b);
    case DenseKind::SparseI8:
      return std::make_unique<OwnSparseDense<std::int8_t>>(sparse::make_sparse_i8(w, out, in), b,
                                                           sparse::make_block_rows_i8(w, out, in));
    case DenseKind::Int8:
      return std::make_unique<Int8Dense>(w, b, in, out);
  }
  throw std::invalid_argument("CsiNet engine: unknown dense kind");
}

// ---------------------------------------------------------------------------------------------
// XNNPACK operators of the convolutional part.

Op make_conv(const Conv& c) {
  xnn_operator_t op = nullptr;
  check(xnn_create_convolution2d_nhwc_f32(1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, c.in, c.out, c.in, c.out,
                                          c.w.data(), c.b.data(), -kInf, kInf, 0, &op),
        "convolution2d_nhwc_f32 3x3 " + std::to_string(c.in) + "->" + std::to_string(c.out));
  return Op(op);
}
Op make_lrelu(std::size_t channels) {
  xnn_operator_t op = nullptr;
  check(xnn_create_leaky_relu_nc_f32(channels, channels, channels, kSlope, 0, &op),
        "leaky_relu_nc_f32");
  return Op(op);
}

void setup_conv(const Op& op, std::size_t batch, const float* in, float* out, pthreadpool_t p) {
  check(xnn_setup_convolution2d_nhwc_f32(op.get(), batch, kSide, kSide, in, out, p),
        "convolution2d_nhwc setup");
}
void setup_lrelu(const Op& op, std::size_t batch, const float* in, float* out, pthreadpool_t p) {
  check(xnn_setup_leaky_relu_nc_f32(op.get(), batch * kPixels, in, out, p), "leaky_relu setup");
}
void run(const Op& op, pthreadpool_t p) {
  check(xnn_run_operator(op.get(), p), "run");
}

/// A 3x3 convolution to 2 channels: XNNPACK's operator, or our direct kernel
/// (sparse::conv3x3_to2), which does 1/8 of XNNPACK's work for 2 output channels.
class ConvTo2 {
 public:
  ConvTo2() = default;
  ConvTo2(const Conv& c, bool own) {
    if (own) {
      k_ = sparse::make_conv3x3_to2(c.w, c.b, c.in);
    } else {
      op_ = make_conv(c);
    }
  }
  void setup(std::size_t n, const float* in, float* out, pthreadpool_t p) {
    if (op_) setup_conv(op_, n, in, out, p);
    n_ = n;
    in_ = in;
    out_ = out;
  }
  void run(pthreadpool_t p) const {
    if (op_) {
      linksim::detail::run(op_, p);
      return;
    }
    parallel_rows(
        p, n_,
        [&](std::size_t i0, std::size_t i1) {
          sparse::conv3x3_to2(k_, in_, kSide, kSide, out_, i0, i1);
        },
        4);
  }

 private:
  Op op_;
  sparse::Conv3x3To2 k_;
  std::size_t n_ = 0;
  const float* in_ = nullptr;
  float* out_ = nullptr;
};

/// The operators of one RefineNet unit (XNNPACK packs the weights at creation).
struct Refine {
  Op conv8, conv16, lrelu8, lrelu16, add, lrelu2;
  ConvTo2 conv2;
};

/// NCHW [2, 1024] per sample <-> NHWC [1024, 2].
void nchw_to_nhwc(const float* in, std::size_t batch, float* out) {
  for (std::size_t b = 0; b < batch; ++b) {
    const float* s = in + b * 2 * kPixels;
    float* d = out + b * 2 * kPixels;
    for (std::size_t p = 0; p < kPixels; ++p) {
      d[2 * p] = s[p];
      d[2 * p + 1] = s[kPixels + p];
    }
  }
}
void nhwc_to_nchw(const float* in, std::size_t batch, float* out) {
  for (std::size_t b = 0; b < batch; ++b) {
    const float* s = in + b * 2 * kPixels;
    float* d = out + b * 2 * kPixels;
    for (std::size_t p = 0; p < kPixels; ++p) {
      d[p] = s[2 * p];
      d[kPixels + p] = s[2 * p + 1];
    }
  }
}

}  // namespace

struct CsiNetEngine::Impl {
  std::size_t m = 0;
  Pool pool;
  // Encoder.
  ConvTo2 enc_conv;
  Op enc_lrelu;
  std::unique_ptr<DenseLayer> enc_fc;
  // Decoder.
  std::unique_ptr<DenseLayer> dec_fc;
  Refine refine[2];
  ConvTo2 out_conv;
  Op sigmoid;
  // Buffers (NHWC activations of one chunk) and the chunk size the operators are set up for.
  std::vector<float> e_in, e_conv, e_act;
  std::vector<float> d[3], a8, b8, a16, b16, c2, s2, o, o2;
  std::size_t enc_batch = 0, dec_batch = 0;

  /// The pool for a chunk of n samples: none below kParallelBatch (waking workers costs more
  /// than it gains there, and on a busy machine a descheduled worker stalls every operator).
  pthreadpool_t threads(std::size_t n) const { return n >= kParallelBatch ? pool.get() : nullptr; }
  void setup_encoder(std::size_t n);
  void setup_decoder(std::size_t n);
};

void CsiNetEngine::Impl::setup_encoder(std::size_t n) {
  if (n == enc_batch) return;
  const std::size_t v = n * 2 * kPixels;
  e_in.resize(v);
  e_conv.resize(v);
  e_act.resize(v);
  enc_conv.setup(n, e_in.data(), e_conv.data(), threads(n));
  setup_lrelu(enc_lrelu, n, e_conv.data(), e_act.data(), threads(n));
  enc_batch = n;
}

void CsiNetEngine::Impl::setup_decoder(std::size_t n) {
  if (n == dec_batch) return;
  const std::size_t v2 = n * 2 * kPixels;
  for (auto& buf : d) buf.resize(v2);
  for (auto* buf : {&c2, &s2, &o, &o2}) buf->resize(v2);
  a8.resize(4 * v2);
  b8.resize(4 * v2);
  a16.resize(8 * v2);
  b16.resize(8 * v2);
  for (std::size_t k = 0; k < 2; ++k) {
    Refine& r = refine[k];
    pthreadpool_t p = threads(n);
    setup_conv(r.conv8, n, d[k].data(), a8.data(), p);
    check(xnn_setup_leaky_relu_nc_f32(r.lrelu8.get(), n * kPixels, a8.data(), b8.data(), p),
          "leaky_relu setup");
    setup_conv(r.conv16, n, b8.data(), a16.data(), p);
    check(xnn_setup_leaky_relu_nc_f32(r.lrelu16.get(), n * kPixels, a16.data(), b16.data(), p),
          "leaky_relu setup");
    r.conv2.setup(n, b16.data(), c2.data(), p);
    const std::size_t shape[1] = {v2};
    check(
        xnn_setup_add_nd_f32(r.add.get(), 1, shape, 1, shape, c2.data(), d[k].data(), s2.data(), p),
        "add_nd setup");
    setup_lrelu(r.lrelu2, n, s2.data(), d[k + 1].data(), p);
  }
  out_conv.setup(n, d[2].data(), o.data(), threads(n));
  check(xnn_setup_sigmoid_nc_f32(sigmoid.get(), n * kPixels, o.data(), o2.data(), threads(n)),
        "sigmoid setup");
  dec_batch = n;
}

CsiNetEngine::CsiNetEngine(const CsiAutoencoder& model, DenseKind dense, unsigned threads)
    : impl_(std::make_unique<Impl>()) {
  if (model.arch() != CsiArch::CsiNet) {
    throw std::invalid_argument("CsiNet engine: the model is " +
                                std::string(arch_name(model.arch())) +
                                ", only csinet runs without LibTorch");
  }
  check(xnn_initialize(nullptr), "xnn_initialize");
  Impl& s = *impl_;
  s.m = model.code_values();
  const unsigned n = threads == 0 ? std::max(1U, std::thread::hardware_concurrency()) : threads;
  if (n > 1) s.pool.reset(pthreadpool_create(n));

  const auto hyper = nlohmann::json::parse(model.metadata_json()).at("hyper_parameters");
  const double eps = hyper.value("batchnorm_eps", 1e-3);
  const Arrays a(model);
  const std::size_t m = s.m, v = kCsiValues;

  // Our 2-output convolution kernel in every backend but the all-XNNPACK one.
  const bool own = dense != DenseKind::Xnnpack;
  s.enc_conv = ConvTo2(folded_conv(a, "encoder_conv.conv", "encoder_conv.bn", 2, 2, eps), own);
  s.enc_lrelu = make_lrelu(2);
  // Dense layers, permuted to NHWC: PyTorch's flatten index c * 1024 + p is our p * 2 + c.
  const auto nhwc_index = [](std::size_t i) { return (i % kPixels) * 2 + i / kPixels; };
  {
    const std::vector<float>& w = a["encoder_fc.weight"];  // [M, 2048]
    if (w.size() != m * v) throw std::invalid_argument("CsiNet engine: encoder_fc shape");
    std::vector<float> wp(w.size());
    for (std::size_t r = 0; r < m; ++r) {
      for (std::size_t i = 0; i < v; ++i) wp[r * v + nhwc_index(i)] = w[r * v + i];
    }
    s.enc_fc = make_dense(dense, wp, a["encoder_fc.bias"], v, m);
  }
  {
    const std::vector<float>& w = a["decoder_fc.weight"];  // [2048, M]
    const std::vector<float>& b = a["decoder_fc.bias"];
    if (w.size() != m * v) throw std::invalid_argument("CsiNet engine: decoder_fc shape");
    std::vector<float> wp(w.size()), bp(v);
    for (std::size_t i = 0; i < v; ++i) {
      std::copy(w.begin() + static_cast<std::ptrdiff_t>(i * m),
                w.begin() + static_cast<std::ptrdiff_t>((i + 1) * m),
                wp.begin() + static_cast<std::ptrdiff_t>(nhwc_index(i) * m));
      bp[nhwc_index(i)] = b[i];
    }
    s.dec_fc = make_dense(dense, wp, bp, m, v);
  }
  for (std::size_t k = 0; k < 2; ++k) {
    const std::string p = "refine" + std::to_string(k + 1) + ".";
    Refine& r = s.refine[k];
    r.conv8 = make_conv(folded_conv(a, p + "conv8.conv", p + "conv8.bn", 2, 8, eps));
    r.conv16 = make_conv(folded_conv(a, p + "conv16.conv", p + "conv16.bn", 8, 16, eps));
    r.conv2 = ConvTo2(folded_conv(a, p + "conv2.conv", p + "conv2.bn", 16, 2, eps), own);
    r.lrelu8 = make_lrelu(8);
    r.lrelu16 = make_lrelu(16);
    r.lrelu2 = make_lrelu(2);
    xnn_operator_t add = nullptr;
    check(xnn_create_add_nd_f32(-kInf, kInf, 0, &add), "add_nd_f32");
    r.add.reset(add);
  }
  s.out_conv = ConvTo2(folded_conv(a, "decoder_conv", "", 2, 2, eps), own);
  xnn_operator_t sig = nullptr;
  check(xnn_create_sigmoid_nc_f32(2, 2, 2, 0, &sig), "sigmoid_nc_f32");
  s.sigmoid.reset(sig);
}

CsiNetEngine::~CsiNetEngine() = default;

std::size_t CsiNetEngine::code_values() const {
  return impl_->m;
}

void CsiNetEngine::encode(const arma::fmat& u, arma::fmat& code) {
  if (u.n_rows != kCsiValues) throw std::invalid_argument("CsiNet engine: u must have 2048 rows");
  Impl& s = *impl_;
  code.set_size(s.m, u.n_cols);
  for (arma::uword first = 0; first < u.n_cols; first += kChunk) {
    const std::size_t n = std::min<std::size_t>(kChunk, u.n_cols - first);
    s.setup_encoder(n);
    nchw_to_nhwc(u.colptr(first), n, s.e_in.data());
    s.enc_conv.run(s.threads(n));
    run(s.enc_lrelu, s.threads(n));
    s.enc_fc->run(s.e_act.data(), code.colptr(first), n, s.threads(n));
  }
}

void CsiNetEngine::decode(const arma::fmat& code, arma::fmat& u_hat) {
  Impl& s = *impl_;
  if (code.n_rows != s.m) {
    throw std::invalid_argument("CsiNet engine: code must have " + std::to_string(s.m) + " rows");
  }
  u_hat.set_size(kCsiValues, code.n_cols);
  for (arma::uword first = 0; first < code.n_cols; first += kChunk) {
    const std::size_t n = std::min<std::size_t>(kChunk, code.n_cols - first);
    s.setup_decoder(n);
    s.dec_fc->run(code.colptr(first), s.d[0].data(), n, s.threads(n));
    for (const Refine& r : s.refine) {
      for (const Op* op : {&r.conv8, &r.lrelu8, &r.conv16, &r.lrelu16}) run(*op, s.threads(n));
      r.conv2.run(s.threads(n));
      for (const Op* op : {&r.add, &r.lrelu2}) run(*op, s.threads(n));
    }
    s.out_conv.run(s.threads(n));
    run(s.sigmoid, s.threads(n));
    nhwc_to_nchw(s.o2.data(), n, u_hat.colptr(first));
  }
}

}  // namespace linksim::detail
