// The CsiNet-family networks (LibTorch modules). Shapes: u [B, 2, 32, 32] -> code [B, M] ->
// u_hat [B, 2, 32, 32]. Every convolution is 'same'-padded; LeakyReLU slope 0.3 throughout.
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "nn_compress/csi_network.hpp"

namespace linksim::detail {
namespace {

namespace nn = torch::nn;

constexpr double kSlope = 0.3;
constexpr std::int64_t kSide = 32;

torch::Tensor lrelu(const torch::Tensor& x) {
  return torch::leaky_relu(x, kSlope);
}

/// BatchNorm settings. CsiNet and its convolutional relatives: Keras' eps 1e-3, but LibTorch's
/// running-statistics momentum 0.1 instead of Keras' 0.01 (0.99 in Keras' convention). Our
/// input sits within ~0.02 of 0.5 except a few peaks, so the first BatchNorm sees variances of
/// ~1e-4: with momentum 0.01 the running variance keeps a weight 0.99^n of its initial 1 and
/// needs over 1000 steps before evaluation-mode outputs mean anything (the original trained for
/// 1000 epochs of 500 steps; we train for tens). CRNet: LibTorch's defaults, as its authors.
struct BnSettings {
  double eps = 1e-3;
  double momentum = 0.1;
};
constexpr BnSettings kKerasBn{1e-3, 0.1};
constexpr BnSettings kTorchBn{1e-5, 0.1};

nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kh, std::int64_t kw, bool bias) {
  return nn::Conv2d(
      nn::Conv2dOptions(in, out, {kh, kw}).padding({(kh - 1) / 2, (kw - 1) / 2}).bias(bias));
}

nn::BatchNorm2d bn(std::int64_t channels, BnSettings s) {
  return nn::BatchNorm2d(nn::BatchNorm2dOptions(channels).eps(s.eps).momentum(s.momentum));
}

/// conv (optional bias) + BatchNorm, no activation.
class ConvBnImpl : public nn::Module {
 public:
  ConvBnImpl(std::int64_t in, std::int64_t out, std::int64_t kh, std::int64_t kw, bool bias,
             BnSettings s)
      : conv_(register_module("conv", conv(in, out, kh, kw, bias))),
        bn_(register_module("bn", bn(out, s))) {}
  torch::Tensor forward(const torch::Tensor& x) { return bn_(conv_(x)); }
  /// Sets the BatchNorm's gamma and beta to zero: the block outputs 0 until they learn.
  void zero_output() { scale_output(0.0); }
  /// Sets the BatchNorm's gamma to `gamma` and beta to zero: unit-variance outputs times gamma.
  void scale_output(double gamma) {
    torch::NoGradGuard no_grad;
    bn_->weight.fill_(gamma);
    bn_->bias.zero_();
  }

 private:
  nn::Conv2d conv_;
  nn::BatchNorm2d bn_;
};
TORCH_MODULE(ConvBn);

/// CsiNet's RefineNet unit: conv 3x3 2->8, BN, LReLU, conv 8->16, BN, LReLU, conv 16->2, BN,
/// plus the input (shortcut), then LReLU. Convolutions with biases (Keras default).
class RefineNetImpl : public nn::Module {
 public:
  explicit RefineNetImpl(BnSettings s)
      : a_(register_module("conv8", ConvBn(2, 8, 3, 3, true, s))),
        b_(register_module("conv16", ConvBn(8, 16, 3, 3, true, s))),
        c_(register_module("conv2", ConvBn(16, 2, 3, 3, true, s))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = lrelu(a_(x));
    y = lrelu(b_(y));
    return lrelu(c_(y) + x);
  }

