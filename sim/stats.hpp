// Error-rate statistics.
#pragma once

#include <cstdint>
#include <utility>

namespace linksim {

/// Exact (Clopper-Pearson) two-sided confidence interval for a binomial proportion with
/// `errors` successes in `trials` trials. Returns {low, high}; {0, 1} when trials == 0.
std::pair<double, double> clopper_pearson(std::uint64_t errors, std::uint64_t trials,
                                          double confidence = 0.95);

/// 95% confidence interval of the BER that stays valid when bit errors cluster within frames
/// (fading, bursts): the union of the Clopper-Pearson interval on bits and the frame-level
/// (cluster-robust) normal interval ber +- 1.96 s_e / (sqrt(frames) * bits_per_frame), where s_e
/// is the sample standard deviation of the bit errors per frame. Frames are independent by
/// construction, so the frame-level interval is valid; for i.i.d. errors the two agree closely.
std::pair<double, double> ber_interval95(std::uint64_t bit_errors, std::uint64_t bits,
                                         std::uint64_t frames, double bit_errors_sumsq);

}  // namespace linksim
