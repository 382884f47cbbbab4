#include "results/results.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "sim/stats.hpp"

namespace linksim {
namespace {

using Json = nlohmann::ordered_json;

double throughput_mbps(const PointRecord& p) {
  return p.result.wall_s > 0 ? static_cast<double>(p.result.counts.bits) / p.result.wall_s / 1e6
                             : 0.0;
}

StopReason stop_reason_from(const std::string& s) {
  for (StopReason r : {StopReason::ErrorTarget, StopReason::MaxBits, StopReason::MaxFrames,
                       StopReason::MaxTime, StopReason::NumericalError}) {
    if (to_string(r) == s) return r;
  }
  throw std::runtime_error("unknown stop_reason '" + s + "'");
}

Json point_to_json(const PointRecord& p) {
  const Counts& c = p.result.counts;
  const auto [ber_lo, ber_hi] = ber_interval95(c.bit_errors, c.bits, c.frames, c.bit_errors_sumsq);
  const auto [fer_lo, fer_hi] = clopper_pearson(c.frame_errors, c.frames);
  Json j;
  j["index"] = p.index;
  for (const auto& [k, v] : p.swept) j["swept"][k] = v;
  j["ebn0_db"] = p.snr.ebn0_db;
  j["esn0_db"] = p.snr.esn0_db;
  j["n0"] = p.snr.n0;
  j["bits"] = c.bits;
  j["bit_errors"] = c.bit_errors;
  j["bit_errors_sumsq"] = c.bit_errors_sumsq;
  j["ber"] = ber(c);
  j["ber_ci95"] = {ber_lo, ber_hi};
  j["ber_theory"] = p.ber_theory ? Json(*p.ber_theory) : Json(nullptr);
  j["frames"] = c.frames;
  j["frame_errors"] = c.frame_errors;
  j["fer"] = fer(c);
  j["fer_ci95"] = {fer_lo, fer_hi};
  j["wall_s"] = p.result.wall_s;
  j["throughput_mbps"] = throughput_mbps(p);
  j["stop_reason"] = std::string(to_string(p.result.reason));
  if (!p.result.error.empty()) j["error"] = p.result.error;
  Json lat = Json::object();
  for (const auto& l : p.result.latency) {
    lat[l.stage] = {{"block", l.block},
                    {"mean", l.mean_us},
                    {"p50", l.p50_us},
                    {"p99", l.p99_us},
                    {"calls", l.calls}};
  }
  j["latency_us"] = lat;
  if (p.csi) {
    const CsiPointMetrics& m = *p.csi;
    const Counts& q = m.perfect;
    const auto [plo, phi] = ber_interval95(q.bit_errors, q.bits, q.frames, q.bit_errors_sumsq);
    j["method"] = m.method;
    j["cr"] = m.cr;
    j["feedback_values"] = m.feedback_values;
    j["samples"] = m.samples;
    j["nmse_db"] = m.nmse_db;
    j["nmse_db_ci95"] = {m.nmse_db_ci95_low, m.nmse_db_ci95_high};
    j["rho"] = m.rho;
    j["rho_full_grid"] = m.rho_full ? Json(*m.rho_full) : Json(nullptr);
    j["ber_expected"] = m.ber_expected;
    j["ber_perfect_csi"] = ber(q);
    j["ber_perfect_csi_ci95"] = {plo, phi};
    j["ber_perfect_csi_expected"] = m.ber_perfect_expected;
    j["latency_batched_us_per_sample"] = {{"samples", m.batched_samples},
                                          {"encoder", m.batched_encoder_us},
                                          {"reconstruction", m.batched_reconstruction_us}};
    j["throughput_samples_per_s"] = m.throughput_samples_per_s;
    j["variant"] = m.variant;
    j["backend"] = m.backend;
    j["size_bytes"] = m.size_bytes;
    j["sparsity"] = m.sparsity;
    j["weight_bits"] = m.bits;  // "bits" is the downlink bit count
    j["perfect_csi_counts"] = {{"bits", q.bits},
                               {"bit_errors", q.bit_errors},
                               {"bit_errors_sumsq", q.bit_errors_sumsq},
                               {"frames", q.frames},
                               {"frame_errors", q.frame_errors}};
  }
  return j;
}

PointRecord point_from_json(const Json& j) {
  PointRecord p;
  p.index = j.at("index").get<std::size_t>();
  if (j.contains("swept")) {
    for (const auto& [k, v] : j.at("swept").items()) p.swept[k] = v.get<std::string>();
  }
  p.snr.ebn0_db = j.at("ebn0_db").get<double>();
  p.snr.esn0_db = j.at("esn0_db").get<double>();
  p.snr.n0 = j.at("n0").get<double>();
  p.result.counts.bits = j.at("bits").get<std::uint64_t>();
  p.result.counts.bit_errors = j.at("bit_errors").get<std::uint64_t>();
  p.result.counts.bit_errors_sumsq = j.at("bit_errors_sumsq").get<double>();
  p.result.counts.frames = j.at("frames").get<std::uint64_t>();
  p.result.counts.frame_errors = j.at("frame_errors").get<std::uint64_t>();
  if (!j.at("ber_theory").is_null()) p.ber_theory = j.at("ber_theory").get<double>();
  p.result.wall_s = j.at("wall_s").get<double>();
  p.result.reason = stop_reason_from(j.at("stop_reason").get<std::string>());
  for (const auto& [stage, l] : j.at("latency_us").items()) {
    p.result.latency.push_back({stage, l.at("block").get<std::string>(),
                                l.at("calls").get<std::uint64_t>(), l.at("mean").get<double>(),
                                l.at("p50").get<double>(), l.at("p99").get<double>()});
  }
  if (j.contains("error")) p.result.error = j.at("error").get<std::string>();
  if (j.contains("method")) {
    CsiPointMetrics m;
    m.method = j.at("method").get<std::string>();
    m.cr = j.at("cr").get<std::size_t>();
    m.feedback_values = j.at("feedback_values").get<std::size_t>();
    m.samples = j.at("samples").get<std::size_t>();
    m.nmse_db = j.at("nmse_db").get<double>();
    m.nmse_db_ci95_low = j.at("nmse_db_ci95").at(0).get<double>();
    m.nmse_db_ci95_high = j.at("nmse_db_ci95").at(1).get<double>();
    m.rho = j.at("rho").get<double>();
    if (!j.at("rho_full_grid").is_null()) m.rho_full = j.at("rho_full_grid").get<double>();
    m.ber_expected = j.at("ber_expected").get<double>();
    m.ber_perfect_expected = j.at("ber_perfect_csi_expected").get<double>();
    if (j.contains("latency_batched_us_per_sample")) {
      const Json& b = j.at("latency_batched_us_per_sample");
      m.batched_samples = b.at("samples").get<std::size_t>();
      m.batched_encoder_us = b.at("encoder").get<double>();
      m.batched_reconstruction_us = b.at("reconstruction").get<double>();
    }
    m.throughput_samples_per_s = j.value("throughput_samples_per_s", 0.0);
    m.variant = j.value("variant", "");
    m.backend = j.value("backend", "");
    m.size_bytes = j.value("size_bytes", std::uint64_t{0});
    m.sparsity = j.value("sparsity", 0.0);
    m.bits = j.value("weight_bits", 0U);
    const Json& q = j.at("perfect_csi_counts");
    m.perfect.bits = q.at("bits").get<std::uint64_t>();
    m.perfect.bit_errors = q.at("bit_errors").get<std::uint64_t>();
    m.perfect.bit_errors_sumsq = q.at("bit_errors_sumsq").get<double>();
    m.perfect.frames = q.at("frames").get<std::uint64_t>();
    m.perfect.frame_errors = q.at("frame_errors").get<std::uint64_t>();
    p.csi = m;
  }
  return p;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

/// Swept keys other than the SNR, for labelling rows and plot series.
std::vector<std::string> series_axes(const RunRecord& run) {
  std::vector<std::string> out;
  for (const auto& a : run.axes) {
    if (a != "sweep.snr_db") out.push_back(a);
  }
  return out;
}

std::string series_label(const RunRecord& run, const PointRecord& p) {
  std::string label;
  for (const auto& a : series_axes(run)) {
    const auto it = p.swept.find(a);
    label += (label.empty() ? "" : ", ") + a.substr(a.find('.') + 1) + "=" +
             (it == p.swept.end() ? "?" : it->second);
  }
  return label;
}

std::string csv(const RunRecord& run) {
  std::ostringstream out;
  const auto axes = series_axes(run);
  out << "index,series";
  for (const auto& a : axes) out << ',' << a;
  out << ",ebn0_db,esn0_db,bits,bit_errors,ber,ber_ci95_low,ber_ci95_high,ber_theory,frames,"
         "frame_errors,fer,wall_s,throughput_mbps,stop_reason\n";
  for (const auto& p : run.points) {
    const Counts& c = p.result.counts;
    const auto [lo, hi] = ber_interval95(c.bit_errors, c.bits, c.frames, c.bit_errors_sumsq);
    out << p.index << ",\"" << series_label(run, p) << '"';
    for (const auto& a : axes) out << ',' << (p.swept.count(a) ? p.swept.at(a) : "");
    out << ',' << p.snr.ebn0_db << ',' << p.snr.esn0_db << ',' << c.bits << ',' << c.bit_errors
        << ',' << fmt("%.6e", ber(c)) << ',' << fmt("%.6e", lo) << ',' << fmt("%.6e", hi) << ','
        << (p.ber_theory ? fmt("%.6e", *p.ber_theory) : "") << ',' << c.frames << ','
        << c.frame_errors << ',' << fmt("%.6e", fer(c)) << ',' << fmt("%.4f", p.result.wall_s)
        << ',' << fmt("%.3f", throughput_mbps(p)) << ',' << to_string(p.result.reason) << '\n';
  }
  return out.str();
}

/// The top of summary.md: name, description, provenance.
std::string summary_header(const RunRecord& run) {
  std::ostringstream out;
  out << "# " << run.scenario << "\n\n";
  if (!run.description.empty()) out << run.description << "\n\n";
  out << "Scenario `" << run.source << "`, seed " << run.seed << ", " << run.threads
      << " threads, git " << run.git_revision << ", " << run.points.size() << " of "
      << run.planned_points << " points (" << run.status << ").\n\n";
  return out.str();
}

std::string summary_markdown(const RunRecord& run) {
  std::ostringstream out;
  out << summary_header(run);
  out << "BER and FER with 95% confidence intervals (FER: Clopper-Pearson; BER: Clopper-Pearson "
         "widened to the frame-level interval when errors cluster within frames); `theory` is "
         "the closed form where one exists.\n\n";
  out << results_table(run) << "\n";
  if (!run.points.empty()) {
    out << "## Latency per block call (µs: mean / p50 / p99)\n\n| point |";
    for (const auto& l : run.points.front().result.latency) out << ' ' << l.stage << " |";
    out << "\n|---|";
    for (std::size_t i = 0; i < run.points.front().result.latency.size(); ++i) out << "---|";
    out << '\n';
    for (const auto& p : run.points) {
      out << "| " << p.index << " |";
      for (const auto& l : p.result.latency) {
        out << ' ' << l.block << ": " << fmt("%.2f", l.mean_us) << " / " << fmt("%.2f", l.p50_us)
            << " / " << fmt("%.2f", l.p99_us) << " |";
      }
      out << '\n';
    }
  }
  return out.str();
}

std::string ci_text(double lo, double hi, const char* format) {
  std::ostringstream out;  // (string concatenation here trips GCC 12's -Wrestrict)
  out << '[' << fmt(format, lo) << ", " << fmt(format, hi) << ']';
  return out.str();
}

/// Points of a CSI run in table order: grouped by the other swept keys (groups in the order
/// they first appear in the sweep), then CR, then sweep order.
std::vector<const PointRecord*> csi_rows(const RunRecord& run) {
  std::vector<const PointRecord*> rows;
  for (const auto& p : run.points) {
    if (p.csi) rows.push_back(&p);
  }
  const auto others = [&](const PointRecord& p) {
    std::string label;
    for (const auto& a : series_axes(run)) {
      if (a != "csi.method" && a != "csi.cr") label += p.swept.count(a) ? p.swept.at(a) : "";
      label += '|';
    }
    return label;
  };
  std::map<std::string, std::size_t> group;
  for (const PointRecord* p : rows) group.emplace(others(*p), group.size());
  std::stable_sort(rows.begin(), rows.end(), [&](const PointRecord* a, const PointRecord* b) {
    const std::size_t ga = group.at(others(*a)), gb = group.at(others(*b));
    if (ga != gb) return ga < gb;
    return a->csi->cr < b->csi->cr;
  });
  return rows;
}

const LatencySummary* find_stage(const PointRecord& p, const std::string& stage) {
  for (const auto& l : p.result.latency) {
    if (l.stage == stage) return &l;
  }
  return nullptr;
}

std::string csi_csv(const RunRecord& run) {
  std::ostringstream out;
  const auto axes = series_axes(run);
  out << "index";
  for (const auto& a : axes) out << ',' << a;
  out << ",method,cr,feedback_values,samples,nmse_db,nmse_db_ci95_low,nmse_db_ci95_high,rho,"
         "rho_full_grid,esn0_db,bits,bit_errors,ber,ber_ci95_low,ber_ci95_high,ber_expected,"
         "ber_perfect_csi,ber_perfect_csi_ci95_low,ber_perfect_csi_ci95_high,encoder_p50_us,"
         "reconstruction_p50_us,batched_samples,batched_encoder_us_per_sample,"
         "batched_reconstruction_us_per_sample,throughput_samples_per_s,variant,backend,"
         "size_bytes,sparsity,weight_bits,encoder_p99_us,reconstruction_p99_us,wall_s\n";
  for (const PointRecord* p : csi_rows(run)) {
    const CsiPointMetrics& m = *p->csi;
    const Counts& c = p->result.counts;
    const auto [lo, hi] = ber_interval95(c.bit_errors, c.bits, c.frames, c.bit_errors_sumsq);
    const Counts& q = m.perfect;
    const auto [plo, phi] = ber_interval95(q.bit_errors, q.bits, q.frames, q.bit_errors_sumsq);
    const LatencySummary* enc = find_stage(*p, "encoder");
    const LatencySummary* dec = find_stage(*p, "reconstruction");
    out << p->index;
    for (const auto& a : axes) out << ',' << (p->swept.count(a) ? p->swept.at(a) : "");
    out << ',' << m.method << ',' << m.cr << ',' << m.feedback_values << ',' << m.samples << ','
        << fmt("%.4f", m.nmse_db) << ',' << fmt("%.4f", m.nmse_db_ci95_low) << ','
        << fmt("%.4f", m.nmse_db_ci95_high) << ',' << fmt("%.5f", m.rho) << ','
        << (m.rho_full ? fmt("%.5f", *m.rho_full) : "") << ',' << p->snr.esn0_db << ',' << c.bits
        << ',' << c.bit_errors << ',' << fmt("%.6e", ber(c)) << ',' << fmt("%.6e", lo) << ','
        << fmt("%.6e", hi) << ',' << fmt("%.6e", m.ber_expected) << ',' << fmt("%.6e", ber(q))
        << ',' << fmt("%.6e", plo) << ',' << fmt("%.6e", phi) << ','
        << (enc ? fmt("%.2f", enc->p50_us) : "") << ',' << (dec ? fmt("%.2f", dec->p50_us) : "")
        << ',' << m.batched_samples << ',' << fmt("%.3f", m.batched_encoder_us) << ','
        << fmt("%.3f", m.batched_reconstruction_us) << ','
        << fmt("%.1f", m.throughput_samples_per_s) << ',' << m.variant << ',' << m.backend << ','
        << m.size_bytes << ',' << fmt("%.4f", m.sparsity) << ',' << m.bits << ','
        << (enc ? fmt("%.2f", enc->p99_us) : "") << ',' << (dec ? fmt("%.2f", dec->p99_us) : "")
        << ',' << fmt("%.3f", p->result.wall_s) << '\n';
  }
  return out.str();
}

std::string csi_table(const RunRecord& run) {
  std::ostringstream out;
  std::vector<std::string> others;
  for (const auto& a : series_axes(run)) {
    if (a != "csi.method" && a != "csi.cr") others.push_back(a);
  }
  out << "|";
  for (const auto& a : others) out << ' ' << a << " |";
  out << " CR | Method | NMSE dB (rho) | NMSE 95% CI | rho, full grid | BER, MRT | BER 95% CI | "
         "BER, perfect-CSI MRT | encoder p50 (µs) | reconstruction p50 (µs) | batched encoder "
         "(µs/sample) | batched reconstruction (µs/sample) |\n|";
  for (std::size_t i = 0; i < others.size() + 12; ++i) out << "---|";
  out << '\n';
  std::string previous;
  for (const PointRecord* p : csi_rows(run)) {
    const CsiPointMetrics& m = *p->csi;
    const Counts& c = p->result.counts;
    const auto [lo, hi] = ber_interval95(c.bit_errors, c.bits, c.frames, c.bit_errors_sumsq);
    const LatencySummary* enc = find_stage(*p, "encoder");
    const LatencySummary* dec = find_stage(*p, "reconstruction");
    std::string group = "|";
    for (const auto& a : others) group += ' ' + (p->swept.count(a) ? p->swept.at(a) : "") + " |";
    const std::string cr = " 1/" + std::to_string(m.cr) + " |";
    // Table I style: the CR (and other keys) only on the first row of their group.
    out << (group + cr == previous ? std::string(group.size() - 1, ' ') + "|   |" : group + cr);
    previous = group + cr;
    out << ' ' << m.method << " | " << fmt("%.2f", m.nmse_db) << " (" << fmt("%.2f", m.rho)
        << ") | " << ci_text(m.nmse_db_ci95_low, m.nmse_db_ci95_high, "%.2f") << " | "
        << (m.rho_full ? fmt("%.3f", *m.rho_full) : "-") << " | " << fmt("%.3e", ber(c)) << " | "
        << ci_text(lo, hi, "%.2e") << " | " << fmt("%.3e", ber(m.perfect)) << " | "
        << (enc ? fmt("%.1f", enc->p50_us) : "-") << " | " << (dec ? fmt("%.1f", dec->p50_us) : "-")
        << " | " << fmt("%.1f", m.batched_encoder_us) << " | "
        << fmt("%.1f", m.batched_reconstruction_us) << " |\n";
  }
  return out.str();
}

/// Whether a CSI run compares compressed models: it sweeps csi.variant, csi.backend, csi.prune
/// or csi.precision.
bool compression_swept(const RunRecord& run) {
  return std::any_of(run.axes.begin(), run.axes.end(), [](const std::string& a) {
    return a == "csi.variant" || a == "csi.backend" || a == "csi.prune" || a == "csi.precision";
  });
}

/// The reference of the compression ratios at CR `cr`: the uncompressed model (variant
/// "original" or none, no pruning, 32-bit weights) on torch; nullptr if the run has none.
const PointRecord* compression_baseline(const RunRecord& run, std::size_t cr) {
  for (const auto& q : run.points) {
    if (q.csi && q.csi->cr == cr && q.csi->backend == "torch" && q.csi->sparsity == 0 &&
        q.csi->bits == 32 && (q.csi->variant.empty() || q.csi->variant == "original")) {
      return &q;
    }
  }
  return nullptr;
}

/// Batch-1 latency of an NN point: encoder + reconstruction per sample (p50 or p99), in µs; 0
/// when either is missing.
double batch1_latency_us(const PointRecord& p, bool p99) {
  const LatencySummary* e = find_stage(p, "encoder");
  const LatencySummary* d = find_stage(p, "reconstruction");
  if (!e || !d) return 0.0;
  return p99 ? e->p99_us + d->p99_us : e->p50_us + d->p50_us;
}

/// Seed 000's Table I layout for runs that sweep csi.variant or csi.backend: per CR, each model
/// variant on each backend with its size on disk, sparsity, bits, batch-1 latency (encoder +
/// reconstruction per sample), batched throughput and NMSE (rho); size and latency also as
/// ratios to the CR's "original" variant on torch, measured in the same run.
std::string csi_compression_table(const RunRecord& run) {
  if (!compression_swept(run)) return "";
  std::ostringstream out;
  out << "\n### Compressed models (seed 000, Table I layout)\n\n"
         "Size: the model file on disk. Latency: batch 1, one thread per call, encoder + "
         "reconstruction per sample (p50 / p99). Throughput: batches of up to 200 on every "
         "worker at once. Ratios against the same CR's uncompressed model (`original`, fp32, "
         "no pruning) on `torch`, from this run.\n\n"
         "| CR | Variant | Backend | Size (MB) | Smaller | Sparsity | Bits | Latency p50 / p99 "
         "(µs) | Faster | Throughput (samples/s) | NMSE dB (rho) |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|\n";
  const auto latency = [](const PointRecord& p, bool p99) { return batch1_latency_us(p, p99); };
  for (const PointRecord* p : csi_rows(run)) {
    const CsiPointMetrics& m = *p->csi;
    const PointRecord* base = compression_baseline(run, m.cr);
    const auto ratio = [](double num, double den, const char* f) {
      return den > 0 && num > 0 ? fmt(f, num / den) : std::string("-");
    };
    out << "| 1/" << m.cr << " | " << (m.variant.empty() ? m.method : m.variant) << " | "
        << m.backend << " | " << fmt("%.3f", static_cast<double>(m.size_bytes) / 1e6) << " | "
        << (base && m.size_bytes > 0
                ? fmt("%.1f%%", 100.0 * (1.0 - static_cast<double>(m.size_bytes) /
                                                   static_cast<double>(base->csi->size_bytes)))
                : std::string("-"))
        << " | " << fmt("%.2f", m.sparsity) << " | " << m.bits << " | "
        << fmt("%.0f", latency(*p, false)) << " / " << fmt("%.0f", latency(*p, true)) << " | "
        << (base ? ratio(latency(*base, false), latency(*p, false), "%.2fx") : "-") << " | "
        << fmt("%.0f", m.throughput_samples_per_s) << " | " << fmt("%.2f", m.nmse_db) << " ("
        << fmt("%.2f", m.rho) << ") |\n";
  }
  return out.str();
}

/// Seed 000's Figures 2 and 3 as tables, for runs that sweep csi.precision together with
/// csi.prune or csi.variant (the model axis): per model and precision the size, the fastest
/// batch-1 latency and the NMSE (Figure 2); per model and precision the latency on dense and on
/// sparse kernels (Figure 3: xnnpack or int8 against sparse or sparse-int8).
std::string csi_sparsity_precision_tables(const RunRecord& run) {
  const auto swept = [&](const char* key) {
    return std::find(run.axes.begin(), run.axes.end(), key) != run.axes.end();
  };
  if (!swept("csi.precision") || !(swept("csi.prune") || swept("csi.variant"))) return "";
  const std::string model_key = swept("csi.prune") ? "csi.prune" : "csi.variant";
  std::vector<std::string> models, precisions;
  const auto add = [](std::vector<std::string>& v, const std::string& x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  };
  for (const PointRecord* p : csi_rows(run)) {
    add(models, p->swept.at(model_key));
    add(precisions, p->swept.at("csi.precision"));
  }
  const auto cell = [&](const std::string& model, const std::string& precision) {
    std::vector<const PointRecord*> v;
    for (const PointRecord* p : csi_rows(run)) {
      if (p->swept.at(model_key) == model && p->swept.at("csi.precision") == precision) {
        v.push_back(p);
      }
    }
    return v;
  };
  const auto fastest = [](const std::vector<const PointRecord*>& v,
                          const std::vector<std::string>& backends) -> const PointRecord* {
    const PointRecord* best = nullptr;
    for (const PointRecord* p : v) {
      const bool allowed = backends.empty() || std::find(backends.begin(), backends.end(),
                                                         p->csi->backend) != backends.end();
      if (allowed && (!best || batch1_latency_us(*p, false) < batch1_latency_us(*best, false))) {
        best = p;
      }
    }
    return best;
  };
  std::ostringstream out;
  // The backends that compute in a precision's own arithmetic: int8 weights on the int8
  // kernels, fp32 / fp16 weights on the float ones (the int8 backends would requantise them).
  const auto kernels_of = [](const std::string& precision) {
    return precision == "int8"
               ? std::vector<std::string>{"int8", "sparse-int8"}
               : std::vector<std::string>{"torch", "xnnpack", "xnnpack-sparse", "sparse"};
  };
  out << "\n### Sparsity x precision (seed 000, Figure 2)\n\nPer model (`" << model_key
      << "`) and weight precision: size on disk (MB), batch-1 latency (µs, encoder + "
         "reconstruction, p50) on the fastest backend of that precision's arithmetic (float "
         "kernels for fp32 / fp16 weights, int8 kernels for int8 weights), and NMSE dB on "
         "that backend.\n\n| "
      << model_key << " |";
  for (const char* what : {"size", "latency", "NMSE"}) {
    for (const auto& pr : precisions) out << ' ' << what << ' ' << pr << " |";
  }
  out << "\n|---|";
  for (std::size_t i = 0; i < 3 * precisions.size(); ++i) out << "---|";
  out << '\n';
  for (const auto& m : models) {
    out << "| " << m << " |";
    for (const auto& pr : precisions) {
      const auto v = cell(m, pr);
      out << ' '
          << (v.empty() ? "-" : fmt("%.3f", static_cast<double>(v[0]->csi->size_bytes) / 1e6))
          << " |";
    }
    for (const auto& pr : precisions) {
      const PointRecord* f = fastest(cell(m, pr), kernels_of(pr));
      out << ' '
          << (f ? fmt("%.0f", batch1_latency_us(*f, false)) + " (" + f->csi->backend + ")" : "-")
          << " |";
    }
    for (const auto& pr : precisions) {
      const PointRecord* f = fastest(cell(m, pr), kernels_of(pr));
      out << ' ' << (f ? fmt("%.2f", f->csi->nmse_db) : "-") << " |";
    }
    out << '\n';
  }
  out << "\n### Sparse kernels on and off (seed 000, Figure 3)\n\nBatch-1 latency (µs, p50) of "
         "the same model on dense kernels and on our sparse ones of its precision: `xnnpack` "
         "against `sparse` for fp32 / fp16 weights, `int8` against `sparse-int8` for int8 "
         "weights.\n\n| "
      << model_key << " | precision | dense kernels | sparse kernels | sparse speed-up |\n"
      << "|---|---|---|---|---|\n";
  for (const auto& m : models) {
    for (const auto& pr : precisions) {
      const auto v = cell(m, pr);
      // Kernels of the stored precision: int8 weights on int8 ones, fp32 / fp16 on fp32 ones.
      const bool int8 = pr == "int8";
      const PointRecord* dense = fastest(v, {int8 ? "int8" : "xnnpack"});
      const PointRecord* sparse = fastest(v, {int8 ? "sparse-int8" : "sparse"});
      if (!dense || !sparse) continue;
      const double d = batch1_latency_us(*dense, false), sp = batch1_latency_us(*sparse, false);
      out << "| " << m << " | " << pr << " | " << fmt("%.0f", d) << " (" << dense->csi->backend
          << ") | " << fmt("%.0f", sp) << " (" << sparse->csi->backend << ") | "
          << (sp > 0 ? fmt("%.2fx", d / sp) : std::string("-")) << " |\n";
    }
  }
  return out.str();
}

/// Seed 002's Tables 1 and 2 layout, for runs that sweep csi.variant on one backend: a row per
/// variant, a column per CR, each cell the NMSE with the kept fraction of the compressed weights
/// and their bits in brackets.
std::string csi_variant_by_cr_table(const RunRecord& run) {
  if (std::find(run.axes.begin(), run.axes.end(), "csi.variant") == run.axes.end()) return "";
  std::vector<std::string> variants;
  std::vector<std::size_t> crs;
  std::set<std::string> backends;
  for (const PointRecord* p : csi_rows(run)) {
    if (std::find(variants.begin(), variants.end(), p->csi->variant) == variants.end()) {
      variants.push_back(p->csi->variant);
    }
    if (std::find(crs.begin(), crs.end(), p->csi->cr) == crs.end()) crs.push_back(p->csi->cr);
    backends.insert(p->csi->backend);
  }
  if (backends.size() != 1) return "";
  std::ostringstream out;
  out << "\n### NMSE per variant and CR (seed 002, Tables 1 and 2 layout)\n\nNMSE dB on `"
      << *backends.begin()
      << "`; in brackets the share of the compressed weights kept (not pruned) and the bits "
         "per stored weight value.\n\n| Variant |";
  for (const std::size_t cr : crs) out << " CR 1/" << cr << " |";
  out << "\n|---|";
  for (std::size_t i = 0; i < crs.size(); ++i) out << "---|";
  out << '\n';
  for (const auto& v : variants) {
    out << "| " << v << " |";
    for (const std::size_t cr : crs) {
      const PointRecord* hit = nullptr;
      for (const PointRecord* p : csi_rows(run)) {
        if (p->csi->variant == v && p->csi->cr == cr) hit = p;
      }
      out << ' '
          << (hit ? fmt("%.2f", hit->csi->nmse_db) + " (" +
                        fmt("%.2f%%", 100.0 * (1.0 - hit->csi->sparsity)) + ", " +
                        std::to_string(hit->csi->bits) + " b)"
                  : std::string("-"))
          << " |";
    }
    out << '\n';
  }
  return out.str();
}

std::string csi_summary_markdown(const RunRecord& run) {
  std::ostringstream out;
  out << summary_header(run);
  const PointRecord* first = run.points.empty() ? nullptr : &run.points.front();
  if (first && first->csi) {
    out << first->csi->samples << " test samples, the same for every method. ";
  }
  out << "NMSE in dB on the truncated angular-delay matrix (as CsiNet Table I, with rho in "
         "brackets: cosine similarity on CsiNet's grid, 125 of 257 zero-padded delay-DFT bins; "
         "`rho, full grid` uses every subcarrier of H_sf where the data has it). BER: QPSK on "
         "every subcarrier of the MRT downlink beamformed from the fed-back CSI, at the "
         "scenario's Es/N0 per antenna, next to MRT with perfect CSI (same bits and noise). "
         "Latency: per block call (batch in the config).\n\n";
  out << csi_table(run) << csi_compression_table(run) << csi_sparsity_precision_tables(run)
      << csi_variant_by_cr_table(run);
  return out.str();
}
}  // namespace

std::string results_table(const RunRecord& run) {
  if (run.kind == "csi_feedback") {
    // A comparison of compressed models shows its seed 000 table (summary.md has both).
    return compression_swept(run) ? csi_compression_table(run) : csi_table(run);
  }
  std::ostringstream out;
  const auto axes = series_axes(run);
  out << "|";
  for (const auto& a : axes) out << ' ' << a << " |";
  out << " Eb/N0 (dB) | Es/N0 (dB) | bits | bit errors | BER | BER 95% CI | theory | FER | Mbit/s "
         "| "
         "stop |\n|";
  for (std::size_t i = 0; i < axes.size() + 10; ++i) out << "---|";
  out << '\n';
  for (const auto& p : run.points) {
    const Counts& c = p.result.counts;
    const auto [lo, hi] = ber_interval95(c.bit_errors, c.bits, c.frames, c.bit_errors_sumsq);
    out << "|";
    for (const auto& a : axes) out << ' ' << (p.swept.count(a) ? p.swept.at(a) : "") << " |";
    out << ' ' << fmt("%.2f", p.snr.ebn0_db) << " | " << fmt("%.2f", p.snr.esn0_db) << " | "
        << c.bits << " | " << c.bit_errors << " | " << fmt("%.3e", ber(c)) << " | ["
        << fmt("%.2e", lo) << ", " << fmt("%.2e", hi) << "] | "
        << (p.ber_theory ? fmt("%.3e", *p.ber_theory) : "-") << " | " << fmt("%.3e", fer(c))
        << " | " << fmt("%.1f", throughput_mbps(p)) << " | " << to_string(p.result.reason)
        << " |\n";
  }
  return out.str();
}

void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  bool ok = true;
  while (ok && done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    ok = n > 0 || (n < 0 && errno == EINTR);
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = ok ? errno : saved;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(err));
  }
  // Make the rename itself durable.
  const int dir = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_results(const RunRecord& run, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  Json j;
  j["scenario"] = run.scenario;
  j["description"] = run.description;
  j["source"] = run.source;
  j["seed"] = run.seed;
  j["threads"] = run.threads;
  j["git_revision"] = run.git_revision;
  j["kind"] = run.kind;
  j["snr_kind"] = run.snr_kind;
  Json config = Json::object();
  for (const auto& [k, v] : run.config) config[k] = v.size() == 1 ? Json(v.front()) : Json(v);
  j["config"] = config;
  j["axes"] = run.axes;
  j["planned_points"] = run.planned_points;
  j["status"] = run.status;
  j["points"] = Json::array();
  for (const auto& p : run.points) j["points"].push_back(point_to_json(p));
  write_file_atomically(dir / "results.json", j.dump(2) + "\n");
  const bool csi = run.kind == "csi_feedback";
  write_file_atomically(dir / "results.csv", csi ? csi_csv(run) : csv(run));
  write_file_atomically(dir / "summary.md",
                        csi ? csi_summary_markdown(run) : summary_markdown(run));
}

RunRecord read_results(const std::filesystem::path& json_file) {
  std::ifstream in(json_file);
  if (!in) throw std::runtime_error(json_file.string() + ": cannot open");
  try {
    const Json j = Json::parse(in);
    RunRecord run;
    run.scenario = j.at("scenario").get<std::string>();
    run.description = j.at("description").get<std::string>();
    run.source = j.at("source").get<std::string>();
    run.seed = j.at("seed").get<std::uint64_t>();
    run.threads = j.at("threads").get<unsigned>();
    run.git_revision = j.at("git_revision").get<std::string>();
    run.kind = j.value("kind", std::string("link"));
    run.snr_kind = j.at("snr_kind").get<std::string>();
    for (const auto& [k, v] : j.at("config").items()) {
      run.config[k] = v.is_array() ? v.get<std::vector<std::string>>()
                                   : std::vector<std::string>{v.get<std::string>()};
    }
    run.axes = j.at("axes").get<std::vector<std::string>>();
    run.planned_points = j.at("planned_points").get<std::size_t>();
    run.status = j.at("status").get<std::string>();
    for (const auto& p : j.at("points")) run.points.push_back(point_from_json(p));
    return run;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(json_file.string() + ": not a linksim results file (" + e.what() +
                             ")");
  }
}

namespace {

/// A gnuplot string literal: single quotes, with ' doubled.
std::string gnuplot_quoted(const std::string& text) {
  std::string q = "'";
  for (char ch : text) q += ch == '\'' ? std::string("''") : std::string(1, ch);
  return q + "'";
}

/// Runs gnuplot on `script` inside `dir` (fork/exec with an argument list: nothing passes through
/// a shell). Returns an error message, or "" on success.
std::string run_gnuplot(const std::filesystem::path& dir, const std::string& script) {
  const pid_t pid = ::fork();
  if (pid < 0) return "cannot start gnuplot";
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
    }
    if (::chdir(dir.c_str()) == 0)
      ::execlp("gnuplot", "gnuplot", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 127
               ? "gnuplot not found (scripts/setup.sh installs it)"
               : "gnuplot failed on " + (dir / script.c_str()).string();
  }
  return "";
}

}  // namespace