 private:
  ConvBn a_, b_, c_;
};
TORCH_MODULE(RefineNet);

/// Glorot-uniform weights and zero biases for every convolution and dense layer (Keras' and
/// CRNet's initialisation); BatchNorm starts at gamma = 1, beta = 0.
void glorot_init(nn::Module& root) {
  torch::NoGradGuard no_grad;
  for (const auto& m : root.modules(/*include_self=*/false)) {
    if (auto* c = m->as<nn::Conv2dImpl>()) {
      nn::init::xavier_uniform_(c->weight);
      if (c->options.bias()) nn::init::zeros_(c->bias);
    } else if (auto* l = m->as<nn::LinearImpl>()) {
      nn::init::xavier_uniform_(l->weight);
      if (l->options.bias()) nn::init::zeros_(l->bias);
    }
  }
}

/// Zeroes the last convolution of a decoder, so that a fresh network outputs u_hat = 0.5
/// everywhere (the zero channel, the mean of the data). With Glorot weights there, the initial
/// output is noise ~30 times stronger than the sparse angular-delay signal, and Adam spends its
/// first thousands of steps shrinking it: on 64 indoor samples at CR 4 the training loss after
/// 400 steps is 10 dB lower with this start. The gradient still reaches every layer from the
/// second step on (the zeroed layer gets a gradient at once, the layers before it after it moved).
void zero_conv(nn::Conv2d& c) {
  torch::NoGradGuard no_grad;
  c->weight.zero_();
  if (c->options.bias()) c->bias.zero_();
}

constexpr const char* kZeroOutputInit =
    "glorot_uniform weights, zero biases; the decoder's last conv starts at zero (u_hat = 0.5)";

// ---------------------------------------------------------------------------------------------
// CsiNet (Wen, Shih, Jin 2018).

class CsiNetModule : public nn::Module {
 public:
  explicit CsiNetModule(std::int64_t m)
      : m_(m),
        enc_(register_module("encoder_conv", ConvBn(2, 2, 3, 3, true, kKerasBn))),
        enc_fc_(register_module("encoder_fc", nn::Linear(2 * kSide * kSide, m))),
        dec_fc_(register_module("decoder_fc", nn::Linear(m, 2 * kSide * kSide))),
        refine1_(register_module("refine1", RefineNet(kKerasBn))),
        refine2_(register_module("refine2", RefineNet(kKerasBn))),
        out_(register_module("decoder_conv", conv(2, 2, 3, 3, true))) {}
  torch::Tensor encode(const torch::Tensor& u) { return enc_fc_(lrelu(enc_(u)).flatten(1)); }
  torch::Tensor decode(const torch::Tensor& z) {
    torch::Tensor y = dec_fc_(z).view({-1, 2, kSide, kSide});
    y = refine2_(refine1_(y));
    return torch::sigmoid(out_(y));
  }
  void init_output() { zero_conv(out_); }
  std::string hyper_json() const {
    return nlohmann::json{
        {"code_values", m_},
        {"encoder", "conv3x3 2->2, BN, LeakyReLU(0.3), flatten 2048, dense 2048->M (linear)"},
        {"decoder",
         "dense M->2048 (linear), reshape 2x32x32, 2 RefineNet units (conv3x3 2->8->16->2 with "
         "BN, LeakyReLU(0.3), shortcut), conv3x3 2->2, sigmoid"},
        {"leaky_relu_slope", kSlope},
        {"batchnorm_eps", kKerasBn.eps},
        {"batchnorm_momentum", kKerasBn.momentum},
        {"init", kZeroOutputInit}}
        .dump();
  }

 private:
  std::int64_t m_;
  ConvBn enc_;
  nn::Linear enc_fc_, dec_fc_;
  RefineNet refine1_, refine2_;
  nn::Conv2d out_;
};

// ---------------------------------------------------------------------------------------------
// CRNet (Lu, Wang, Song, ICC 2020; layer shapes of the authors' public code): convolutions
// without bias, each followed by BN.

/// CRBlock: path 1 conv3x3 2->7, LReLU, conv1x9 7->7, LReLU, conv9x1 7->7; path 2 conv1x5 2->7,
/// LReLU, conv5x1 7->7; concatenate (14), LReLU, conv1x1 14->2, add the input, LReLU.
class CrBlockImpl : public nn::Module {
 public:
  CrBlockImpl()
      : p1a_(register_module("path1_conv3x3", ConvBn(2, 7, 3, 3, false, kTorchBn))),
        p1b_(register_module("path1_conv1x9", ConvBn(7, 7, 1, 9, false, kTorchBn))),
        p1c_(register_module("path1_conv9x1", ConvBn(7, 7, 9, 1, false, kTorchBn))),
        p2a_(register_module("path2_conv1x5", ConvBn(2, 7, 1, 5, false, kTorchBn))),
        p2b_(register_module("path2_conv5x1", ConvBn(7, 7, 5, 1, false, kTorchBn))),
        fuse_(register_module("conv1x1", ConvBn(14, 2, 1, 1, false, kTorchBn))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor a = p1c_(lrelu(p1b_(lrelu(p1a_(x)))));
    const torch::Tensor b = p2b_(lrelu(p2a_(x)));
    return lrelu(fuse_(lrelu(torch::cat({a, b}, 1))) + x);
  }
  /// The residual branch starts at zero (the block passes lrelu(x) on).
  void zero_branch() { fuse_->zero_output(); }

