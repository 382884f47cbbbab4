#include "sim/stats.hpp"

#include <boost/math/distributions/beta.hpp>

namespace linksim {

std::pair<double, double> clopper_pearson(std::uint64_t errors, std::uint64_t trials,
                                          double confidence) {
  if (trials == 0) return {0.0, 1.0};
  const double alpha = 1.0 - confidence;
  const auto k = static_cast<double>(errors);
  const auto n = static_cast<double>(trials);
  const double low =
      errors == 0 ? 0.0 : boost::math::quantile(boost::math::beta_distribution<>(k, n - k + 1), alpha / 2);
  const double high = errors == trials
                          ? 1.0
                          : boost::math::quantile(boost::math::beta_distribution<>(k + 1, n - k),
                                                  1 - alpha / 2);
  return {low, high};
}

}  // namespace linksim
