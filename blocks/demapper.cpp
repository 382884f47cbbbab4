#include <itpp/comm/modulator.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "blocks/blocks.hpp"
#include "sim/kernels.hpp"

namespace linksim {
namespace {

/// Sample i of a signal as a complex number (real signals have no quadrature part).
class SampleView {
 public:
  explicit SampleView(const Signal& s)
      : re_(std::get_if<arma::vec>(&s)), cx_(std::get_if<arma::cx_vec>(&s)) {}
  std::complex<double> operator()(arma::uword i) const {
    return cx_ != nullptr ? (*cx_)(i) : std::complex<double>((*re_)(i), 0.0);
  }
  double real(arma::uword i) const { return cx_ != nullptr ? (*cx_)(i).real() : (*re_)(i); }

 private:
  const arma::vec* re_;
  const arma::cx_vec* cx_;
};

double noise_at(const arma::vec& n0, arma::uword i) {
  return n0.n_elem == 1 ? n0(0) : n0(i);
}

/// Nearest-point decisions by per-dimension slicing (the constellations are Gray and square).
class HardDemapper final : public Demapper {
 public:
  explicit HardDemapper(const Constellation& c) : c_(c) {}
  std::string name() const override { return "hard"; }

  void demap(const Equalized& in, Bits& bits_hat, arma::vec& llr) override {
    llr.reset();
    const arma::uword n = signal_size(in.y);
    const unsigned k = c_.bits_per_symbol();
    bits_hat.set_size(n * k);
    std::uint8_t* out = bits_hat.memptr();
    if (const auto* re = std::get_if<arma::vec>(&in.y)) {  // real BPSK fast path
      if (c_.modulation() != Modulation::Bpsk)
        throw std::logic_error("real signal, complex mapper");
      kernels::sign_decisions(re->memptr(), out, n);
      return;
    }
    const SampleView y(in.y);
    const double two_a = 2.0 / std::sqrt(10.0);
    for (arma::uword i = 0; i < n; ++i) {
      const std::complex<double> v = y(i);
      switch (c_.modulation()) {
        case Modulation::Bpsk:
          out[i] = v.real() < 0.0 ? 1 : 0;
          break;
        case Modulation::Qpsk:
          out[2 * i] = v.real() < 0.0 ? 1 : 0;
          out[2 * i + 1] = v.imag() < 0.0 ? 1 : 0;
          break;
        case Modulation::Qam16:  // per dimension: b_msb = (v > 0), b_lsb = (|v| < 2a)
          out[4 * i] = v.real() > 0.0 ? 1 : 0;
          out[4 * i + 1] = std::abs(v.real()) < two_a ? 1 : 0;
          out[4 * i + 2] = v.imag() > 0.0 ? 1 : 0;
          out[4 * i + 3] = std::abs(v.imag()) < two_a ? 1 : 0;
          break;
      }
    }
  }

 private:
  Constellation c_;
};

/// Exact or max-log LLRs by enumerating the constellation:
/// llr_b = log sum_{s: b=0} exp(-|y-s|^2/n0) - log sum_{s: b=1} exp(-|y-s|^2/n0).
class LlrDemapper final : public Demapper {
 public:
  LlrDemapper(const Constellation& c, bool max_log) : c_(c), max_log_(max_log) {}
  std::string name() const override { return max_log_ ? "maxlog" : "exact"; }

  void demap(const Equalized& in, Bits& bits_hat, arma::vec& llr) override {
    const arma::uword n = signal_size(in.y);
    const unsigned k = c_.bits_per_symbol();
    const unsigned m = 1U << k;
    const arma::cx_vec& pts = c_.points();
    bits_hat.set_size(n * k);
    llr.set_size(n * k);
    const SampleView y(in.y);
    std::array<double, 16> metric{};
    for (arma::uword i = 0; i < n; ++i) {
      const std::complex<double> v = y(i);
      const double n0 = noise_at(in.n0, i);
      for (unsigned s = 0; s < m; ++s) metric[s] = -std::norm(v - pts(s)) / n0;
      for (unsigned b = 0; b < k; ++b) {
        const double l = combine(metric, m, b, 0) - combine(metric, m, b, 1);
        llr(i * k + b) = l;
        bits_hat(i * k + b) = l < 0.0 ? 1 : 0;
      }
    }
  }