std::string write_ber_plot(const RunRecord& run, const std::filesystem::path& dir) {
  if (run.points.empty()) return "no points to plot";
  // One data block per series (blank-line separated) so gnuplot draws one curve each.
  std::ostringstream data;
  std::vector<std::string> labels;
  std::string current;
  bool any_theory = false;
  for (const auto& p : run.points) {
    const std::string label = series_label(run, p);
    if (labels.empty() || label != current) {
      if (!labels.empty()) data << "\n\n";
      labels.push_back(label);
      current = label;
    }
    const Counts& c = p.result.counts;
    if (c.bit_errors == 0) continue;  // nothing to draw on a log axis
    const auto [lo, hi] = ber_interval95(c.bit_errors, c.bits, c.frames, c.bit_errors_sumsq);
    const double x = run.snr_kind == "esn0" ? p.snr.esn0_db : p.snr.ebn0_db;
    data << x << ' ' << ber(c) << ' ' << lo << ' ' << hi << ' '
         << (p.ber_theory ? fmt("%.6e", *p.ber_theory) : "NaN") << '\n';
    any_theory = any_theory || p.ber_theory.has_value();
  }
  write_file_atomically(dir / "ber.dat", data.str());
  // gnuplot runs inside `dir` on relative file names; labels are quoted for gnuplot.
  std::ostringstream gp;
  gp << "set terminal svg size 800,560 dynamic enhanced font 'sans,12'\n"
     << "set output 'ber.svg'\n"
     << "set logscale y\nset format y '10^{%L}'\nset grid\nset key bottom left\n"
     << "set xlabel '" << (run.snr_kind == "esn0" ? "E_s/N_0 (dB)" : "E_b/N_0 (dB)") << "'\n"
     << "set ylabel 'BER'\nset title " << gnuplot_quoted(run.scenario + " (95% CI error bars)")
     << " noenhanced\nplot ";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::string name = labels[i].empty() ? "simulated" : labels[i];
    gp << (i ? ", " : "") << "'ber.dat' index " << i
       << " using 1:2:3:4 with yerrorlines lw 2 title " << gnuplot_quoted(name) << " noenhanced";
    if (any_theory) {
      gp << ", '' index " << i << " using 1:5 with lines dt 2 lc " << i + 1 << " title "
         << gnuplot_quoted(name + " (theory)") << " noenhanced";
    }
  }
  gp << "\n";
  write_file_atomically(dir / "ber.gp", gp.str());
  return run_gnuplot(dir, "ber.gp");
}

