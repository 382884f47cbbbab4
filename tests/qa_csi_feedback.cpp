// qa_csi_feedback: the CSI feedback blocks (CS encoder/decoder, quantised feedback) and the MRT
// QPSK downlink against hand-computed gains and the Gaussian tail.
#define BOOST_TEST_MODULE qa_csi_feedback
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <complex>

#include "blocks/csi_feedback.hpp"
#include "qa_common.hpp"

using namespace linksim;
using cx = std::complex<double>;

namespace {

/// A k-sparse real vector of length n with N(0, 1) nonzeros.
arma::vec sparse_vector(std::size_t n, std::size_t k, RandomStream& rng) {
  arma::vec x(n, arma::fill::zeros);
  for (std::size_t i = 0; i < k; ++i) {
    x(static_cast<arma::uword>(rng.next_u64() % n)) = rng.normal();
  }
  return x;
}

double nmse_db_of(const arma::mat& x, const arma::mat& x_hat) {
  return 10.0 * std::log10(arma::accu(arma::square(x - x_hat)) / arma::accu(arma::square(x)));
}

}  // namespace

BOOST_AUTO_TEST_CASE(cs_feedback_shapes_and_sparse_recovery) {
  RandomStream rng(3);
  arma::mat x(2048, 3);
  for (arma::uword c = 0; c < x.n_cols; ++c) x.col(c) = sparse_vector(2048, 40, rng);
  for (CsMethod m : {CsMethod::Omp, CsMethod::Amp}) {
    CsFeedbackOptions o;
    o.method = m;
    o.cr = 4;
    const auto fb = make_cs_feedback(o);
    BOOST_TEST(fb->feedback_values() == 512U);
    const arma::mat y = fb->encode(x);
    BOOST_TEST(y.n_rows == 512U);
    BOOST_TEST(y.n_cols == 3U);
    const arma::mat x_hat = fb->decode(y);
    BOOST_TEST(x_hat.n_rows == 2048U);
    // 40-sparse from 512 noiseless measurements: well inside the recovery region.
    BOOST_TEST(nmse_db_of(x, x_hat) < -40.0, fb->name() << ": " << nmse_db_of(x, x_hat));
  }
}

BOOST_AUTO_TEST_CASE(the_sensing_matrix_depends_only_on_its_seed) {
  RandomStream rng(4);
  const arma::mat x = sparse_vector(2048, 10, rng);
  CsFeedbackOptions o;
  o.cr = 16;
  const arma::mat a = make_cs_feedback(o)->encode(x);
  const arma::mat b = make_cs_feedback(o)->encode(x);
  BOOST_TEST(arma::approx_equal(a, b, "absdiff", 0.0));
  o.sensing_seed = 2;
  BOOST_TEST(!arma::approx_equal(a, make_cs_feedback(o)->encode(x), "absdiff", 1e-6));
}

BOOST_AUTO_TEST_CASE(quantised_feedback_is_within_half_a_step) {
  RandomStream rng(5);
  const arma::mat x = sparse_vector(2048, 50, rng);
  CsFeedbackOptions o;
  o.cr = 8;
  const arma::mat exact = make_cs_feedback(o)->encode(x);
  const double m = static_cast<double>(exact.n_rows);
  const double clip = 3.0 * arma::norm(exact) / std::sqrt(m);
  for (unsigned bits : {4U, 8U, 12U}) {
    o.feedback_bits = bits;
    const arma::mat q = make_cs_feedback(o)->encode(x);
    const double step = 2.0 * clip / std::pow(2.0, bits);
    // Inside the clip range the error is at most half a step; beyond it the value saturates.
    const arma::uvec inside = arma::find(arma::abs(exact) <= clip);
    BOOST_TEST(arma::abs(q.elem(inside) - exact.elem(inside)).max() <= step / 2 * (1 + 1e-12),
               bits << " bits");
    BOOST_TEST(arma::abs(q).max() <= clip);
  }
  o.feedback_bits = 33;
  BOOST_CHECK_THROW(make_cs_feedback(o), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(mrt_gain_and_expected_ber_match_hand_computation) {
  // Two subcarriers, two antennas. Perfect CSI: g_k = ||h_k||. An estimate orthogonal to h_1
  // gives g_1 = 0 (BER 1/2). Expected BER per bit: Q(|g| / sqrt(n0)).
  arma::cx_mat h = {{cx(1, 0), cx(0, 1)}, {cx(0.6, 0), cx(0, 0.8)}};
  arma::cx_mat est = h;
  est.row(1) = arma::cx_rowvec{cx(0.8, 0), cx(0, -0.6)};  // h_1 conj(est_1)^T = 0
  BOOST_REQUIRE(std::abs(arma::accu(h.row(1) % arma::conj(est.row(1)))) < 1e-12);
  const double n0 = 0.5;
  RandomStream rng(1);
  const MrtCounts perfect = mrt_qpsk_link(h, h, n0, 1, rng);
  BOOST_TEST(perfect.bits == 4U);
  const double expected_perfect =
      2 * qa::q(std::sqrt(2.0) / std::sqrt(n0)) + 2 * qa::q(1.0 / std::sqrt(n0));
  BOOST_TEST(perfect.expected_errors == expected_perfect, boost::test_tools::tolerance(1e-12));
  RandomStream rng2(1);
  const MrtCounts partial = mrt_qpsk_link(h, est, n0, 1, rng2);
  BOOST_TEST(partial.expected_errors == 2 * qa::q(std::sqrt(2.0) / std::sqrt(n0)) + 1.0,
             boost::test_tools::tolerance(1e-12));
  BOOST_CHECK_THROW(mrt_qpsk_link(h, est.rows(0, 0), n0, 1, rng2), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(mrt_simulated_ber_matches_its_expectation) {
  // A random 64 x 8 channel, a noisy estimate, many symbols: the counted errors agree with the
  // sum of the per-bit error probabilities within the binomial tolerance.
  RandomStream rng(9);
  arma::cx_mat h(64, 8), est(64, 8);
  for (arma::uword i = 0; i < h.n_elem; ++i) {
    h(i) = cx(rng.normal(), rng.normal()) / std::sqrt(2.0);
    est(i) = h(i) + 0.7 * cx(rng.normal(), rng.normal()) / std::sqrt(2.0);
  }
  for (const arma::cx_mat* e : {&h, &est}) {
    RandomStream link(11);
    const MrtCounts c = mrt_qpsk_link(h, *e, 4.0, 2000, link);
    const double n = static_cast<double>(c.bits);
    const double p = c.expected_errors / n;
    BOOST_TEST_INFO("expected BER " << p << ", counted " << c.bit_errors << " of " << c.bits);
    BOOST_TEST(std::abs(static_cast<double>(c.bit_errors) / n - p) < qa::binomial_tolerance(p, n));
  }
}
