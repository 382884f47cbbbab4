#include "cli/registry.hpp"

#include <cmath>

#include "blocks/blocks.hpp"
#include "channels/channels.hpp"
#include "sim/theory.hpp"

namespace linksim {
namespace {

ParamSpec choice(std::string key, std::vector<std::string> choices, std::string def,
                 std::string doc) {
  ParamSpec s;
  s.key = std::move(key);
  s.kind = ParamKind::Choice;
  s.choices = std::move(choices);
  s.default_value = std::move(def);
  s.doc = std::move(doc);
  return s;
}

ParamSpec number(std::string key, ParamKind kind, std::string def, double min, double max,
                 std::string doc) {
  ParamSpec s;
  s.key = std::move(key);
  s.kind = kind;
  s.default_value = std::move(def);
  s.min = min;
  s.max = max;
  s.doc = std::move(doc);
  return s;
}

const std::vector<std::pair<std::string_view, Modulation>> kModulations = {
    {"bpsk", Modulation::Bpsk}, {"qpsk", Modulation::Qpsk}, {"qam16", Modulation::Qam16}};
const std::vector<std::pair<std::string_view, EqualizerKind>> kEqualizers = {
    {"none", EqualizerKind::None}, {"coherent", EqualizerKind::Coherent}};
const std::vector<std::pair<std::string_view, DemapperKind>> kDemappers = {
    {"hard", DemapperKind::Hard},
    {"exact", DemapperKind::Exact},
    {"maxlog", DemapperKind::MaxLog},
    {"itpp_hard", DemapperKind::ItppHard},
    {"itpp_logmap", DemapperKind::ItppLogMap},
    {"itpp_maxlog", DemapperKind::ItppMaxLog}};
const std::vector<std::pair<std::string_view, CsiMode>> kCsiModes = {{"perfect", CsiMode::Perfect},
                                                                     {"ls", CsiMode::LsPilot}};

std::vector<BlockEntry> make_catalog() {
  std::vector<BlockEntry> c;
  c.push_back(
      {Role::Source, "random_bits", "i.i.d. fair bits from the frame's random stream", false, {}});
  c.push_back(
      {Role::Mapper, "bpsk", "BPSK, bit 0 -> +1, bit 1 -> -1 (real signal), Es = 1", false, {}});
  c.push_back({Role::Mapper,
               "qpsk",
               "Gray QPSK, (+-1 +- j)/sqrt(2), bit 0 -> I sign, bit 1 -> Q sign",
               false,
               {}});
  c.push_back({Role::Mapper,
               "qam16",
               "Gray 16-QAM, levels {-3,-1,1,3}/sqrt(10) per dimension, Es = 1",
               false,
               {}});
  c.push_back({Role::Channel,
               "awgn",
               "y = x + w, w ~ CN(0, n0) (N(0, n0/2) per real dimension)",
               false,
               {}});
  c.push_back({Role::Channel,
               "rayleigh_block",
               "y = h x + w, h ~ CN(0,1) constant over a block of symbols, w ~ CN(0, n0)",
               false,
               {number("rayleigh_block.coherence_symbols", ParamKind::Int, "100", 1, 1e8,
                       "symbols per fading block (a frame always starts a new block)"),
                choice("rayleigh_block.csi", {"perfect", "ls"}, "perfect",
                       "receiver CSI: perfect gains, or LS estimates from pilots"),
                number("rayleigh_block.pilots", ParamKind::Int, "1", 1, 1e6,
                       "unit-energy pilots per block for csi = ls (not counted in Eb/N0)")}});
  c.push_back({Role::Equalizer, "none", "pass-through (ignores the channel state)", false, {}});
  c.push_back({Role::Equalizer,
               "coherent",
               "one tap: y conj(h)/|h|^2 with the receiver's gain; effective noise n0/|h|^2",
               false,
               {}});
  c.push_back({Role::Demapper, "hard", "nearest-point decisions by slicing (no LLRs)", false, {}});
  c.push_back({Role::Demapper, "exact", "exact LLRs ln P(b=0|y)/P(b=1|y), log-sum-exp", false, {}});
  c.push_back({Role::Demapper, "maxlog", "max-log LLRs", false, {}});
  c.push_back(
      {Role::Demapper, "itpp_hard", "IT++ Modulator_2D::demodulate_bits (reference)", true, {}});
  c.push_back(
      {Role::Demapper, "itpp_logmap", "IT++ demodulate_soft_bits, LOGMAP (reference)", true, {}});
  c.push_back({Role::Demapper,
               "itpp_maxlog",
               "IT++ demodulate_soft_bits, APPROX/max-log (reference)",
               true,
               {}});
  return c;
}

std::vector<std::string> names_of(Role role) {
  std::vector<std::string> out;
  for (const auto& b : block_catalog()) {
    if (b.role == role) out.push_back(b.name);
  }
  return out;
}

std::vector<ParamSpec> make_schema() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kMaxInt = 9007199254740992.0;  // 2^53: integers are exact up to here
  std::vector<ParamSpec> s;
  ParamSpec name;
  name.key = "name";
  name.kind = ParamKind::Text;
  name.doc = "scenario name (default: the file name without .ini); names the results folder";
  s.push_back(name);
  ParamSpec desc;
  desc.key = "description";
  desc.kind = ParamKind::Text;
  desc.doc = "one line shown at the top of summary.md";
  s.push_back(desc);
  s.push_back(choice("link.source", names_of(Role::Source), "random_bits", "bit source block"));
  s.push_back(choice("link.mapper", names_of(Role::Mapper), "bpsk", "mapper block (modulation)"));
  s.push_back(choice("link.channel", names_of(Role::Channel), "awgn", "channel block"));
  s.push_back(choice("link.equalizer", names_of(Role::Equalizer), "coherent", "equalizer block"));
  s.push_back(choice("link.demapper", names_of(Role::Demapper), "hard", "demapper block"));
  s.push_back(
      number("link.frame_bits", ParamKind::Int, "1024", 1, 1e8,
             "information bits per frame (a multiple of the bits per symbol); FER is per frame"));
  s.push_back(choice("sweep.snr", {"ebn0", "esn0"}, "ebn0", "which SNR `sweep.snr_db` sets"));
  ParamSpec snr =
      number("sweep.snr_db", ParamKind::Real, "", -100, 300,
             "SNR points in dB: a value, a list 'a, b, c' or a range 'first:step:last'");
  snr.required = true;
  s.push_back(snr);
  s.push_back(number("stop.min_bit_errors", ParamKind::Int, "200", 0, kMaxInt,
                     "a point may stop once it has this many bit errors (0: no target)"));
  s.push_back(number("stop.min_frame_errors", ParamKind::Int, "0", 0, kMaxInt,
                     "...and this many frame errors (0: no target)"));
  s.push_back(number("stop.max_bits", ParamKind::Int, "1e8", 0, kMaxInt,
                     "a point stops after this many bits (0: no limit)"));
  s.push_back(number("stop.max_frames", ParamKind::Int, "0", 0, kMaxInt,
                     "a point stops after this many frames (0: no limit)"));
  s.push_back(number(
      "stop.max_seconds", ParamKind::Real, "0", 0, kInf,
      "a point stops after this wall time in s (0: no limit; such stops are not reproducible)"));
  s.push_back(number("stop.ber_floor", ParamKind::Real, "0", 0, 1,
                     "skip the higher SNRs of a curve once a point's BER is below this (0: off)"));
  s.push_back(number("run.seed", ParamKind::Int, "1", 0, kMaxInt,
                     "master seed (frame i of point p uses stream derive_seed(seed, p, i))"));
  s.push_back(number("run.threads", ParamKind::Int, "0", 0, 1024, "worker threads (0: all cores)"));
  for (auto& spec : s) {
    const bool setting = spec.key.rfind("stop.", 0) == 0 || spec.key.rfind("run.", 0) == 0 ||
                         spec.key == "sweep.snr" || spec.key == "link.source";
    spec.sweepable = !setting;
  }
  for (const auto& b : block_catalog()) {
    for (const auto& p : b.params) s.push_back(p);
  }
  return s;
}

Modulation point_modulation(const PointConfig& point) {
  return point.choice("link.mapper", kModulations);
}

}  // namespace