std::string write_nmse_plot(const RunRecord& run, const std::filesystem::path& dir) {
  // One data block per method (and other swept keys), points sorted by CR.
  std::map<std::string, std::vector<const PointRecord*>> series;
  for (const PointRecord* p : csi_rows(run)) {
    std::string label = p->csi->method;
    for (const auto& a : series_axes(run)) {
      if (a != "csi.method" && a != "csi.cr" && p->swept.count(a)) {
        label += ", " + a.substr(a.find('.') + 1) + "=" + p->swept.at(a);
      }
    }
    series[label].push_back(p);
  }
  if (series.empty()) return "no points to plot";
  std::ostringstream data, gp;
  gp << "set terminal svg size 800,560 dynamic enhanced font 'sans,12'\n"
     << "set output 'nmse.svg'\nset logscale x 2\nset grid\nset key top left\n"
     << "set xlabel 'compression ratio 1/CR (CR)'\nset ylabel 'NMSE (dB)'\n"
     << "set title " << gnuplot_quoted(run.scenario + ": NMSE against CR (95% CI)")
     << " noenhanced\nplot ";
  std::size_t i = 0;
  for (const auto& [label, points] : series) {
    if (i) data << "\n\n";
    for (const PointRecord* p : points) {
      data << p->csi->cr << ' ' << p->csi->nmse_db << ' ' << p->csi->nmse_db_ci95_low << ' '
           << p->csi->nmse_db_ci95_high << '\n';
    }
    gp << (i ? ", " : "") << "'nmse.dat' index " << i
       << " using 1:2:3:4 with yerrorlines lw 2 title " << gnuplot_quoted(label) << " noenhanced";
    ++i;
  }
  gp << "\n";
  write_file_atomically(dir / "nmse.dat", data.str());
  write_file_atomically(dir / "nmse.gp", gp.str());
  return run_gnuplot(dir, "nmse.gp");
}

