// qa_constellation: Constellation and the mappers (sim/constellation.hpp, blocks/mapper.cpp):
// unit energy, labelling, Gray property, noiseless round trips through every demapper, and a
// cross-check against IT++'s own modulators.
#define BOOST_TEST_MODULE qa_constellation
#include <boost/test/unit_test.hpp>

#include <itpp/comm/modulator.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <complex>
#include <span>
#include <vector>

#include "blocks/blocks.hpp"
#include "channels/channels.hpp"
#include "qa_common.hpp"
#include "sim/constellation.hpp"
#include "sim/random.hpp"

using namespace linksim;

namespace {

const Modulation kAll[] = {Modulation::Bpsk, Modulation::Qpsk, Modulation::Qam16};
const DemapperKind kDemappers[] = {DemapperKind::Hard,       DemapperKind::Exact,
                                   DemapperKind::MaxLog,     DemapperKind::ItppHard,
                                   DemapperKind::ItppLogMap, DemapperKind::ItppMaxLog};

bool is_soft(DemapperKind k) {
  return k == DemapperKind::Exact || k == DemapperKind::MaxLog || k == DemapperKind::ItppLogMap ||
         k == DemapperKind::ItppMaxLog;
}

Bits random_bits(std::size_t n, std::uint64_t seed) {
  RandomStream rng(seed);
  Bits b(n);
  rng.fill_bits(std::span(b.memptr(), n));
  return b;
}

/// Bits of every label 0..M-1 in order, MSB first (the documented convention).
Bits all_labels(unsigned k) {
  const unsigned m = 1U << k;
  Bits b(static_cast<arma::uword>(m) * k);
  for (unsigned l = 0; l < m; ++l) {
    for (unsigned j = 0; j < k; ++j)
      b(l * k + j) = static_cast<std::uint8_t>((l >> (k - 1 - j)) & 1U);
  }
  return b;
}

std::vector<std::complex<double>> sorted_points(std::vector<std::complex<double>> v) {
  auto key = [](const std::complex<double>& a, const std::complex<double>& b) {
    const double ra = std::round(a.real() * 1e9), rb = std::round(b.real() * 1e9);
    if (ra != rb) return ra < rb;
    return std::round(a.imag() * 1e9) < std::round(b.imag() * 1e9);
  };
  std::sort(v.begin(), v.end(), key);
  return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(constellation)

BOOST_AUTO_TEST_CASE(sizes_and_dimensions) {
  BOOST_TEST(Constellation(Modulation::Bpsk).bits_per_symbol() == 1U);
  BOOST_TEST(Constellation(Modulation::Qpsk).bits_per_symbol() == 2U);
  BOOST_TEST(Constellation(Modulation::Qam16).bits_per_symbol() == 4U);
  BOOST_TEST(Constellation(Modulation::Bpsk).is_real());
  BOOST_TEST(!Constellation(Modulation::Qpsk).is_real());
  BOOST_TEST(!Constellation(Modulation::Qam16).is_real());
  for (Modulation m : kAll) {
    const Constellation c(m);
    BOOST_TEST(c.points().n_elem == (1U << c.bits_per_symbol()));
  }
}

BOOST_AUTO_TEST_CASE(unit_average_energy_over_the_constellation) {
  for (Modulation m : kAll) {
    const Constellation c(m);
    double e = 0;
    for (const auto& p : c.points()) e += std::norm(p);
    e /= static_cast<double>(c.points().n_elem);
    BOOST_TEST(std::abs(e - 1.0) <= 4e-16, to_string(m) << ": average energy " << e);
  }
}

BOOST_AUTO_TEST_CASE(documented_geometry) {
  const double a = 1.0 / std::sqrt(2.0), b = 1.0 / std::sqrt(10.0);
  const Constellation bpsk(Modulation::Bpsk);
  BOOST_TEST(bpsk.points()(0) == std::complex<double>(1.0, 0.0));  // bit 0 -> +1
  BOOST_TEST(bpsk.points()(1) == std::complex<double>(-1.0, 0.0));
  const Constellation qpsk(Modulation::Qpsk);
  for (unsigned l = 0; l < 4; ++l) {
    // bit 0 (MSB) -> I sign, bit 1 -> Q sign; bit value 0 -> +.
    const std::complex<double> expect((l & 2U) ? -a : a, (l & 1U) ? -a : a);
    BOOST_TEST(std::abs(qpsk.points()(l) - expect) <= 1e-15, "label " << l);
  }
  const Constellation qam(Modulation::Qam16);
  for (const auto& p : qam.points()) {
    for (double v : {p.real(), p.imag()}) {
      const double level = v / b;
      BOOST_TEST(std::abs(level - std::round(level)) <= 1e-12);
      BOOST_TEST((std::abs(std::round(level)) == 1.0 || std::abs(std::round(level)) == 3.0),
                 "level " << level);
    }
  }
  // The 16 points are distinct.
  for (unsigned i = 0; i < 16; ++i) {
    for (unsigned j = i + 1; j < 16; ++j)
      BOOST_TEST(std::abs(qam.points()(i) - qam.points()(j)) > 0.5 * b);
  }
}

BOOST_AUTO_TEST_CASE(bit_accessor_is_msb_first) {
  const Constellation c(Modulation::Qam16);
  for (unsigned l = 0; l < 16; ++l) {
    for (unsigned b = 0; b < 4; ++b) BOOST_TEST(c.bit(l, b) == ((l >> (3 - b)) & 1U));
  }
}

BOOST_AUTO_TEST_CASE(gray_labelling) {
  // Nearest neighbours (points at the minimum distance) differ in exactly one bit.
  for (Modulation m : kAll) {
    const Constellation c(m);
    const auto& p = c.points();
    double dmin = 1e9;
    for (arma::uword i = 0; i < p.n_elem; ++i) {
      for (arma::uword j = i + 1; j < p.n_elem; ++j) dmin = std::min(dmin, std::abs(p(i) - p(j)));
    }
    unsigned pairs = 0;
    for (arma::uword i = 0; i < p.n_elem; ++i) {
      for (arma::uword j = i + 1; j < p.n_elem; ++j) {
        if (std::abs(p(i) - p(j)) < dmin * (1 + 1e-9)) {
          ++pairs;
          BOOST_TEST(std::popcount(static_cast<unsigned>(i ^ j)) == 1,
                     to_string(m) << ": neighbours " << i << " and " << j);
        }
      }
    }
    // A square grid of side s has 2 s (s - 1) nearest-neighbour pairs (BPSK: 1).
    const unsigned expected = m == Modulation::Bpsk ? 1U : m == Modulation::Qpsk ? 4U : 24U;
    BOOST_TEST(pairs == expected, to_string(m));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mapper)

BOOST_AUTO_TEST_CASE(maps_labels_onto_the_table) {
  for (Modulation m : kAll) {
    const auto mapper = make_mapper(m);
    BOOST_TEST(mapper->name() == std::string(to_string(m)));
    const unsigned k = mapper->constellation().bits_per_symbol();
    Signal s;
    mapper->map(all_labels(k), s);
    BOOST_TEST(signal_size(s) == (1U << k));
    BOOST_TEST(std::holds_alternative<arma::vec>(s) == (m == Modulation::Bpsk));
    const arma::cx_vec x = to_complex(s);
    for (unsigned l = 0; l < (1U << k); ++l) {
      BOOST_TEST(std::abs(x(l) - mapper->constellation().points()(l)) == 0.0,
                 to_string(m) << " label " << l);
    }
  }
}

BOOST_AUTO_TEST_CASE(unit_energy_over_random_bits) {
  // E|x|^2 over n i.i.d. symbols: the sample mean of |x|^2 has variance Var_l(|p_l|^2) / n.
  const std::size_t n_sym = 1000000;
  for (Modulation m : kAll) {
    const auto mapper = make_mapper(m);
    const unsigned k = mapper->constellation().bits_per_symbol();
    Signal s;
    mapper->map(random_bits(n_sym * k, 17), s);
    const arma::cx_vec x = to_complex(s);
    const double e = arma::mean(arma::square(arma::abs(x)));
    const arma::vec pe = arma::square(arma::abs(mapper->constellation().points()));
    const double var = arma::mean(arma::square(pe - 1.0));
    const double tol = std::max(1e-12, qa::kZ * std::sqrt(var / static_cast<double>(n_sym)));
    BOOST_TEST(std::abs(e - 1.0) <= tol, to_string(m) << ": E|x|^2 = " << e);
  }
}

BOOST_AUTO_TEST_CASE(every_frame_length) {
  // Lengths around the vector widths: BPSK mapping and sign decisions against plain loops.
  RandomStream rng(31);
  const auto mapper = make_mapper(Modulation::Bpsk);
  const auto hard = make_demapper(DemapperKind::Hard, mapper->constellation());
  for (std::size_t n = 1; n <= 70; ++n) {
    Bits b(n);
    rng.fill_bits(std::span(b.memptr(), n));
    Signal x;
    mapper->map(b, x);
    arma::vec y = std::get<arma::vec>(x);
    for (std::size_t i = 0; i < n; ++i) BOOST_REQUIRE_EQUAL(y(i), b(i) ? -1.0 : 1.0);
    std::vector<double> w(n);
    rng.fill_normal(w, 1.0);
    for (std::size_t i = 0; i < n; ++i) y(i) += w[i];
    Bits hat;
    arma::vec llr;
    hard->demap(Equalized{Signal(y), arma::vec{1.0}}, hat, llr);
    BOOST_REQUIRE_EQUAL(hat.n_elem, n);
    for (std::size_t i = 0; i < n; ++i) BOOST_REQUIRE_EQUAL(hat(i), y(i) < 0 ? 1 : 0);
  }
}

BOOST_AUTO_TEST_CASE(rejects_partial_symbols) {
  Signal s;
  BOOST_CHECK_THROW(make_mapper(Modulation::Qam16)->map(Bits(6, arma::fill::zeros), s),
                    std::invalid_argument);
  BOOST_CHECK_THROW(make_mapper(Modulation::Qpsk)->map(Bits(3, arma::fill::zeros), s),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(reuses_an_output_of_the_other_kind) {
  // A Signal that held a complex vector gets a real one from BPSK, and vice versa.
  Signal s = arma::cx_vec(3, arma::fill::zeros);
  make_mapper(Modulation::Bpsk)->map(Bits{0, 1, 1}, s);
  BOOST_REQUIRE(std::holds_alternative<arma::vec>(s));
  BOOST_TEST(std::get<arma::vec>(s)(0) == 1.0);
  BOOST_TEST(std::get<arma::vec>(s)(2) == -1.0);
  make_mapper(Modulation::Qpsk)->map(Bits{0, 0, 1, 1}, s);
  BOOST_REQUIRE(std::holds_alternative<arma::cx_vec>(s));
  BOOST_TEST(signal_size(s) == 2U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(round_trip)

BOOST_AUTO_TEST_CASE(noiseless_map_then_demap_gives_the_bits_back) {
  for (Modulation m : kAll) {
    const auto mapper = make_mapper(m);
    const unsigned k = mapper->constellation().bits_per_symbol();
    const Bits bits = random_bits(4096 * k, 99);
    Signal x;
    mapper->map(bits, x);
    // BPSK travels as a real signal on AWGN and as a complex one after a fading channel.
    std::vector<Signal> inputs{x};
    if (m == Modulation::Bpsk) inputs.emplace_back(to_complex(x));
    for (const Signal& y : inputs) {
      for (DemapperKind kind : kDemappers) {
        const auto demapper = make_demapper(kind, mapper->constellation());
        // Moderate n0 only: with very large n0 the per-bit MAP decision at an outer 16-QAM point
        // legitimately differs from the point's label (the inner points of the other class win).
        for (double n0 : {1e-3, 0.1, 0.5}) {
          Equalized eq{y, arma::vec{n0}};
          Bits hat;
          arma::vec llr;
          demapper->demap(eq, hat, llr);
          BOOST_TEST((hat.n_elem == bits.n_elem && arma::all(hat == bits)),
                     to_string(m) << " -> " << demapper->name() << " (n0 " << n0 << ", "
                                  << (std::holds_alternative<arma::vec>(y) ? "real" : "complex")
                                  << ")");
          if (is_soft(kind)) {
            BOOST_TEST(llr.n_elem == bits.n_elem);
            BOOST_TEST(llr.is_finite());
          } else {
            BOOST_TEST(llr.is_empty());
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(hard_decisions_are_nearest_point_decisions) {
  // On noisy samples, hard and itpp_hard both decide the nearest point (brute force here).
  RandomStream rng(2024);
  for (Modulation m : kAll) {
    const auto mapper = make_mapper(m);
    const Constellation& c = mapper->constellation();
    const unsigned k = c.bits_per_symbol();
    const std::size_t n = 20000;
    Signal x;
    mapper->map(random_bits(n * k, 5), x);
    arma::cx_vec y = to_complex(x);
    std::vector<double> w(2 * n);
    rng.fill_normal(w, std::sqrt(0.5 / 2));  // n0 = 0.5: plenty of errors
    for (std::size_t i = 0; i < n; ++i) y(i) += std::complex<double>(w[2 * i], w[2 * i + 1]);

    Bits truth(n * k);
    for (std::size_t i = 0; i < n; ++i) {
      arma::uword best = 0;
      for (arma::uword s = 1; s < c.points().n_elem; ++s) {
        if (std::norm(y(i) - c.points()(s)) < std::norm(y(i) - c.points()(best))) best = s;
      }
      for (unsigned b = 0; b < k; ++b)
        truth(i * k + b) = static_cast<std::uint8_t>((best >> (k - 1 - b)) & 1U);
    }
    for (DemapperKind kind : {DemapperKind::Hard, DemapperKind::ItppHard, DemapperKind::MaxLog,
                              DemapperKind::ItppMaxLog}) {
      const auto d = make_demapper(kind, c);
      Bits hat;
      arma::vec llr;
      d->demap(Equalized{Signal(y), arma::vec{0.5}}, hat, llr);
      const auto differing = arma::accu(hat != truth);
      BOOST_TEST(differing == 0U, to_string(m)
                                      << " " << d->name() << ": " << differing << " bits differ");
    }
    if (m == Modulation::Bpsk) {  // the real fast path decides by the sign of the real part
      const auto d = make_demapper(DemapperKind::Hard, c);
      Bits hat;
      arma::vec llr;
      d->demap(Equalized{Signal(arma::vec(arma::real(y))), arma::vec{0.5}}, hat, llr);
      BOOST_TEST(arma::accu(hat != truth) == 0U);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(itpp_cross_check)

BOOST_AUTO_TEST_CASE(same_point_sets_as_itpp) {
  const std::pair<Modulation, itpp::cvec> refs[] = {
      {Modulation::Bpsk, itpp::BPSK_c().get_symbols()},
      {Modulation::Qpsk, itpp::QAM(4).get_symbols()},  // itpp::QPSK sits on the axes instead
      {Modulation::Qam16, itpp::QAM(16).get_symbols()},
  };
  for (const auto& [m, ref] : refs) {
    const Constellation c(m);
    BOOST_REQUIRE_EQUAL(static_cast<arma::uword>(ref.size()), c.points().n_elem);
    std::vector<std::complex<double>> ours(c.points().begin(), c.points().end()), theirs;
    for (int i = 0; i < ref.size(); ++i) theirs.push_back(ref(i));
    ours = sorted_points(ours);
    theirs = sorted_points(theirs);
    for (std::size_t i = 0; i < ours.size(); ++i) {
      BOOST_TEST(std::abs(ours[i] - theirs[i]) <= 1e-12,
                 to_string(m) << ": " << ours[i] << " vs " << theirs[i]);
    }
  }
}

BOOST_AUTO_TEST_CASE(itpp_qam16_decides_the_same_points) {
  // IT++'s own QAM(16) slicer (its own table and labels) picks the same point as our hard demapper.
  const Constellation c(Modulation::Qam16);
  const itpp::QAM qam(16);
  const itpp::cvec table = qam.get_symbols();
  RandomStream rng(8);
  const std::size_t n = 20000;
  std::vector<double> w(2 * n);
  rng.fill_normal(w, 0.4);
  itpp::cvec rx(static_cast<int>(n));
  arma::cx_vec y(n);
  for (std::size_t i = 0; i < n; ++i) {
    y(i) = c.points()(i % 16) + std::complex<double>(w[2 * i], w[2 * i + 1]);
    rx(static_cast<int>(i)) = y(i);
  }
  const itpp::ivec idx = qam.demodulate(rx);
  const auto d = make_demapper(DemapperKind::Hard, c);
  Bits hat;
  arma::vec llr;
  d->demap(Equalized{Signal(y), arma::vec{1.0}}, hat, llr);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned label = 0;
    for (unsigned b = 0; b < 4; ++b) label = (label << 1) | hat(4 * i + b);
    if (std::abs(c.points()(label) - table(idx(static_cast<int>(i)))) > 1e-12) ++mismatches;
  }
  BOOST_TEST(mismatches == 0U);
}

BOOST_AUTO_TEST_SUITE_END()
