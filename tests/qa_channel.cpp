// qa_channel: AWGN and Rayleigh block fading (channels/), and the equalisers
// (blocks/equalizer.cpp). Noise convention (sim/snr.hpp): CN(0, n0) per complex sample, N(0, n0/2)
// per real dimension. Variance checks: sum_i (w_i / sigma)^2 ~ chi-square with n degrees of freedom
// (mean n, variance 2n), so the sample variance / sigma^2 is within kZ sqrt(2/n) of 1.
#define BOOST_TEST_MODULE qa_channel
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <complex>
#include <span>
#include <vector>

#include "blocks/blocks.hpp"
#include "channels/channels.hpp"
#include "qa_common.hpp"
#include "sim/random.hpp"

using namespace linksim;
using qa::kZ;

namespace {

/// Checks that `v` (n real samples) is N(0, var) by its mean and chi-square-distributed power.
void check_real_noise(const arma::vec& v, double var, const std::string& what) {
  const double n = static_cast<double>(v.n_elem);
  const double mean = arma::mean(v);
  const double power = arma::mean(arma::square(v));
  BOOST_TEST(std::abs(mean) <= kZ * std::sqrt(var / n), what << ": mean " << mean);
  BOOST_TEST(std::abs(power / var - 1.0) <= kZ * std::sqrt(2.0 / n),
             what << ": variance " << power << ", expected " << var);
}

/// Checks that `w` is CN(0, n0): each dimension N(0, n0/2), uncorrelated, E|w|^2 = n0.
void check_complex_noise(const arma::cx_vec& w, double n0, const std::string& what) {
  const double n = static_cast<double>(w.n_elem);
  check_real_noise(arma::real(w), n0 / 2, what + " (I)");
  check_real_noise(arma::imag(w), n0 / 2, what + " (Q)");
  // sum |w|^2 / (n0/2) ~ chi-square(2n): E|w|^2 within kZ sqrt(1/n) of n0, relatively.
  const double e = arma::mean(arma::square(arma::abs(w)));
  BOOST_TEST(std::abs(e / n0 - 1.0) <= kZ * std::sqrt(1.0 / n),
             what << ": E|w|^2 " << e << " vs n0 " << n0);
  // E[I Q] = 0 with variance (n0/2)^2 / n.
  const double iq = arma::mean(arma::real(w) % arma::imag(w));
  BOOST_TEST(std::abs(iq) <= kZ * (n0 / 2) / std::sqrt(n), what << ": E[IQ] " << iq);
}

Signal mapped(Modulation m, std::size_t n_sym, std::uint64_t seed) {
  const auto mapper = make_mapper(m);
  RandomStream rng(seed);
  Bits b(n_sym * mapper->constellation().bits_per_symbol());
  rng.fill_bits(std::span(b.memptr(), b.n_elem));
  Signal x;
  mapper->map(b, x);
  return x;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(awgn)

BOOST_AUTO_TEST_CASE(complex_noise_has_variance_n0) {
  const auto ch = make_awgn_channel();
  BOOST_TEST(ch->name() == "awgn");
  for (double n0 : {0.01, 0.3, 2.5}) {
    for (Modulation m : {Modulation::Qpsk, Modulation::Qam16}) {
      const Signal x = mapped(m, 1000000, 1);
      RandomStream rng(123);
      Signal y;
      ChannelState st;
      ch->apply(x, n0, rng, y, st);
      BOOST_REQUIRE(std::holds_alternative<arma::cx_vec>(y));
      BOOST_TEST(st.gain.is_empty());
      BOOST_TEST(st.estimate.is_empty());
      const arma::cx_vec w = std::get<arma::cx_vec>(y) - std::get<arma::cx_vec>(x);
      check_complex_noise(w, n0, std::string(to_string(m)) + " n0 " + std::to_string(n0));
    }
  }
}

BOOST_AUTO_TEST_CASE(real_bpsk_gets_n0_over_2) {
  const auto ch = make_awgn_channel();
  for (double n0 : {0.05, 1.0}) {
    const Signal x = mapped(Modulation::Bpsk, 2000000, 2);
    RandomStream rng(321);
    Signal y;
    ChannelState st;
    ch->apply(x, n0, rng, y, st);
    BOOST_REQUIRE(std::holds_alternative<arma::vec>(y));
    const arma::vec w = std::get<arma::vec>(y) - std::get<arma::vec>(x);
    check_real_noise(w, n0 / 2, "bpsk n0 " + std::to_string(n0));
  }
}

BOOST_AUTO_TEST_CASE(odd_lengths_and_output_reuse) {
  // Short and odd-length frames (remainders of the vectorised fill), with an output Signal of the
  // other kind and other size on entry: results stay finite and have the input's size.
  const auto ch = make_awgn_channel();
  RandomStream rng(9);
  std::vector<std::complex<double>> all_w;
  for (std::size_t n : {1U, 3U, 5U, 7U, 9U, 13U, 100U, 257U, 1001U}) {
    for (int rep = 0; rep < 200; ++rep) {
      const Signal x = arma::cx_vec(n, arma::fill::zeros);
      Signal y = arma::vec(3, arma::fill::ones);
      ChannelState st;
      ch->apply(x, 0.5, rng, y, st);
      BOOST_REQUIRE(std::holds_alternative<arma::cx_vec>(y));
      BOOST_REQUIRE_EQUAL(signal_size(y), n);
      BOOST_REQUIRE(signal_is_finite(y));
      const auto& yc = std::get<arma::cx_vec>(y);
      all_w.insert(all_w.end(), yc.begin(), yc.end());
    }
  }
  check_complex_noise(arma::cx_vec(all_w), 0.5, "odd lengths");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rayleigh_block)

BOOST_AUTO_TEST_CASE(gains_are_cn01_and_constant_per_block) {
  const std::size_t lc = 7, n = 700001;  // last block is partial
  RayleighBlockParams p;
  p.coherence_symbols = lc;
  const auto ch = make_rayleigh_block_channel(p);
  BOOST_TEST(ch->name() == "rayleigh_block");
  const Signal x = mapped(Modulation::Bpsk, n, 3);
  RandomStream rng(44);
  Signal y;
  ChannelState st;
  const double n0 = 0.2;
  ch->apply(x, n0, rng, y, st);
  BOOST_REQUIRE(std::holds_alternative<arma::cx_vec>(y));  // fading makes BPSK complex
  BOOST_REQUIRE_EQUAL(st.gain.n_elem, n);
  BOOST_REQUIRE_EQUAL(st.estimate.n_elem, n);
  BOOST_TEST(arma::all(st.estimate == st.gain));  // perfect CSI

  const std::size_t n_blocks = (n + lc - 1) / lc;
  arma::cx_vec h(n_blocks);
  std::size_t changes_inside = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % lc == 0) {
      h(i / lc) = st.gain(i);
    } else if (st.gain(i) != st.gain(i - 1)) {
      ++changes_inside;
    }
  }
  BOOST_TEST(changes_inside == 0U);
  check_complex_noise(h, 1.0, "block gains");
  // Deep fades: P(|h|^2 < t) = 1 - exp(-t).
  for (double t : {0.01, 0.1, 1.0}) {
    const double p_t = 1.0 - std::exp(-t);
    const double frac = static_cast<double>(arma::accu(arma::square(arma::abs(h)) < t)) /
                        static_cast<double>(n_blocks);
    BOOST_TEST(std::abs(frac - p_t) <= qa::binomial_tolerance(p_t, static_cast<double>(n_blocks)),
               "P(|h|^2 < " << t << ") = " << frac << " vs " << p_t);
  }
  // Consecutive blocks are independent.
  const double c = std::abs(arma::mean(h.head(n_blocks - 1) % arma::conj(h.tail(n_blocks - 1))));
  BOOST_TEST(c <= kZ * std::sqrt(2.0 / static_cast<double>(n_blocks)));
  // What is left after removing h x is CN(0, n0).
  const arma::cx_vec w = std::get<arma::cx_vec>(y) - st.gain % to_complex(x);
  check_complex_noise(w, n0, "rayleigh noise");
}

