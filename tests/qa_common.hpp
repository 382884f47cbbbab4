// Helpers shared by the qa_*.cpp test programs: closed forms computed here (independently of
// sim/theory.hpp), statistical tolerances, default sweep points and temporary folders.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "cli/registry.hpp"
#include "sim/config.hpp"

namespace qa {

/// Number of standard deviations a Monte Carlo estimate may be off before a test fails.
/// z = 5: a correct implementation fails one check in about 1.7 million.
inline constexpr double kZ = 5.0;

/// Gaussian tail Q(x) = P(N(0,1) > x), from the C library erfc.
inline double q(double x) {
  return 0.5 * std::erfc(x / std::sqrt(2.0));
}

inline double db_to_linear(double db) {
  return std::pow(10.0, db / 10.0);
}

/// Allowed |p_hat - p| for a proportion estimated from n independent Bernoulli(p) trials.
inline double binomial_tolerance(double p, double n, double z = kZ) {
  return z * std::sqrt(p * (1.0 - p) / n);
}

/// A sweep point holding every schema key at its default, with `overrides` applied.
inline linksim::PointConfig make_point(const std::map<std::string, std::string>& overrides = {}) {
  std::map<std::string, std::string> values;
  for (const auto& s : linksim::scenario_schema()) values[s.key] = s.default_value;
  for (const auto& [k, v] : overrides) values[k] = v;
  return linksim::PointConfig(values);
}

/// A fresh, empty folder under the system temp folder, removed again on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("linksim_qa_" + tag + "_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace qa