 private:
  ConvBn p1a_, p1b_, p1c_, p2a_, p2b_, fuse_;
};
TORCH_MODULE(CrBlock);

class CrNetModule : public nn::Module {
 public:
  explicit CrNetModule(std::int64_t m)
      : m_(m),
        e1a_(register_module("encoder1_conv3x3", ConvBn(2, 2, 3, 3, false, kTorchBn))),
        e1b_(register_module("encoder1_conv1x9", ConvBn(2, 2, 1, 9, false, kTorchBn))),
        e1c_(register_module("encoder1_conv9x1", ConvBn(2, 2, 9, 1, false, kTorchBn))),
        e2_(register_module("encoder2_conv3x3", ConvBn(2, 2, 3, 3, false, kTorchBn))),
        efuse_(register_module("encoder_conv1x1", ConvBn(4, 2, 1, 1, false, kTorchBn))),
        enc_fc_(register_module("encoder_fc", nn::Linear(2 * kSide * kSide, m))),
        dec_fc_(register_module("decoder_fc", nn::Linear(m, 2 * kSide * kSide))),
        d5_(register_module("decoder_conv5x5", ConvBn(2, 2, 5, 5, false, kTorchBn))),
        block1_(register_module("crblock1", CrBlock())),
        block2_(register_module("crblock2", CrBlock())) {}
  torch::Tensor encode(const torch::Tensor& u) {
    const torch::Tensor a = e1c_(lrelu(e1b_(lrelu(e1a_(u)))));
    const torch::Tensor b = e2_(u);
    const torch::Tensor y = lrelu(efuse_(lrelu(torch::cat({a, b}, 1))));
    return enc_fc_(y.flatten(1));
  }
  torch::Tensor decode(const torch::Tensor& z) {
    torch::Tensor y = dec_fc_(z).view({-1, 2, kSide, kSide});
    y = lrelu(d5_(y));
    return torch::sigmoid(block2_(block1_(y)));
  }
  /// The decoder's conv5x5 BatchNorm and both CRBlocks' residual-branch BatchNorms start at
  /// gamma = beta = 0, so u_hat = 0.5 at first and the output grows only as fast as those gammas
  /// do (BatchNorm inside the branches would otherwise blow any small input up to unit variance).
  /// With the authors' Glorot start alone, 8 epochs of 5k indoor samples left the validation
  /// NMSE at +7 dB (the output noise still being shrunk).
  void init_output() {
    d5_->zero_output();
    block1_->zero_branch();
    block2_->zero_branch();
  }
  std::string hyper_json() const {
    return nlohmann::json{
        {"code_values", m_},
        {"encoder",
         "[conv3x3, conv1x9, conv9x1 | conv3x3] 2->2 each, concat, conv1x1 4->2, flatten, dense "
         "2048->M (linear)"},
        {"decoder",
         "dense M->2048, conv5x5 2->2, 2 CRBlocks (conv3x3-1x9-9x1 and conv1x5-5x1 paths of 7 "
         "channels, conv1x1 14->2, shortcut), sigmoid"},
        {"conv_bias", false},
        {"leaky_relu_slope", kSlope},
        {"batchnorm_eps", kTorchBn.eps},
        {"batchnorm_momentum", kTorchBn.momentum},
        {"init",
         "glorot_uniform weights; the BatchNorms of the decoder's conv5x5 and of both CRBlocks' "
         "conv1x1 start at gamma = beta = 0 (u_hat = 0.5)"}}
        .dump();
  }