BOOST_AUTO_TEST_CASE(ls_estimate_error_is_cn0_n0_over_pilots) {
  const std::size_t lc = 10, n = 500000;
  for (std::size_t pilots : {1U, 4U}) {
    RayleighBlockParams p;
    p.coherence_symbols = lc;
    p.csi = CsiMode::LsPilot;
    p.pilots = pilots;
    const auto ch = make_rayleigh_block_channel(p);
    const Signal x = mapped(Modulation::Qpsk, n, 4);
    RandomStream rng(55);
    Signal y;
    ChannelState st;
    const double n0 = 0.4;
    ch->apply(x, n0, rng, y, st);
    arma::cx_vec err(n / lc);
    for (std::size_t b = 0; b < n / lc; ++b) {
      for (std::size_t i = b * lc + 1; i < (b + 1) * lc; ++i)
        BOOST_REQUIRE(st.estimate(i) == st.estimate(b * lc));
      err(b) = st.estimate(b * lc) - st.gain(b * lc);
    }
    check_complex_noise(err, n0 / static_cast<double>(pilots),
                        "LS error, " + std::to_string(pilots) + " pilots");
    const arma::cx_vec w = std::get<arma::cx_vec>(y) - st.gain % to_complex(x);
    check_complex_noise(w, n0, "LS channel noise");
  }
}

