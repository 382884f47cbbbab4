#include "cli/csi_runner.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "blocks/csi_feedback.hpp"
#include "channels/csi_dataset.hpp"
#include "cli/registry.hpp"
#include "sim/latency.hpp"
#include "sim/montecarlo.hpp"
#include "sim/snr.hpp"

// OpenMP's thread control (weak: absent when nothing in the process uses OpenMP). Armadillo's
// BLAS is OpenMP OpenBLAS (scripts/setup.sh); its thread count is OpenMP's per-thread setting.
extern "C" void omp_set_num_threads(int) __attribute__((weak));
extern "C" int omp_get_max_threads() __attribute__((weak));

namespace linksim {
namespace {

/// Per-sample outcome, kept by sample index so sums do not depend on the thread count.
struct SampleResult {
  double nmse_ratio = 0.0;
  double rho = 0.0;
  double rho_full = 0.0;
  MrtCounts mrt, perfect;
};

void add_sample(Counts& c, const MrtCounts& m) {
  c.bits += m.bits;
  c.bit_errors += m.bit_errors;
  c.bit_errors_sumsq += static_cast<double>(m.bit_errors) * static_cast<double>(m.bit_errors);
  c.frames += 1;
  c.frame_errors += m.bit_errors > 0 ? 1 : 0;
}

/// Scales a spatial-frequency channel to mean |h|^2 = 1 per entry (the SNR reference).
arma::cx_mat unit_power(const arma::cx_mat& h) {
  const double energy = arma::accu(arma::square(arma::abs(h)));
  return energy > 0 ? arma::cx_mat(h * std::sqrt(static_cast<double>(h.n_elem) / energy)) : h;
}

}  // namespace

std::string csi_test_set_key(const PointConfig& point) {
  return point.text("csi.data") + '|' + point.text("csi.channel") + '|' +
         point.text("csi.samples") + '|' + point.text("csi.data_seed");
}

void check_csi_point(const PointConfig& point) {
  const std::string& file = point.text("csi.data");
  std::error_code ec;
  if (!file.empty() && !std::filesystem::is_regular_file(file, ec)) {
    throw ConfigError("key 'csi.data': '" + file + "' is not a readable file");
  }
  check_csi_feedback(point, 2 * kCsiDelayRows * 32);  // CsiNet's 32 x 32 (checked again on data)
}

std::unique_ptr<CsiTestSet> load_csi_test_set(const PointConfig& point, unsigned threads) {
  auto out = std::make_unique<CsiTestSet>();
  const std::size_t samples = point.count("csi.samples");
  const std::string& file = point.text("csi.data");
  CsiDataset data;
  if (file.empty()) {
    const auto scenario = cost2100_scenario_named(point.text("csi.channel"));
    if (!scenario) throw ConfigError("key 'csi.channel': unknown channel");
    data = generate_csi_dataset(*scenario, samples, point.count("csi.data_seed"), threads, true);
    out->source =
        "generated " + point.text("csi.channel") + " (seed " + point.text("csi.data_seed") + ")";
  } else {
    try {
      data = read_csi_file(file);
    } catch (const DatasetError& e) {
      throw ConfigError("key 'csi.data': " + std::string(e.what()));
    }
    out->source = file;
    if (data.h_ad.n_slices < samples) {
      throw ConfigError("key 'csi.samples': " + std::to_string(samples) + " test samples asked, " +
                        file + " has " + std::to_string(data.h_ad.n_slices));
    }
  }
  out->h_ad = data.h_ad.slices(0, samples - 1);
  if (!data.h_sf.is_empty()) {
    out->h_sf = arma::conv_to<arma::cx_fcube>::from(data.h_sf.slices(0, samples - 1));
    out->subcarriers = data.h_sf.n_rows;
  } else if (const auto it = data.attributes.find("subcarriers"); it != data.attributes.end()) {
    out->subcarriers = std::stoul(it->second);
  }
  return out;
}

PointRecord run_csi_point(const PointConfig& point, const CsiTestSet& data, std::size_t index,
                          std::uint64_t seed, unsigned threads) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t rows = data.h_ad.n_rows, nt = data.h_ad.n_cols, n = data.h_ad.n_slices;
  const std::size_t nc = data.subcarriers;
  // NN blocks run one thread per call: our workers share out the samples, each with its own
  // copy of an NN block (inference objects serialise their calls); CS blocks are shared.
  const std::unique_ptr<CsiFeedback> feedback = build_csi_feedback(point, 2 * rows * nt, 1);
  const CsiFeedbackInfo info = feedback->info();
  const bool own_copies = info.backend != CsiFeedbackInfo{}.backend;
  PointConfig copy_point = point;
  copy_point.set("csi.backend", info.backend);  // Auto's choice, not a new measurement
  const auto block_for = [&](std::vector<std::unique_ptr<CsiFeedback>>& copies,
                             unsigned w) -> const CsiFeedback& {
    if (w == 0 || !own_copies) return *feedback;
    if (!copies[w]) copies[w] = build_csi_feedback(copy_point, 2 * rows * nt, 1);
    return *copies[w];
  };
  const std::size_t batch = std::max<std::uint64_t>(1, point.count("csi.batch"));
  const std::size_t symbols = point.count("csi.symbols_per_subcarrier");

