#include "sim/stats.hpp"

#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <cmath>

namespace linksim {

std::pair<double, double> clopper_pearson(std::uint64_t errors, std::uint64_t trials,
                                          double confidence) {
  if (trials == 0) return {0.0, 1.0};
  const double alpha = 1.0 - confidence;
  const auto k = static_cast<double>(errors);
  const auto n = static_cast<double>(trials);
  const double low = errors == 0 ? 0.0
                                 : boost::math::quantile(
                                       boost::math::beta_distribution<>(k, n - k + 1), alpha / 2);
  const double high =
      errors == trials
          ? 1.0
          : boost::math::quantile(boost::math::beta_distribution<>(k + 1, n - k), 1 - alpha / 2);
  return {low, high};
}

std::pair<double, double> ber_interval95(std::uint64_t bit_errors, std::uint64_t bits,
                                         std::uint64_t frames, double bit_errors_sumsq) {
  auto [low, high] = clopper_pearson(bit_errors, bits);
  if (frames < 2 || bits == 0) return {low, high};
  const auto n = static_cast<double>(frames);
  const double mean = static_cast<double>(bit_errors) / n;
  const double var = std::max(0.0, (bit_errors_sumsq - n * mean * mean) / (n - 1.0));
  const double ber = static_cast<double>(bit_errors) / static_cast<double>(bits);
  const double half = 1.959963984540054 * std::sqrt(var / n) / (static_cast<double>(bits) / n);
  return {std::max(0.0, std::min(low, ber - half)), std::min(1.0, std::max(high, ber + half))};
}

}  // namespace linksim