BOOST_AUTO_TEST_CASE(rejects_bad_parameters) {
  RayleighBlockParams p;
  p.coherence_symbols = 0;
  BOOST_CHECK_THROW(make_rayleigh_block_channel(p), std::invalid_argument);
  p.coherence_symbols = 5;
  p.csi = CsiMode::LsPilot;
  p.pilots = 0;
  BOOST_CHECK_THROW(make_rayleigh_block_channel(p), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(equalizer)

BOOST_AUTO_TEST_CASE(coherent_undoes_the_gain) {
  const std::size_t n = 10000;
  RayleighBlockParams p;
  p.coherence_symbols = 3;
  const auto ch = make_rayleigh_block_channel(p);
  const Signal x = mapped(Modulation::Qam16, n, 6);
  RandomStream rng(66);
  Signal y;
  ChannelState st;
  ch->apply(x, 0.0, rng, y, st);  // n0 = 0: no noise, so y = h x exactly
  const auto eq = make_equalizer(EqualizerKind::Coherent);
  BOOST_TEST(eq->name() == "coherent");
  Equalized out;
  eq->equalize(y, st, 0.25, out);
  BOOST_REQUIRE_EQUAL(out.n0.n_elem, n);
  const arma::cx_vec xe = std::get<arma::cx_vec>(out.y);
  const arma::cx_vec xc = to_complex(x);
  for (std::size_t i = 0; i < n; ++i) {
    BOOST_TEST(std::abs(xe(i) - xc(i)) <= 1e-9 * (1 + 1 / std::abs(st.gain(i))));
    BOOST_TEST(std::abs(out.n0(i) - 0.25 / std::norm(st.gain(i))) <= 1e-12 * out.n0(i));
  }
}

BOOST_AUTO_TEST_CASE(awgn_state_passes_through) {
  const Signal y = arma::vec{0.5, -1.5, 2.0};
  for (EqualizerKind k : {EqualizerKind::Coherent, EqualizerKind::None}) {
    const auto eq = make_equalizer(k);
    Equalized out;
    eq->equalize(y, ChannelState{}, 0.7, out);
    BOOST_REQUIRE(std::holds_alternative<arma::vec>(out.y));
    BOOST_TEST(arma::all(std::get<arma::vec>(out.y) == std::get<arma::vec>(y)));
    BOOST_REQUIRE_EQUAL(out.n0.n_elem, 1U);
    BOOST_TEST(out.n0(0) == 0.7);
  }
}

BOOST_AUTO_TEST_CASE(none_ignores_the_channel_state) {
  ChannelState st;
  st.gain = arma::cx_vec{{0.0, 2.0}, {3.0, 0.0}};
  st.estimate = st.gain;
  const Signal y = arma::cx_vec{{1.0, 1.0}, {-1.0, 0.5}};
  Equalized out;
  make_equalizer(EqualizerKind::None)->equalize(y, st, 0.1, out);
  BOOST_TEST(arma::all(std::get<arma::cx_vec>(out.y) == std::get<arma::cx_vec>(y)));
  BOOST_TEST(out.n0.n_elem == 1U);
}

BOOST_AUTO_TEST_CASE(coherent_rejects_mismatched_state) {
  ChannelState st;
  st.estimate = arma::cx_vec(4, arma::fill::ones);
  Equalized out;
  BOOST_CHECK_THROW(make_equalizer(EqualizerKind::Coherent)
                        ->equalize(Signal(arma::cx_vec(3, arma::fill::ones)), st, 1.0, out),
                    std::logic_error);
}

BOOST_AUTO_TEST_SUITE_END()