 private:
  /// log-sum-exp (or max) of the metrics of the points whose bit b equals `value`.
  double combine(const std::array<double, 16>& metric, unsigned m, unsigned b,
                 unsigned value) const {
    double best = -std::numeric_limits<double>::infinity();
    for (unsigned s = 0; s < m; ++s) {
      if (c_.bit(s, b) == value) best = std::max(best, metric[s]);
    }
    if (max_log_) return best;
    double sum = 0.0;
    for (unsigned s = 0; s < m; ++s) {
      if (c_.bit(s, b) == value) sum += std::exp(metric[s] - best);
    }
    return best + std::log(sum);
  }

  Constellation c_;
  bool max_log_;
};

/// The IT++ reference demodulator (Modulator_2D built from our constellation table).
class ItppDemapper final : public Demapper {
 public:
  ItppDemapper(const Constellation& c, DemapperKind kind) : kind_(kind) {
    const unsigned m = static_cast<unsigned>(c.points().n_elem);
    itpp::cvec symbols(static_cast<int>(m));
    itpp::ivec labels(static_cast<int>(m));
    for (unsigned s = 0; s < m; ++s) {
      symbols(static_cast<int>(s)) = c.points()(s);
      labels(static_cast<int>(s)) = static_cast<int>(s);
    }
    modulator_.set(symbols, labels);
  }
  std::string name() const override {
    switch (kind_) {
      case DemapperKind::ItppLogMap:
        return "itpp_logmap";
      case DemapperKind::ItppMaxLog:
        return "itpp_maxlog";
      default:
        return "itpp_hard";
    }
  }

  void demap(const Equalized& in, Bits& bits_hat, arma::vec& llr) override {
    const arma::uword n = signal_size(in.y);
    const SampleView y(in.y);
    itpp::cvec rx(static_cast<int>(n));
    for (arma::uword i = 0; i < n; ++i) rx(static_cast<int>(i)) = y(i);
    if (kind_ == DemapperKind::ItppHard) {
      const itpp::bvec b = modulator_.demodulate_bits(rx);
      copy_bits(b, bits_hat);
      llr.reset();
      return;
    }
    // Per-symbol noise: scale sample i by 1/sqrt(n0_i) and pass it as the channel gain, so that
    // IT++'s metric |r - c s|^2 / N0 with N0 = 1 equals |y - s|^2 / n0_i.
    itpp::cvec gain(static_cast<int>(n));
    for (arma::uword i = 0; i < n; ++i) {
      const double inv = 1.0 / std::sqrt(noise_at(in.n0, i));
      rx(static_cast<int>(i)) *= inv;
      gain(static_cast<int>(i)) = inv;
    }
    itpp::vec soft;
    modulator_.demodulate_soft_bits(
        rx, gain, 1.0, soft, kind_ == DemapperKind::ItppLogMap ? itpp::LOGMAP : itpp::APPROX);
    llr.set_size(static_cast<arma::uword>(soft.size()));
    bits_hat.set_size(llr.n_elem);
    for (arma::uword i = 0; i < llr.n_elem; ++i) {
      llr(i) = soft(static_cast<int>(i));
      bits_hat(i) = llr(i) < 0.0 ? 1 : 0;
    }
  }

 private:
  static void copy_bits(const itpp::bvec& b, Bits& out) {
    out.set_size(static_cast<arma::uword>(b.size()));
    for (int i = 0; i < b.size(); ++i)
      out(static_cast<arma::uword>(i)) = b(i) == itpp::bin(1) ? 1 : 0;
  }

  DemapperKind kind_;
  itpp::Modulator_2D modulator_;
};

}  // namespace

std::unique_ptr<Demapper> make_demapper(DemapperKind kind, const Constellation& constellation) {
  switch (kind) {
    case DemapperKind::Hard:
      return std::make_unique<HardDemapper>(constellation);
    case DemapperKind::Exact:
      return std::make_unique<LlrDemapper>(constellation, false);
    case DemapperKind::MaxLog:
      return std::make_unique<LlrDemapper>(constellation, true);
    case DemapperKind::ItppHard:
    case DemapperKind::ItppLogMap:
    case DemapperKind::ItppMaxLog:
      return std::make_unique<ItppDemapper>(constellation, kind);
  }
  throw std::invalid_argument("unknown demapper kind");
}

}  // namespace linksim
