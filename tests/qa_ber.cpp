// qa_ber: end-to-end bit error rates of links built by the registry (build_link) and run by the
// Monte Carlo engine (run_point), against closed forms computed here with std::erfc.
//
// Tolerance: with n independent bit decisions (4e6 to 1.6e7 per point here), |ber_hat - p| <= z
// sqrt(p (1 - p) / n), z = kZ = 5. On block fading the errors of one block are dependent; there the
// independent units are the fading blocks, and since the error fraction of a block lies in [0, 1]
// its variance is at most p (1 - p), so |ber_hat - p| <= z sqrt(p (1 - p) / n_blocks) is a
// conservative bound.
#define BOOST_TEST_MODULE qa_ber
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>
#include <string>

#include "cli/registry.hpp"
#include "qa_common.hpp"
#include "sim/montecarlo.hpp"
#include "sim/snr.hpp"

using namespace linksim;
using qa::q;

namespace {

// Closed forms (Eb/N0 linear).
double ber_bpsk_awgn(double g) {
  return q(std::sqrt(2.0 * g));
}
double ber_qam16_awgn(double g) {
  const double r = std::sqrt(0.8 * g);
  return (3.0 * q(r) + 2.0 * q(3.0 * r) - q(5.0 * r)) / 4.0;
}
double ber_bpsk_rayleigh(double g) {
  return 0.5 * (1.0 - std::sqrt(g / (1.0 + g)));
}

struct Run {
  Counts counts;
  SnrPoint snr;
  double ber() const {
    return static_cast<double>(counts.bit_errors) / static_cast<double>(counts.bits);
  }
};

Run simulate(const PointConfig& pc, SnrKind kind, double snr_db, std::uint64_t max_bits,
             std::uint64_t seed = 1, unsigned threads = 2) {
  Run r;
  r.snr = make_snr_point(kind, snr_db, point_bits_per_symbol(pc));
  PointJob job;
  job.n0 = r.snr.n0;
  job.seed = seed;
  job.point_index = 0;
  job.threads = threads;
  job.stop.max_bits = max_bits;
  const SimulatorFactory factory = [&pc]() -> std::unique_ptr<FrameSimulator> {
    return build_link(pc);
  };
  r.counts = run_point(factory, job).counts;
  BOOST_TEST_REQUIRE(r.counts.bits == max_bits);  // max_bits is a multiple of frame_bits here
  return r;
}

void check_ber(const Run& r, double p, double n_independent, const std::string& what) {
  const double tol = qa::binomial_tolerance(p, n_independent);
  BOOST_TEST(std::abs(r.ber() - p) <= tol,
             what << ": BER " << r.ber() << " vs closed form " << p << " (tolerance " << tol << ", "
                  << r.counts.bit_errors << " errors in " << r.counts.bits << " bits)");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(awgn)

BOOST_AUTO_TEST_CASE(bpsk) {
  const auto pc = qa::make_point({{"link.mapper", "bpsk"}, {"link.frame_bits", "4000"}});
  for (double ebn0_db : {0.0, 4.0, 7.0}) {
    const std::uint64_t n = ebn0_db < 7.0 ? 8000000 : 16000000;
    const Run r = simulate(pc, SnrKind::EbN0, ebn0_db, n);
    check_ber(r, ber_bpsk_awgn(qa::db_to_linear(ebn0_db)), static_cast<double>(n),
              "BPSK AWGN " + std::to_string(ebn0_db) + " dB");
  }
}

BOOST_AUTO_TEST_CASE(qpsk_per_bit_gray) {
  const auto pc = qa::make_point({{"link.mapper", "qpsk"}, {"link.frame_bits", "4000"}});
  for (double ebn0_db : {2.0, 6.0}) {
    const std::uint64_t n = 8000000;
    const Run r = simulate(pc, SnrKind::EbN0, ebn0_db, n);
    check_ber(r, ber_bpsk_awgn(qa::db_to_linear(ebn0_db)), static_cast<double>(n),
              "QPSK AWGN " + std::to_string(ebn0_db) + " dB");
  }
}

BOOST_AUTO_TEST_CASE(qam16_gray) {
  const auto pc = qa::make_point({{"link.mapper", "qam16"}, {"link.frame_bits", "4000"}});
  for (double ebn0_db : {4.0, 8.0}) {
    const std::uint64_t n = 8000000;
    const Run r = simulate(pc, SnrKind::EbN0, ebn0_db, n);
    // The two bits of one 16-QAM dimension share its noise sample, so only n/2 decisions are
    // independent.
    check_ber(r, ber_qam16_awgn(qa::db_to_linear(ebn0_db)), static_cast<double>(n) / 2.0,
              "16-QAM AWGN " + std::to_string(ebn0_db) + " dB");
  }
}

BOOST_AUTO_TEST_CASE(qam16_swept_in_esn0) {
  // Es/N0 = Eb/N0 + 10 log10(4): 12 dB Es/N0 is 5.98 dB Eb/N0.
  const auto pc = qa::make_point(
      {{"link.mapper", "qam16"}, {"link.frame_bits", "4000"}, {"sweep.snr", "esn0"}});
  const std::uint64_t n = 8000000;
  const Run r = simulate(pc, SnrKind::EsN0, 12.0, n, 3);
  BOOST_TEST(std::abs(r.snr.n0 - std::pow(10.0, -1.2)) <= 1e-15);
  const double ebn0 = qa::db_to_linear(12.0) / 4.0;
  check_ber(r, ber_qam16_awgn(ebn0), static_cast<double>(n) / 2.0, "16-QAM AWGN Es/N0 12 dB");
}

BOOST_AUTO_TEST_CASE(equivalent_demappers_give_identical_counts) {
  // The demappers draw no randomness, so demappers that take the same decisions give the same
  // counts for the same seed: nearest-point decisions (hard, maxlog, IT++ hard and max-log) for
  // every modulation, and exact LLRs too where they are linear in y (BPSK, QPSK).
  for (const char* m : {"bpsk", "qpsk", "qam16"}) {
    std::vector<std::string> kinds{"hard", "maxlog", "itpp_hard", "itpp_maxlog"};
    if (std::string(m) != "qam16") {
      kinds.push_back("exact");
      kinds.push_back("itpp_logmap");
    }
    Counts first;
    for (std::size_t i = 0; i < kinds.size(); ++i) {
      const auto pc = qa::make_point(
          {{"link.mapper", m}, {"link.frame_bits", "2000"}, {"link.demapper", kinds[i]}});
      const Run r = simulate(pc, SnrKind::EbN0, 3.0, 200000, 9);
      if (i == 0) {
        first = r.counts;
        BOOST_TEST(first.bit_errors > 1000U);
      } else {
        BOOST_TEST(r.counts.bit_errors == first.bit_errors, m << ": " << kinds[i] << " vs hard");
        BOOST_TEST(r.counts.frame_errors == first.frame_errors);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(registry_theory_matches_closed_forms) {
  for (double db : {0.0, 3.0, 9.5}) {
    const double g = qa::db_to_linear(db);
    const auto bpsk = point_ber_theory(qa::make_point({{"link.mapper", "bpsk"}}), db);
    const auto qpsk = point_ber_theory(qa::make_point({{"link.mapper", "qpsk"}}), db);
    const auto qam = point_ber_theory(qa::make_point({{"link.mapper", "qam16"}}), db);
    const auto ray = point_ber_theory(qa::make_point({{"link.channel", "rayleigh_block"}}), db);
    BOOST_REQUIRE(bpsk && qpsk && qam && ray);
    BOOST_TEST(std::abs(*bpsk / ber_bpsk_awgn(g) - 1) <= 1e-12);
    BOOST_TEST(std::abs(*qpsk / ber_bpsk_awgn(g) - 1) <= 1e-12);
    BOOST_TEST(std::abs(*qam / ber_qam16_awgn(g) - 1) <= 1e-12);
    BOOST_TEST(std::abs(*ray / ber_bpsk_rayleigh(g) - 1) <= 1e-12);
  }
  // No closed form: LS channel estimates, or 16-QAM with exact-LLR decisions.
  BOOST_TEST(!point_ber_theory(
      qa::make_point({{"link.channel", "rayleigh_block"}, {"rayleigh_block.csi", "ls"}}), 5.0));
  BOOST_TEST(!point_ber_theory(
      qa::make_point({{"link.mapper", "qam16"}, {"link.demapper", "exact"}}), 5.0));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rayleigh)

BOOST_AUTO_TEST_CASE(bpsk_independent_fading_per_symbol) {
  const auto pc = qa::make_point({{"link.mapper", "bpsk"},
                                  {"link.channel", "rayleigh_block"},
                                  {"link.equalizer", "coherent"},
                                  {"rayleigh_block.coherence_symbols", "1"},
                                  {"rayleigh_block.csi", "perfect"},
                                  {"link.frame_bits", "4000"}});
  for (double ebn0_db : {5.0, 15.0}) {
    const std::uint64_t n = 4000000;
    const Run r = simulate(pc, SnrKind::EbN0, ebn0_db, n);
    check_ber(r, ber_bpsk_rayleigh(qa::db_to_linear(ebn0_db)), static_cast<double>(n),
              "BPSK Rayleigh (coherence 1) " + std::to_string(ebn0_db) + " dB");
  }
}

BOOST_AUTO_TEST_CASE(qpsk_per_bit_independent_fading) {
  const auto pc = qa::make_point({{"link.mapper", "qpsk"},
                                  {"link.channel", "rayleigh_block"},
                                  {"rayleigh_block.coherence_symbols", "1"},
                                  {"link.frame_bits", "4000"}});
  const std::uint64_t n = 4000000;
  const Run r = simulate(pc, SnrKind::EbN0, 10.0, n);
  // Both bits of a symbol share its fade: the independent units are the n/2 symbols.
  check_ber(r, ber_bpsk_rayleigh(10.0), static_cast<double>(n) / 2.0, "QPSK Rayleigh 10 dB");
}

BOOST_AUTO_TEST_CASE(bpsk_with_ls_channel_estimates) {
  // Coherent BPSK decides on the sign of Re(conj(h_hat) y) with h_hat = h + e, e ~ CN(0, n0/P)
  // (P pilots), y = h x + w. For jointly circular Gaussian a, b, P(Re(conj(a) b) < 0) =
  // (1 - Re rho) / 2, rho their correlation coefficient: here 1 / sqrt((1 + n0/P)(1 + n0)).
  // P -> infinity gives the perfect-CSI formula.
  for (const char* pilots : {"1", "4"}) {
    const auto pc = qa::make_point({{"link.mapper", "bpsk"},
                                    {"link.channel", "rayleigh_block"},
                                    {"rayleigh_block.coherence_symbols", "1"},
                                    {"rayleigh_block.csi", "ls"},
                                    {"rayleigh_block.pilots", pilots},
                                    {"link.frame_bits", "4000"}});
    const std::uint64_t n = 4000000;
    const Run r = simulate(pc, SnrKind::EbN0, 10.0, n);
    const double n0 = r.snr.n0, p = std::stod(pilots);
    const double ber = 0.5 * (1.0 - 1.0 / std::sqrt((1.0 + n0 / p) * (1.0 + n0)));
    check_ber(r, ber, static_cast<double>(n),
              std::string("BPSK Rayleigh, LS CSI with ") + pilots + " pilot(s), 10 dB");
  }
}

BOOST_AUTO_TEST_CASE(bpsk_block_fading_tolerance_from_blocks) {
  const std::size_t lc = 20;
  const auto pc = qa::make_point({{"link.mapper", "bpsk"},
                                  {"link.channel", "rayleigh_block"},
                                  {"rayleigh_block.coherence_symbols", std::to_string(lc)},
                                  {"link.frame_bits", "4000"}});
  const std::uint64_t n = 8000000;
  const Run r = simulate(pc, SnrKind::EbN0, 10.0, n);
  check_ber(r, ber_bpsk_rayleigh(10.0), static_cast<double>(n / lc),
            "BPSK block Rayleigh (coherence 20) 10 dB");
}

BOOST_AUTO_TEST_SUITE_END()
