// Scenario configuration: a schema of typed keys, parsing of Boost.Program_options config files
// ("[section]" headers, "key = value", "#" comments), validation, and sweep expansion.
//
// Strings live only at this boundary: blocks read typed values (numbers, enum classes) from a
// PointConfig. Every error names the file, the key and what would have been valid, and is
// reported as a ConfigError (the CLI maps it to exit code 2).
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace linksim {

/// Int and Real take numbers, lists and ranges; Choice one of `choices` (a comma list when
/// sweepable); Text any text, split into a comma list only when the key is sweepable.
enum class ParamKind { Int, Real, Choice, Text };

/// One key of the scenario schema.
struct ParamSpec {
  std::string key;  ///< "section.name", or "name" for top-level keys
  ParamKind kind = ParamKind::Real;
  std::string default_value;  ///< used when the key is absent; empty for required keys
  std::string doc;            ///< one line, with the unit
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;  ///< valid values of a Choice key
  bool required = false;
  bool sweepable = true;  ///< may hold a list/range (a sweep axis); false for run/stop settings
};

/// Bad scenario input. The message is complete (file, key, valid choices).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Key/value pairs as written, in file order, before validation.
struct RawConfig {
  std::string source;  ///< file name (for messages)
  std::vector<std::pair<std::string, std::string>> entries;
  std::set<std::string> overridden;  ///< keys set by apply_override (named in error messages)
};

/// Parses a scenario file. Throws ConfigError for a missing file or bad syntax.
RawConfig read_config_file(const std::filesystem::path& path);
/// Parses config text (for tests and `--set`); `source` names it in messages.
RawConfig parse_config_text(const std::string& text, const std::string& source);
/// Applies "key=value" from the command line (replaces or adds the key).
void apply_override(RawConfig& config, std::string_view assignment);

/// A validated scenario: every schema key with its values (one, or several for a swept key),
/// each in canonical text form.
struct Scenario {
  std::string source;
  std::map<std::string, std::vector<std::string>> values;
  std::vector<std::string> axes;  ///< swept keys (more than one value), in file order
};

/// Checks every entry against the schema and fills defaults. Reports all problems at once.
Scenario validate(const RawConfig& raw, const std::vector<ParamSpec>& schema);

/// The fixed values of one sweep point.
class PointConfig {
 public:
  PointConfig() = default;
  explicit PointConfig(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  const std::string& text(const std::string& key) const;
  double real(const std::string& key) const;
  std::int64_t integer(const std::string& key) const;
  std::uint64_t count(const std::string& key) const;  ///< non-negative integer
  const std::map<std::string, std::string>& values() const { return values_; }
  void set(const std::string& key, const std::string& value) { values_[key] = value; }

 private:
  std::map<std::string, std::string> values_;
};

/// Expands the sweep into points: the Cartesian product of the axes, the first axis outermost,
/// except that `inner_axis` (if swept) always varies fastest.
std::vector<PointConfig> expand(const Scenario& scenario, const std::string& inner_axis);

/// Parses "a", "a:b" (step 1), "a:step:b" or "a, b, c" into numbers. Throws std::invalid_argument.
std::vector<double> parse_number_list(std::string_view text);

/// Shortest text that reads back as the same double (up to 12 significant digits).
std::string format_number(double v);

/// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace linksim
