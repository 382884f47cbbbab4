// Error-rate statistics.
#pragma once

#include <cstdint>
#include <utility>

namespace linksim {

/// Exact (Clopper-Pearson) two-sided confidence interval for a binomial proportion with
/// `errors` successes in `trials` trials. Returns {low, high}; {0, 1} when trials == 0.
std::pair<double, double> clopper_pearson(std::uint64_t errors, std::uint64_t trials,
                                          double confidence = 0.95);

}  // namespace linksim
