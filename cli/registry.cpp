#include "cli/registry.hpp"

#include <cmath>
#include <optional>
#include <set>
#include <sstream>

#include "blocks/blocks.hpp"
#include "channels/channels.hpp"
#include "channels/cost2100.hpp"
#include "nn_compress/inference.hpp"
#include "nn_compress/nn_feedback.hpp"
#include "sim/theory.hpp"

namespace linksim {
namespace {

/// Upper bound on the samples one frame may allocate (pilots included), so that a scenario
/// cannot ask for more memory than a laptop has.
constexpr std::uint64_t kMaxSamplesPerFrame = 100'000'000;

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

enum class SourceKind { RandomBits };
enum class ChannelKind { Awgn, RayleighBlock };

/// One scenario name of a block and the enum the code uses for it: the single place where a
/// block's name, meaning and documentation are tied together.
template <class E>
struct Named {
  std::string_view name;
  E value;
  std::string_view doc;
  bool itpp_backed = false;
};

const std::vector<Named<SourceKind>> kSources = {
    {"random_bits", SourceKind::RandomBits, "i.i.d. fair bits from the frame's random stream"}};
const std::vector<Named<Modulation>> kMappers = {
    {"bpsk", Modulation::Bpsk, "BPSK, bit 0 -> +1, bit 1 -> -1 (real signal), Es = 1"},
    {"qpsk", Modulation::Qpsk, "Gray QPSK, (+-1 +- j)/sqrt(2), bit 0 -> I sign, bit 1 -> Q sign"},
    {"qam16", Modulation::Qam16, "Gray 16-QAM, levels {-3,-1,1,3}/sqrt(10) per dimension, Es = 1"}};
const std::vector<Named<ChannelKind>> kChannels = {
    {"awgn", ChannelKind::Awgn, "y = x + w, w ~ CN(0, n0) (N(0, n0/2) per real dimension)"},
    {"rayleigh_block", ChannelKind::RayleighBlock,
     "y = h x + w, h ~ CN(0,1) constant over a block of symbols, w ~ CN(0, n0)"}};
const std::vector<Named<EqualizerKind>> kEqualizers = {
    {"none", EqualizerKind::None, "pass-through (ignores the channel state)"},
    {"coherent", EqualizerKind::Coherent,
     "one tap: y conj(h)/|h|^2 with the receiver's gain; effective noise n0/|h|^2"}};
const std::vector<Named<DemapperKind>> kDemappers = {
    {"hard", DemapperKind::Hard, "nearest-point decisions by slicing (no LLRs)"},
    {"exact", DemapperKind::Exact, "exact LLRs ln P(b=0|y)/P(b=1|y), log-sum-exp"},
    {"maxlog", DemapperKind::MaxLog, "max-log LLRs"},
    {"itpp_hard", DemapperKind::ItppHard, "IT++ Modulator_2D::demodulate_bits (reference)", true},
    {"itpp_logmap", DemapperKind::ItppLogMap, "IT++ demodulate_soft_bits, LOGMAP (reference)",
     true},
    {"itpp_maxlog", DemapperKind::ItppMaxLog,
     "IT++ demodulate_soft_bits, APPROX/max-log (reference)", true}};
const std::vector<Named<CsiMode>> kCsiModes = {
    {"perfect", CsiMode::Perfect, "the receiver knows every gain"},
    {"ls", CsiMode::LsPilot, "least-squares estimate from pilots"}};
const std::vector<Named<ScenarioKind>> kKinds = {
    {"link", ScenarioKind::Link, "a bit link (source -> mapper -> channel -> ...): BER/FER sweep"},
    {"csi_feedback", ScenarioKind::CsiFeedback,
     "massive MIMO CSI feedback: NMSE, rho and the MRT downlink BER per method and CR"}};
/// A CSI feedback method: classical CS, or a trained NN autoencoder of one architecture.
enum class FeedbackMethod { Lasso, Omp, Amp, CsiNet, CrNet, CsiNetPlus, ConvCsiNet, ConvSquCsiNet };
const std::vector<Named<FeedbackMethod>> kCsiMethods = {
    {"lasso", FeedbackMethod::Lasso, "CS: LASSO by FISTA (lambda = 0.05 ||A^T y||_inf)"},
    {"omp", FeedbackMethod::Omp, "CS: orthogonal matching pursuit (noise-level stopping rule)"},
    {"amp", FeedbackMethod::Amp, "CS: approximate message passing, soft threshold"},
    {"csinet", FeedbackMethod::CsiNet, "NN: CsiNet autoencoder from csi.model"},
    {"crnet", FeedbackMethod::CrNet, "NN: CRNet autoencoder from csi.model"},
    {"csinetplus", FeedbackMethod::CsiNetPlus, "NN: CsiNet+ autoencoder from csi.model"},
    {"convcsinet", FeedbackMethod::ConvCsiNet, "NN: ConvCsiNet autoencoder from csi.model"},
    {"convsqucsinet", FeedbackMethod::ConvSquCsiNet,
     "NN: ConvSquCsiNet (fire modules) autoencoder from csi.model"}};
const std::vector<Named<WeightPrecision>> kPrecisions = {
    {"fp32", WeightPrecision::Fp32, "float32 weights, as trained"},
    {"fp16", WeightPrecision::Fp16, "the dense layers' weights rounded to float16"},
    {"int8", WeightPrecision::Int8, "the dense layers' weights as int8 with per-row scales"}};
const std::vector<Named<SensingKind>> kSensings = {
    {"gaussian", SensingKind::Gaussian, "i.i.d. N(0, 1/M) entries"},
    {"rademacher", SensingKind::Rademacher, "i.i.d. +-1/sqrt(M) entries"}};
const std::vector<Named<SnrKind>> kSnrKinds = {{"ebn0", SnrKind::EbN0, "Eb/N0"},
                                               {"esn0", SnrKind::EsN0, "Es/N0"}};

template <class E>
std::vector<std::string> names_in(const std::vector<Named<E>>& table) {
  std::vector<std::string> out;
  for (const auto& n : table) out.emplace_back(n.name);
  return out;
}

/// The enum a Choice key of the point names (validated against the same table before).
template <class E>
E lookup(const PointConfig& point, const std::string& key, const std::vector<Named<E>>& table) {
  const std::string& v = point.text(key);
  for (const auto& n : table) {
    if (n.name == v) return n.value;
  }
  throw ConfigError("key '" + key + "': '" + v + "' is not one of " + names_in(table).front() +
                    "...");
}

/// Parameters of the blocks that have some (keys "<block>.<param>").
std::vector<ParamSpec> block_params(std::string_view block) {
  if (block == "rayleigh_block") {
    return {number("rayleigh_block.coherence_symbols", ParamKind::Int, "100", 1, 1e8,
                   "symbols per fading block (a frame always starts a new block)"),
            choice("rayleigh_block.csi", names_in(kCsiModes), "perfect",
                   "receiver CSI: perfect gains, or LS estimates from pilots"),
            number("rayleigh_block.pilots", ParamKind::Int, "1", 1, 1e6,
                   "unit-energy pilots per block for csi = ls (not counted in Eb/N0)")};
  }
  return {};
}

template <class E>
void add_entries(std::vector<BlockEntry>& catalog, Role role, const std::vector<Named<E>>& table) {
  for (const auto& n : table) {
    catalog.push_back(
        {role, std::string(n.name), std::string(n.doc), n.itpp_backed, block_params(n.name)});
  }
}

std::vector<BlockEntry> make_catalog() {
  std::vector<BlockEntry> c;
  add_entries(c, Role::Source, kSources);
  add_entries(c, Role::Mapper, kMappers);
  add_entries(c, Role::Channel, kChannels);
  add_entries(c, Role::Equalizer, kEqualizers);
  add_entries(c, Role::Demapper, kDemappers);
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
  ParamSpec kind = choice("kind", names_in(kKinds), "link",
                          "what the scenario simulates: link (BER sweep) or csi_feedback");
  kind.sweepable = false;
  s.push_back(kind);
  s.push_back(choice("link.source", names_of(Role::Source), "random_bits", "bit source block"));
  s.push_back(choice("link.mapper", names_of(Role::Mapper), "bpsk", "mapper block (modulation)"));
  s.push_back(choice("link.channel", names_of(Role::Channel), "awgn", "channel block"));
  s.push_back(choice("link.equalizer", names_of(Role::Equalizer), "coherent", "equalizer block"));
  s.push_back(choice("link.demapper", names_of(Role::Demapper), "hard", "demapper block"));
  s.push_back(
      number("link.frame_bits", ParamKind::Int, "1024", 1, 1e8,
             "information bits per frame (a multiple of the bits per symbol); FER is per frame"));
  s.push_back(choice("sweep.snr", names_in(kSnrKinds), "ebn0", "which SNR `sweep.snr_db` sets"));
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
  // CSI feedback scenarios (kind = csi_feedback).
  const auto text = [](std::string key, std::string doc) {
    ParamSpec t;
    t.key = std::move(key);
    t.kind = ParamKind::Text;
    t.doc = std::move(doc);
    return t;
  };
  s.push_back(text("csi.data",
                   "CSI file (HDF5 from `linksim dataset`, or CsiNet .mat); empty: generate "
                   "csi.channel"));
  std::vector<std::string> channels;
  for (Cost2100Scenario c : kCost2100Scenarios) channels.emplace_back(channel_name(c));
  s.push_back(choice("csi.channel", channels, "cost2100_indoor",
                     "COST 2100 channel to generate the test set from when csi.data is empty"));
  s.push_back(number("csi.samples", ParamKind::Int, "500", 1, 1e6,
                     "test samples (the first ones of csi.data, or generated drops)"));
  s.push_back(number("csi.data_seed", ParamKind::Int, "1000", 0, kMaxInt,
                     "seed of generated test drops (keep it apart from training-set seeds)"));
  s.push_back(choice("csi.method", names_in(kCsiMethods), "lasso", "feedback method"));
  s.push_back(text("csi.model",
                   "model file of an NN method (linksim train or compress); '{cr}' in it stands "
                   "for csi.cr, '{variant}' for csi.variant"));
  s.push_back(text("csi.model_by_cr",
                   "model files per CR, overriding csi.model at those CRs: space-separated "
                   "CR=FILE pairs, e.g. '16=models/a.lsnn 32=models/b.lsnn'"));
  s.push_back(text("csi.variant",
                   "name of a compressed model variant, put into csi.model's '{variant}' (a list "
                   "sweeps it: original, quantized, pruned, ...)"));
  std::vector<std::string> backends;
  for (const InferenceBackend b : kInferenceBackends) backends.emplace_back(backend_name(b));
  s.push_back(choice("csi.backend", backends, "torch",
                     "inference backend of an NN method (auto: the fastest measured here that "
                     "matches torch)"));
  s.push_back(number("csi.prune", ParamKind::Real, "0", 0, 0.99,
                     "NN methods: post-training magnitude pruning of the dense layers to this "
                     "sparsity as the model loads, no fine-tuning (seed 000 Figure 2 sweeps)"));
  s.push_back(choice("csi.precision", names_in(kPrecisions), "fp32",
                     "NN methods: post-training storage of the dense layers' weights "
                     "(fp32, fp16, int8); the size is that of the compact model file"));
  s.push_back(number("csi.cr", ParamKind::Int, "4", 1, 2048,
                     "compression ratio 1/cr: M = floor(2048 / cr) fed-back real values"));
  s.push_back(choice("csi.sensing", names_in(kSensings), "gaussian", "CS sensing matrix"));
  s.push_back(number("csi.sensing_seed", ParamKind::Int, "1", 0, kMaxInt,
                     "seed of the sensing matrix (shared by UE and BS)"));
  s.push_back(number("csi.feedback_bits", ParamKind::Int, "0", 0, 32,
                     "bits per fed-back value, uniform quantiser (0: unquantised floats)"));
  s.push_back(number("csi.batch", ParamKind::Int, "1", 1, 100000,
                     "samples per encoder/decoder call (latency is per call)"));
  s.push_back(number("csi.symbols_per_subcarrier", ParamKind::Int, "1", 1, 1000,
                     "QPSK symbols per subcarrier and sample on the MRT downlink"));
  for (auto& spec : s) {
    if (spec.key == "csi.data" || spec.key == "csi.channel" || spec.key == "csi.samples" ||
        spec.key == "csi.data_seed" || spec.key == "csi.batch" ||
        spec.key == "csi.symbols_per_subcarrier") {
      spec.sweepable = false;
      continue;
    }
    const bool setting = spec.key.rfind("stop.", 0) == 0 || spec.key.rfind("run.", 0) == 0 ||
                         spec.key == "sweep.snr" || spec.key == "link.source" ||
                         spec.key == "name" || spec.key == "description";
    spec.sweepable = !setting;
  }
  for (const auto& b : block_catalog()) {
    for (const auto& p : b.params) s.push_back(p);
  }
  return s;
}

Modulation point_modulation(const PointConfig& point) {
  return lookup(point, "link.mapper", kMappers);
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

SnrKind point_snr_kind(const PointConfig& point) {
  return lookup(point, "sweep.snr", kSnrKinds);
}

std::unique_ptr<Link> build_link(const PointConfig& point) {
  const std::uint64_t frame_bits = point.count("link.frame_bits");
  LinkBlocks b;
  switch (lookup(point, "link.source", kSources)) {
    case SourceKind::RandomBits:
      b.source = make_random_bit_source();
      break;
  }
  b.mapper = make_mapper(point_modulation(point));
  const unsigned k = b.mapper->constellation().bits_per_symbol();
  if (frame_bits % k != 0) {
    throw ConfigError("key 'link.frame_bits': " + std::to_string(frame_bits) +
                      " is not a multiple of the " + std::to_string(k) + " bits per symbol of '" +
                      point.text("link.mapper") + "'");
  }
  switch (lookup(point, "link.channel", kChannels)) {
    case ChannelKind::Awgn:
      b.channel = make_awgn_channel();
      break;
    case ChannelKind::RayleighBlock: {
      RayleighBlockParams p;
      p.coherence_symbols = point.count("rayleigh_block.coherence_symbols");
      p.csi = lookup(point, "rayleigh_block.csi", kCsiModes);
      p.pilots = point.count("rayleigh_block.pilots");
      const std::uint64_t blocks = (frame_bits / k + p.coherence_symbols - 1) / p.coherence_symbols;
      if (p.csi == CsiMode::LsPilot && blocks * p.pilots > kMaxSamplesPerFrame) {
        throw ConfigError("rayleigh_block: " + std::to_string(blocks) + " blocks x " +
                          std::to_string(p.pilots) + " pilots per frame is more than " +
                          std::to_string(kMaxSamplesPerFrame) + " samples");
      }
      b.channel = make_rayleigh_block_channel(p);
      break;
    }
  }
  b.equalizer = make_equalizer(lookup(point, "link.equalizer", kEqualizers));
  b.demapper = make_demapper(lookup(point, "link.demapper", kDemappers), b.mapper->constellation());
  return std::make_unique<Link>(std::move(b), frame_bits);
}

ScenarioKind point_scenario_kind(const PointConfig& point) {
  return lookup(point, "kind", kKinds);
}

void check_csi_feedback(const PointConfig& point, std::size_t n) {
  static_cast<void>(model_file_for_cr(point.text("csi.model_by_cr"), 0));  // its syntax
  switch (lookup(point, "csi.method", kCsiMethods)) {
    case FeedbackMethod::Lasso:
    case FeedbackMethod::Omp:
    case FeedbackMethod::Amp:
      if (point.count("csi.cr") > n) {
        throw ConfigError("key 'csi.cr': " + point.text("csi.cr") + " is more than the " +
                          std::to_string(n) + " values of a sample");
      }
      return;
    default:
      build_csi_feedback(point, n, 1);  // loads and checks the model file
  }
}

std::optional<std::string> model_file_for_cr(const std::string& by_cr, std::size_t cr) {
  std::optional<std::string> found;
  std::set<unsigned long> seen;
  std::istringstream in(by_cr);
  for (std::string pair; in >> pair;) {
    const auto eq = pair.find('=');
    const std::string key = pair.substr(0, eq);
    const bool digits =
        !key.empty() && key.size() <= 6 && key.find_first_not_of("0123456789") == std::string::npos;
    if (eq == std::string::npos || !digits || eq + 1 == pair.size()) {
      throw ConfigError("key 'csi.model_by_cr': '" + pair +
                        "' is not CR=FILE (for example 16=models/csinet_indoor_cr16.lsnn)");
    }
    if (!seen.insert(std::stoul(key)).second) {
      throw ConfigError("key 'csi.model_by_cr': CR " + key + " is listed twice");
    }
    if (std::stoul(key) == cr) found = pair.substr(eq + 1);
  }
  return found;
}

std::unique_ptr<CsiFeedback> build_csi_feedback(const PointConfig& point, std::size_t n,
                                                unsigned threads) {
  const FeedbackMethod method = lookup(point, "csi.method", kCsiMethods);
  CsFeedbackOptions o;
  switch (method) {
    case FeedbackMethod::Lasso:
      o.method = CsMethod::Lasso;
      break;
    case FeedbackMethod::Omp:
      o.method = CsMethod::Omp;
      break;
    case FeedbackMethod::Amp:
      o.method = CsMethod::Amp;
      break;
    case FeedbackMethod::CsiNet:
    case FeedbackMethod::CrNet:
    case FeedbackMethod::CsiNetPlus:
    case FeedbackMethod::ConvCsiNet:
    case FeedbackMethod::ConvSquCsiNet: {
      // "{cr}" and "{variant}" in the file name stand for the point's CR and variant, so one
      // line serves a sweep; csi.model_by_cr names the file of a CR outright.
      std::string file = model_file_for_cr(point.text("csi.model_by_cr"), point.count("csi.cr"))
                             .value_or(point.text("csi.model"));
      for (const auto& [tag, key] :
           {std::pair<std::string, std::string>{"{cr}", "csi.cr"}, {"{variant}", "csi.variant"}}) {
        for (auto at = file.find(tag); at != std::string::npos; at = file.find(tag)) {
          file.replace(at, tag.size(), point.text(key));
        }
      }
      if (file.empty()) {
        throw ConfigError("key 'csi.model': method '" + point.text("csi.method") +
                          "' needs a model file (linksim train writes one)");
      }
      std::unique_ptr<CsiFeedback> nn;
      try {
        PostTrainingCompression post;
        post.sparsity = point.real("csi.prune");
        post.precision = lookup(point, "csi.precision", kPrecisions);
        nn = make_nn_feedback(file, *inference_backend_named(point.text("csi.backend")), threads,
                              post);
      } catch (const ModelFileError& e) {
        throw ConfigError("key 'csi.model': " + std::string(e.what()));
      } catch (const AlreadyCompressedError& e) {
        throw ConfigError("keys 'csi.prune', 'csi.precision': " + std::string(e.what()));
      } catch (const std::invalid_argument& e) {
        throw ConfigError("key 'csi.backend': " + std::string(e.what()));
      }
      if (nn->name() != point.text("csi.method")) {
        throw ConfigError("key 'csi.model': " + file + " holds a " + nn->name() + " model, not " +
                          point.text("csi.method"));
      }
      const auto& model = dynamic_cast<const NnCsiFeedback&>(*nn).model();
      if (model.cr() != point.count("csi.cr")) {
        throw ConfigError("key 'csi.model': " + file + " is a CR " + std::to_string(model.cr()) +
                          " model, but csi.cr is " + point.text("csi.cr"));
      }
      return nn;
    }
  }
  o.n = n;
  o.cr = point.count("csi.cr");
  if (o.cr > n) {
    throw ConfigError("key 'csi.cr': " + std::to_string(o.cr) + " is more than the " +
                      std::to_string(n) + " values of a sample");
  }
  o.sensing = lookup(point, "csi.sensing", kSensings);
  o.sensing_seed = point.count("csi.sensing_seed");
  o.feedback_bits = static_cast<unsigned>(point.count("csi.feedback_bits"));
  return make_cs_feedback(o);
}

std::optional<double> point_ber_theory(const PointConfig& point, double ebn0_db) {
  const double ebn0 = std::pow(10.0, ebn0_db / 10.0);
  const Modulation m = point_modulation(point);
  const DemapperKind d = lookup(point, "link.demapper", kDemappers);
  // The closed forms assume nearest-point symbol decisions; for 16-QAM the exact-LLR sign is a
  // per-bit MAP decision, which differs slightly.
  const bool nearest_point = d == DemapperKind::Hard || d == DemapperKind::MaxLog ||
                             d == DemapperKind::ItppHard || d == DemapperKind::ItppMaxLog;
  if (!nearest_point && m == Modulation::Qam16) return std::nullopt;
  switch (lookup(point, "link.channel", kChannels)) {
    case ChannelKind::Awgn:
      return ber_awgn(m, ebn0);
    case ChannelKind::RayleighBlock:
      if (lookup(point, "link.equalizer", kEqualizers) == EqualizerKind::Coherent &&
          lookup(point, "rayleigh_block.csi", kCsiModes) == CsiMode::Perfect &&
          m != Modulation::Qam16) {
        return ber_rayleigh_bpsk(ebn0);
      }
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace linksim