 private:
  std::int64_t m_;
  ConvBn e1a_, e1b_, e1c_, e2_, efuse_;
  nn::Linear enc_fc_, dec_fc_;
  ConvBn d5_;
  CrBlock block1_, block2_;
};

// ---------------------------------------------------------------------------------------------
// CsiNet+ (Guo, Wen, Jin, Li, IEEE TWC 2020; the network that seed 002 prunes and quantises):
// CsiNet with 7x7 encoder convolutions, a 7x7 conv + sigmoid before the refinement and five
// RefineNet units of 7x7 / 5x5 / 3x3 kernels whose residual branch ends in tanh.

/// CsiNet+ RefineNet unit: conv7x7 2->8, BN, LReLU, conv5x5 8->16, BN, LReLU, conv3x3 16->2,
/// BN, tanh; plus the input (shortcut), then ReLU.
class RefinePlusImpl : public nn::Module {
 public:
  RefinePlusImpl()
      : a_(register_module("conv7x7", ConvBn(2, 8, 7, 7, false, kKerasBn))),
        b_(register_module("conv5x5", ConvBn(8, 16, 5, 5, false, kKerasBn))),
        c_(register_module("conv3x3", ConvBn(16, 2, 3, 3, false, kKerasBn))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor y = lrelu(b_(lrelu(a_(x))));
    return torch::relu(torch::tanh(c_(y)) + x);
  }
  /// The residual branch starts at zero (the unit passes its non-negative input on).
  void zero_branch() { c_->zero_output(); }

 private:
  ConvBn a_, b_, c_;
};
TORCH_MODULE(RefinePlus);

constexpr int kPlusRefineUnits = 5;
/// The units' output is not bounded above (ReLU), but our decoders map into [0, 1] so that the
/// reconstruction stays within [-s, s] of the per-sample scale s: CsiNet+ ends in
/// sigmoid(4 (y - 1/2)), the identity to first order around 1/2, where almost all of the data
/// lies.
constexpr double kOutGain = 4.0;
/// gamma of the BatchNorm before the decoder's first sigmoid at the start. At 0 (u_hat = 0.5, as
/// CRNet starts) no gradient reaches the dense layers until gamma has grown, and on 2000 indoor
/// samples the loss sat on its initial plateau for ~200 steps; 0.1 puts noise of the data's own
/// spread (~0.025) on u_hat instead, and the gradient flows from the first step.
constexpr double kPlusFirstGamma = 0.1;

class CsiNetPlusModule : public nn::Module {
 public:
  explicit CsiNetPlusModule(std::int64_t m)
      : m_(m),
        e1_(register_module("encoder_conv1", ConvBn(2, 2, 7, 7, false, kKerasBn))),
        e2_(register_module("encoder_conv2", ConvBn(2, 2, 7, 7, false, kKerasBn))),
        enc_fc_(register_module("encoder_fc", nn::Linear(2 * kSide * kSide, m))),
        dec_fc_(register_module("decoder_fc", nn::Linear(m, 2 * kSide * kSide))),
        d7_(register_module("decoder_conv7x7", ConvBn(2, 2, 7, 7, false, kKerasBn))) {
    for (int i = 0; i < kPlusRefineUnits; ++i) refine_->push_back(RefinePlus());
    register_module("refine", refine_);
  }
  torch::Tensor encode(const torch::Tensor& u) {
    return enc_fc_(lrelu(e2_(lrelu(e1_(u)))).flatten(1));
  }
  torch::Tensor decode(const torch::Tensor& z) {
    torch::Tensor y = torch::sigmoid(d7_(dec_fc_(z).view({-1, 2, kSide, kSide})));
    for (const auto& unit : *refine_) y = unit->as<RefinePlusImpl>()->forward(y);
    return torch::sigmoid(kOutGain * (y - 0.5));
  }
  /// Every unit's last BatchNorm starts at gamma = beta = 0 (the units pass their input on); the
  /// decoder's conv7x7 BatchNorm at gamma = kPlusFirstGamma.
  void init_output() {
    d7_->scale_output(kPlusFirstGamma);
    for (const auto& unit : *refine_) unit->as<RefinePlusImpl>()->zero_branch();
  }
  std::string hyper_json() const {
    return nlohmann::json{
        {"code_values", m_},
        {"encoder",
         "conv7x7 2->2 (BN, LeakyReLU(0.3)) twice, flatten 2048, dense 2048->M (linear)"},
        {"decoder",
         "dense M->2048 (linear), reshape 2x32x32, conv7x7 2->2 (BN, sigmoid), 5 RefineNet units "
         "(conv7x7 2->8, conv5x5 8->16 with BN, LeakyReLU(0.3); conv3x3 16->2, BN, tanh; "
         "shortcut, ReLU), sigmoid(4 (y - 1/2))"},
        {"conv_bias", false},
        {"leaky_relu_slope", kSlope},
        {"batchnorm_eps", kKerasBn.eps},
        {"batchnorm_momentum", kKerasBn.momentum},
        {"init",
         "glorot_uniform weights; the BatchNorm of the decoder's conv7x7 starts at gamma = 0.1, "
         "beta = 0, those of every unit's conv3x3 at gamma = beta = 0"}}
        .dump();
  }