std::string_view to_string(Role r) {
  switch (r) {
    case Role::Source:
      return "source";
    case Role::Mapper:
      return "mapper";
    case Role::Channel:
      return "channel";
    case Role::Equalizer:
      return "equalizer";
    case Role::Demapper:
      return "demapper";
  }
  return "?";
}

std::string role_key(Role r) {
  return "link." + std::string(to_string(r));
}

const std::vector<BlockEntry>& block_catalog() {
  static const std::vector<BlockEntry> catalog = make_catalog();
  return catalog;
}

const std::vector<ParamSpec>& scenario_schema() {
  static const std::vector<ParamSpec> schema = make_schema();
  return schema;
}

unsigned point_bits_per_symbol(const PointConfig& point) {
  return Constellation(point_modulation(point)).bits_per_symbol();
}

std::unique_ptr<Link> build_link(const PointConfig& point) {
  LinkBlocks b;
  b.source = make_random_bit_source();
  b.mapper = make_mapper(point_modulation(point));
  if (point.text("link.channel") == "awgn") {
    b.channel = make_awgn_channel();
  } else {
    RayleighBlockParams p;
    p.coherence_symbols = point.count("rayleigh_block.coherence_symbols");
    p.csi = point.choice("rayleigh_block.csi", kCsiModes);
    p.pilots = point.count("rayleigh_block.pilots");
    b.channel = make_rayleigh_block_channel(p);
  }
  b.equalizer = make_equalizer(point.choice("link.equalizer", kEqualizers));
  b.demapper = make_demapper(point.choice("link.demapper", kDemappers), b.mapper->constellation());
  const std::uint64_t frame_bits = point.count("link.frame_bits");
  const unsigned k = b.mapper->constellation().bits_per_symbol();
  if (frame_bits % k != 0) {
    throw ConfigError("key 'link.frame_bits': " + std::to_string(frame_bits) +
                      " is not a multiple of the " + std::to_string(k) + " bits per symbol of '" +
                      point.text("link.mapper") + "'");
  }
  return std::make_unique<Link>(std::move(b), frame_bits);
}

std::optional<double> point_ber_theory(const PointConfig& point, double ebn0_db) {
  const double ebn0 = std::pow(10.0, ebn0_db / 10.0);
  const Modulation m = point_modulation(point);
  const std::string& demapper = point.text("link.demapper");
  const bool symbol_ml = demapper == "hard" || demapper == "maxlog" || demapper == "itpp_hard" ||
                         demapper == "itpp_maxlog" || m != Modulation::Qam16;
  if (!symbol_ml) return std::nullopt;
  if (point.text("link.channel") == "awgn") return ber_awgn(m, ebn0);
  const bool coherent_perfect =
      point.text("link.equalizer") == "coherent" && point.text("rayleigh_block.csi") == "perfect";
  if (coherent_perfect && m != Modulation::Qam16) return ber_rayleigh_bpsk(ebn0);
  return std::nullopt;
}

}  // namespace linksim