  PointRecord rec;
  rec.index = index;
  rec.snr = make_snr_point(point_snr_kind(point), point.real("sweep.snr_db"), 2);  // QPSK

  // Our workers share out the samples; keep BLAS from adding threads of its own.
  threads =
      std::max(1U, std::min<unsigned>(threads, static_cast<unsigned>((n + batch - 1) / batch)));
  // The setting is per calling thread: each worker sets its own, and this thread's is restored.
  const bool single_blas =
      threads > 1 && omp_set_num_threads != nullptr && omp_get_max_threads != nullptr;
  const int blas_threads = single_blas ? omp_get_max_threads() : 1;

  std::vector<SampleResult> results(n);
  std::vector<std::unique_ptr<CsiFeedback>> copies(threads);
  const std::vector<std::string> stages = {"encoder", "reconstruction"};
  std::vector<LatencyRecorder> recorders(threads, LatencyRecorder(stages));
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::atomic<bool> failed{false};
  const auto work = [&](unsigned w) {
    if (single_blas) omp_set_num_threads(1);
    try {
      const CsiFeedback& block = block_for(copies, w);
      for (std::size_t start = next.fetch_add(batch); start < n && !failed;
           start = next.fetch_add(batch)) {
        const std::size_t count = std::min(batch, n - start);
        arma::mat x(2 * rows * nt, count);
        for (std::size_t b = 0; b < count; ++b) x.col(b) = flatten_csi(data.h_ad.slice(start + b));
        arma::mat y, x_hat;
        {
          const StageTimer timer(recorders[w], 0);
          y = block.encode(x);
        }
        {
          const StageTimer timer(recorders[w], 1);
          x_hat = block.decode(y);
        }
        for (std::size_t b = 0; b < count; ++b) {
          const std::size_t i = start + b;
          const arma::cx_mat& h = data.h_ad.slice(i);
          const arma::cx_mat h_hat = unflatten_csi(x_hat.col(b), rows, nt);
          SampleResult& r = results[i];
          r.nmse_ratio = nmse_ratio(h, h_hat);
          r.rho = cosine_similarity(h, h_hat);
          const arma::cx_mat h_est = from_angular_delay(h_hat, nc);
          const arma::cx_mat h_true = unit_power(
              data.h_sf.is_empty() ? from_angular_delay(h, nc)
                                   : arma::conv_to<arma::cx_mat>::from(data.h_sf.slice(i)));
          if (!data.h_sf.is_empty()) r.rho_full = cosine_similarity_freq(h_true, h_est);
          RandomStream link_rng(derive_seed(seed, kCsiLinkStream, i));
          r.mrt = mrt_qpsk_link(h_true, h_est, rec.snr.n0, symbols, link_rng);
          RandomStream perfect_rng(derive_seed(seed, kCsiLinkStream, i));
          r.perfect = mrt_qpsk_link(h_true, h_true, rec.snr.n0, symbols, perfect_rng);
        }
      }
    } catch (...) {
      if (!failed.exchange(true)) failure = std::current_exception();
    }
  };
  const auto run_workers = [&](const std::function<void(unsigned)>& job) {
    std::vector<std::thread> pool;
    for (unsigned w = 1; w < threads; ++w) pool.emplace_back(job, w);
    job(0);
    for (auto& t : pool) t.join();
  };
  run_workers(work);
  // Batched throughput: every worker encodes and reconstructs one batch of up to
  // kBatchedSamples samples at once.
  const std::size_t per_worker = std::min(kBatchedSamples, (n + threads - 1) / threads);
  const auto t_batched = std::chrono::steady_clock::now();
  std::atomic<std::size_t> batched_done{0};
  run_workers([&](unsigned w) {
    if (single_blas) omp_set_num_threads(1);
    const std::size_t first = std::min(n, w * per_worker);
    const std::size_t count = std::min(per_worker, n - first);
    if (count == 0 || failed) return;
    try {
      arma::mat x(2 * rows * nt, count);
      for (std::size_t b = 0; b < count; ++b) x.col(b) = flatten_csi(data.h_ad.slice(first + b));
      const CsiFeedback& block = block_for(copies, w);
      static_cast<void>(block.decode(block.encode(x)));
      batched_done += count;
    } catch (...) {
      if (!failed.exchange(true)) failure = std::current_exception();
    }
  });
  const double batched_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_batched).count();
  if (single_blas) omp_set_num_threads(blas_threads);
  if (failure) std::rethrow_exception(failure);

  CsiPointMetrics m;
  m.method = point.text("csi.method");
  m.cr = point.count("csi.cr");
  m.feedback_values = feedback->feedback_values();
  m.samples = n;
  m.throughput_samples_per_s = static_cast<double>(batched_done) / std::max(batched_s, 1e-9);
  m.variant = point.text("csi.variant");
  m.backend = info.backend;
  m.size_bytes = info.model_bytes;
  m.sparsity = info.sparsity;
  m.bits = info.weight_bits;
  double sum = 0, sumsq = 0, rho = 0, rho_full = 0, expected = 0, expected_perfect = 0;
  for (const SampleResult& r : results) {
    sum += r.nmse_ratio;
    sumsq += r.nmse_ratio * r.nmse_ratio;
    rho += r.rho;
    rho_full += r.rho_full;
    add_sample(rec.result.counts, r.mrt);
    add_sample(m.perfect, r.perfect);
    expected += r.mrt.expected_errors;
    expected_perfect += r.perfect.expected_errors;
  }
  const double nd = static_cast<double>(n);
  const double mean = sum / nd;
  const double sd = n > 1 ? std::sqrt(std::max(0.0, (sumsq - nd * mean * mean) / (nd - 1))) : 0;
  const double half = 1.96 * sd / std::sqrt(nd);
  const auto db = [](double v) { return 10.0 * std::log10(std::max(v, 1e-30)); };
  m.nmse_db = db(mean);
  m.nmse_db_ci95_low = db(mean - half);
  m.nmse_db_ci95_high = db(mean + half);
  m.rho = rho / nd;
  if (!data.h_sf.is_empty()) m.rho_full = rho_full / nd;
  m.ber_expected =
      expected / static_cast<double>(std::max<std::uint64_t>(1, rec.result.counts.bits));
  m.ber_perfect_expected =
      expected_perfect / static_cast<double>(std::max<std::uint64_t>(1, m.perfect.bits));
  // Batched timing: one call each on up to kBatchedSamples samples (after the pass above, so
  // caches and allocator are warm), per sample, on one thread (BLAS and LibTorch alike).
  {
    const int saved = omp_get_max_threads != nullptr ? omp_get_max_threads() : 1;
    if (omp_set_num_threads != nullptr) omp_set_num_threads(1);
    const std::size_t b = std::min(n, kBatchedSamples);
    arma::mat x(2 * rows * nt, b);
    for (std::size_t i = 0; i < b; ++i) x.col(i) = flatten_csi(data.h_ad.slice(i));
    const auto t_enc = std::chrono::steady_clock::now();
    const arma::mat y = feedback->encode(x);
    const auto t_dec = std::chrono::steady_clock::now();
    const arma::mat x_hat = feedback->decode(y);
    const auto t_end = std::chrono::steady_clock::now();
    const auto us = [b](auto d) {
      return std::chrono::duration<double, std::micro>(d).count() / static_cast<double>(b);
    };
    m.batched_samples = b;
    m.batched_encoder_us = us(t_dec - t_enc);
    m.batched_reconstruction_us = us(t_end - t_dec);
    if (omp_set_num_threads != nullptr) omp_set_num_threads(saved);
  }
  rec.csi = m;

  LatencyRecorder merged(stages);
  for (const auto& r : recorders) merged.merge(r);
  rec.result.latency = merged.summary();
  rec.result.latency[0].block = feedback->name() + "_encoder";
  rec.result.latency[1].block = feedback->name();
  rec.result.reason = StopReason::MaxFrames;
  rec.result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!std::isfinite(m.nmse_db)) {
    rec.result.reason = StopReason::NumericalError;
    rec.result.error = "NMSE is not finite (a reconstruction produced NaN/Inf)";
  }
  return rec;
}

}  // namespace linksim