 private:
  std::int64_t m_;
  ConvBn e1_, e2_;
  nn::Linear enc_fc_, dec_fc_;
  ConvBn d7_;
  nn::ModuleList refine_;
};

// ---------------------------------------------------------------------------------------------
// ConvCsiNet and ConvSquCsiNet (seed 002: the FC layers of CsiNet replaced by stacked
// convolutions, each followed by average pooling at the encoder and up-sampling at the decoder;
// ConvSquCsiNet swaps the F->F 3x3 convolutions for SqueezeNet fire modules). The seed gives
// the principle, not the widths; ours: F = 32 feature maps, k = floor(log2(cr) / 2) halvings of
// the 32x32 grid, and a code of M / (32 / 2^k)^2 channels on the (32 / 2^k)^2 grid.

constexpr std::int64_t kConvWidth = 32;

/// Fire module F->F: squeeze conv1x1 F->F/4 (BN, LReLU), expand conv1x1 F/4->F/2 and conv3x3
/// F/4->F/2 in parallel, concatenated (F), BN, LReLU.
class FireImpl : public nn::Module {
 public:
  explicit FireImpl(std::int64_t f)
      : squeeze_(register_module("squeeze1x1", ConvBn(f, f / 4, 1, 1, true, kKerasBn))),
        e1_(register_module("expand1x1", conv(f / 4, f / 2, 1, 1, true))),
        e3_(register_module("expand3x3", conv(f / 4, f / 2, 3, 3, true))),
        bn_(register_module("bn", bn(f, kKerasBn))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor s = lrelu(squeeze_(x));
    return lrelu(bn_(torch::cat({e1_(s), e3_(s)}, 1)));
  }

 private:
  ConvBn squeeze_;
  nn::Conv2d e1_, e3_;
  nn::BatchNorm2d bn_;
};
TORCH_MODULE(Fire);

class ConvCsiNetModule : public nn::Module {
 public:
  ConvCsiNetModule(std::int64_t m, std::int64_t cr, bool squeeze) : m_(m), squeeze_(squeeze) {
    halvings_ = static_cast<std::int64_t>(std::floor(std::log2(static_cast<double>(cr)) / 2.0));
    side_ = kSide >> halvings_;
    code_channels_ = m / (side_ * side_);
    const std::int64_t f = kConvWidth;
    enc_head_ = register_module("encoder_head", ConvBn(2, f, 3, 3, true, kKerasBn));
    for (std::int64_t i = 0; i < halvings_; ++i) {
      enc_stages_->push_back(stage(f));
      dec_stages_->push_back(stage(f));
    }
    register_module("encoder_stages", enc_stages_);
    enc_tail_ = register_module("encoder_tail", conv(f, code_channels_, 3, 3, true));
    dec_head_ = register_module("decoder_head", ConvBn(code_channels_, f, 3, 3, true, kKerasBn));
    register_module("decoder_stages", dec_stages_);
    dec_to2_ = register_module("decoder_to2", ConvBn(f, 2, 3, 3, true, kKerasBn));
    refine1_ = register_module("refine1", RefineNet(kKerasBn));
    refine2_ = register_module("refine2", RefineNet(kKerasBn));
    out_ = register_module("decoder_conv", conv(2, 2, 3, 3, true));
  }
  torch::Tensor encode(const torch::Tensor& u) {
    torch::Tensor y = lrelu(enc_head_(u));
    for (const auto& s : *enc_stages_)
      y = torch::avg_pool2d(s->as<nn::Sequential>()->forward(y), 2);
    return enc_tail_(y).flatten(1);
  }
  torch::Tensor decode(const torch::Tensor& z) {
    torch::Tensor y = lrelu(dec_head_(z.view({-1, code_channels_, side_, side_})));
    for (const auto& s : *dec_stages_) {
      y = torch::upsample_nearest2d(y, std::vector<std::int64_t>{2 * y.size(2), 2 * y.size(3)});
      y = s->as<nn::Sequential>()->forward(y);
    }
    y = lrelu(dec_to2_(y));
    y = refine2_(refine1_(y));
    return torch::sigmoid(out_(y));
  }
  void init_output() { zero_conv(out_); }
  std::string hyper_json() const {
    return nlohmann::json{
        {"code_values", m_},
        {"feature_maps", kConvWidth},
        {"halvings", halvings_},
        {"code_grid", {code_channels_, side_, side_}},
        {"stage", squeeze_ ? "fire module (squeeze conv1x1 F->F/4, BN, LReLU; expand conv1x1 + "
                             "conv3x3 F/4->F/2 each, concat, BN, LReLU)"
                           : "conv3x3 F->F, BN, LReLU"},
        {"encoder",
         "conv3x3 2->F (BN, LReLU), k x [stage, avgpool 2], conv3x3 F->code channels (linear)"},
        {"decoder",
         "conv3x3 code->F (BN, LReLU), k x [upsample 2 (nearest), stage], conv3x3 F->2 (BN, "
         "LReLU), 2 RefineNet units, conv3x3 2->2, sigmoid"},
        {"leaky_relu_slope", kSlope},
        {"batchnorm_eps", kKerasBn.eps},
        {"batchnorm_momentum", kKerasBn.momentum},
        {"init", kZeroOutputInit}}
        .dump();
  }