std::vector<std::size_t> pareto_front(const std::vector<std::pair<double, double>>& xy) {
  std::vector<std::size_t> order(xy.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return xy[a].first != xy[b].first ? xy[a].first < xy[b].first : xy[a].second < xy[b].second;
  });
  std::vector<std::size_t> front;
  for (const std::size_t i : order) {
    if (front.empty() || xy[i].second < xy[front.back()].second) front.push_back(i);
  }
  return front;
}

std::string write_compression_plots(const RunRecord& run, const std::filesystem::path& dir) {
  if (!compression_swept(run)) return "";
  // Per backend: (size MB, NMSE dB, batch-1 latency µs, label) of every NN point.
  struct Row {
    double mb, nmse, latency;
    std::string label;
  };
  std::map<std::string, std::vector<Row>> by_backend;
  std::vector<Row> all;
  for (const PointRecord* p : csi_rows(run)) {
    const CsiPointMetrics& m = *p->csi;
    if (m.size_bytes == 0) continue;  // a CS method
    std::string label = m.variant.empty()
                            ? fmt("%.0f%%", 100 * m.sparsity) + " " + std::to_string(m.bits) + "b"
                            : m.variant;
    if (std::find(run.axes.begin(), run.axes.end(), "csi.cr") != run.axes.end()) {
      label += " CR" + std::to_string(m.cr);
    }
    const Row r{static_cast<double>(m.size_bytes) / 1e6, m.nmse_db, batch1_latency_us(*p, false),
                label};
    by_backend[m.backend].push_back(r);
    all.push_back(r);
  }
  if (all.empty()) return "no NN points to plot";
  std::ostringstream data, gp;
  std::size_t block = 0;
  const auto write_block = [&](const std::vector<Row>& rows, auto&& x, auto&& y) {
    if (block++) data << "\n\n";
    for (const Row& r : rows) data << x(r) << ' ' << y(r) << " \"" << r.label << "\"\n";
  };
  const auto size_of = [](const Row& r) { return r.mb; };
  const auto nmse_of = [](const Row& r) { return r.nmse; };
  const auto latency_of = [](const Row& r) { return r.latency; };
  const auto front_of = [&](auto&& x, auto&& y) {
    std::vector<std::pair<double, double>> xy;
    for (const Row& r : all) xy.emplace_back(x(r), y(r));
    std::vector<Row> front;
    for (const std::size_t i : pareto_front(xy)) front.push_back(all[i]);
    return front;
  };
  gp << "set terminal svg size 1200,520 dynamic enhanced font 'sans,12'\n"
     << "set output 'compression.svg'\nset multiplot layout 1,2 title "
     << gnuplot_quoted(run.scenario +
                       ": compressed models (Pareto front: nothing both smaller "
                       "and better)")
     << " noenhanced\nset grid\nset logscale x\nset key bottom right\n";
  const auto panel = [&](const char* ylabel, auto&& y) {
    gp << "set xlabel 'model size on disk (MB)'\nset ylabel '" << ylabel << "'\nplot ";
    std::size_t i = 0;
    for (const auto& [backend, rows] : by_backend) {
      gp << (i++ ? ", " : "") << "'compression.dat' index " << block
         << " using 1:2 with points pt 7 ps 0.8 title " << gnuplot_quoted(backend) << " noenhanced";
      write_block(rows, size_of, y);
    }
    gp << ", 'compression.dat' index " << block
       << " using 1:2 with linespoints lw 2 dt 2 pt 6 ps 1.5 title 'Pareto front', '' index "
       << block << " using 1:2:3 with labels offset 0,1 font ',9' notitle noenhanced\n";
    write_block(front_of(size_of, y), size_of, y);
  };
  panel("NMSE (dB)", nmse_of);
  panel("latency, batch 1, p50 (µs)", latency_of);
  gp << "unset multiplot\n";
  write_file_atomically(dir / "compression.dat", data.str());
  write_file_atomically(dir / "compression.gp", gp.str());
  return run_gnuplot(dir, "compression.gp");
}

}  // namespace linksim