 private:
  std::shared_ptr<nn::Module> stage(std::int64_t f) {
    nn::Sequential s;
    if (squeeze_) {
      s->push_back(Fire(f));
    } else {
      s->push_back(ConvBn(f, f, 3, 3, true, kKerasBn));
      s->push_back(nn::Functional(lrelu));
    }
    return s.ptr();
  }

  std::int64_t m_;
  bool squeeze_;
  std::int64_t halvings_ = 0, side_ = kSide, code_channels_ = 2;
  ConvBn enc_head_{nullptr};
  nn::ModuleList enc_stages_, dec_stages_;
  nn::Conv2d enc_tail_{nullptr};
  ConvBn dec_head_{nullptr}, dec_to2_{nullptr};
  RefineNet refine1_{nullptr}, refine2_{nullptr};
  nn::Conv2d out_{nullptr};
};

template <class M>
class Adapter final : public CsiNetwork {
 public:
  explicit Adapter(std::shared_ptr<M> m) : m_(std::move(m)) {
    glorot_init(*m_);
    m_->init_output();
  }
  at::Tensor encode(const at::Tensor& u) override { return m_->encode(u); }
  at::Tensor decode(const at::Tensor& code) override { return m_->decode(code); }
  torch::nn::Module& module() override { return *m_; }
  std::string hyper_parameters_json() const override { return m_->hyper_json(); }

 private:
  std::shared_ptr<M> m_;
};

}  // namespace

std::unique_ptr<CsiNetwork> make_csi_network(CsiArch arch, std::size_t cr) {
  const auto m = static_cast<std::int64_t>(csi_code_values(arch, cr));
  const auto r = static_cast<std::int64_t>(cr);
  switch (arch) {
    case CsiArch::CsiNet:
      return std::make_unique<Adapter<CsiNetModule>>(std::make_shared<CsiNetModule>(m));
    case CsiArch::CrNet:
      return std::make_unique<Adapter<CrNetModule>>(std::make_shared<CrNetModule>(m));
    case CsiArch::CsiNetPlus:
      return std::make_unique<Adapter<CsiNetPlusModule>>(std::make_shared<CsiNetPlusModule>(m));
    case CsiArch::ConvCsiNet:
      return std::make_unique<Adapter<ConvCsiNetModule>>(
          std::make_shared<ConvCsiNetModule>(m, r, false));
    case CsiArch::ConvSquCsiNet:
      return std::make_unique<Adapter<ConvCsiNetModule>>(
          std::make_shared<ConvCsiNetModule>(m, r, true));
  }
  throw std::invalid_argument("unknown CSI architecture");
}

}  // namespace linksim::detail
