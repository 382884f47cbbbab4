#include "sim/config.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace po = boost::program_options;

namespace linksim {
namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

/// Splits on commas, keeping empty items (so "1,2," is caught as an error).
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t comma = text.find(','); comma != std::string::npos;
       comma = text.find(',', start)) {
    out.push_back(trim(std::string_view(text).substr(start, comma - start)));
    start = comma + 1;
  }
  out.push_back(trim(std::string_view(text).substr(start)));
  for (const auto& item : out) {
    if (item.empty()) throw std::invalid_argument("'" + text + "' has an empty list item");
  }
  return out;
}

double parse_number(std::string_view text) {
  const std::string t = trim(text);
  if (t.empty()) throw std::invalid_argument("empty number");
  // Decimal notation only (no hex, no inf/nan).
  if (t.find_first_not_of("0123456789+-.eE") != std::string::npos) {
    throw std::invalid_argument("'" + t + "' is not a number");
  }
  std::size_t used = 0;
  double v = 0.0;
  try {
    v = std::stod(t, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("'" + t + "' is not a number");
  }
  if (used != t.size()) throw std::invalid_argument("'" + t + "' is not a number");
  if (!std::isfinite(v)) throw std::invalid_argument("'" + t + "' is not finite");
  return v;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string section_of(const std::string& key) {
  const auto dot = key.find('.');
  return dot == std::string::npos ? std::string() : key.substr(0, dot);
}

std::string unknown_key_message(const std::string& key, const std::vector<ParamSpec>& schema) {
  std::string best;
  std::size_t best_d = 4;
  std::vector<std::string> same_section;
  for (const auto& s : schema) {
    const std::size_t d = edit_distance(key, s.key);
    if (d < best_d) {
      best_d = d;
      best = s.key;
    }
    if (section_of(s.key) == section_of(key)) same_section.push_back(s.key);
  }
  std::string msg = "unknown key '" + key + "'";
  if (!best.empty()) msg += " (did you mean '" + best + "'?)";
  if (!same_section.empty()) {
    msg +=
        "; valid keys" +
        (section_of(key).empty() ? std::string(" at top level") : " in [" + section_of(key) + "]") +
        ": " + join(same_section, ", ");
  } else {
    std::set<std::string> sections;
    for (const auto& s : schema) sections.insert(section_of(s.key));
    std::vector<std::string> names;
    for (const auto& s : sections) {
      if (!s.empty()) names.push_back("[" + s + "]");
    }
    msg += "; valid sections: " + join(names, ", ");
  }
  return msg;
}

/// Plain integers beyond 2^53 would be rounded when held as doubles: reject them explicitly.
void check_exact_integers(const std::string& value) {
  for (const auto& item : split_list(value)) {
    long long v = 0;
    const char* end = item.data() + item.size();
    const auto [ptr, ec] = std::from_chars(item.data() + (item[0] == '+' ? 1 : 0), end, v);
    if (ptr != end) continue;  // not a plain integer (ranges, exponent form): checked elsewhere
    if (ec == std::errc::result_out_of_range || std::llabs(v) > (1LL << 53)) {
      throw std::invalid_argument(item + " is too large (integers go up to 2^53)");
    }
  }
}

/// Validates one value of a key; returns its canonical values.
std::vector<std::string> check_value(const ParamSpec& spec, const std::string& value) {
  std::vector<std::string> out;
  switch (spec.kind) {
    case ParamKind::Text:  // a sweepable text key takes a comma list; others the whole text
      if (spec.sweepable && !trim(value).empty()) {
        out = split_list(value);
      } else {
        out.push_back(value);
      }
      break;
    case ParamKind::Choice: {  // one name, or a comma list (a sweep over blocks)
      for (const std::string& item : split_list(value)) {
        if (std::find(spec.choices.begin(), spec.choices.end(), item) == spec.choices.end()) {
          throw std::invalid_argument("'" + item +
                                      "' is not valid; choose one of: " + join(spec.choices, ", "));
        }
        out.push_back(item);
      }
      if (out.empty()) throw std::invalid_argument("no value given");
      break;
    }
    case ParamKind::Int:
    case ParamKind::Real: {
      const std::vector<double> numbers = parse_number_list(value);
      if (spec.kind == ParamKind::Int) check_exact_integers(value);
      for (double v : numbers) {
        if (spec.kind == ParamKind::Int && v != std::floor(v)) {
          throw std::invalid_argument(format_number(v) + " is not an integer");
        }
        if (spec.kind == ParamKind::Int && std::fabs(v) > 9007199254740992.0) {
          throw std::invalid_argument(format_number(v) + " is too large (integers go up to 2^53)");
        }
        if (v < spec.min || v > spec.max) {
          std::ostringstream msg;
          msg << format_number(v) << " is out of range [" << format_number(spec.min) << ", "
              << format_number(spec.max) << "]";
          throw std::invalid_argument(msg.str());
        }
        out.push_back(spec.kind == ParamKind::Int ? std::to_string(static_cast<long long>(v))
                                                  : format_number(v));
      }
      break;
    }
  }
  if (out.size() > 1 && !spec.sweepable) {
    throw std::invalid_argument("takes one value, not a list or range (it cannot be swept)");
  }
  return out;
}

}  // namespace

std::vector<double> parse_number_list(std::string_view text) {
  const std::string t = trim(text);
  if (t.empty()) throw std::invalid_argument("no value given");
  std::vector<double> out;
  if (t.find(',') != std::string::npos) {
    for (const auto& item : split_list(t)) out.push_back(parse_number(item));
    return out;
  }
  // A ':' after the first character is a range separator ("-3:1:2").
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 1; i < t.size(); ++i) {
    if (t[i] == ':') {
      parts.push_back(t.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(t.substr(start));
  if (parts.size() == 1) return {parse_number(parts[0])};
  if (parts.size() > 3) throw std::invalid_argument("a range is 'first:last' or 'first:step:last'");
  const double first = parse_number(parts[0]);
  const double step = parts.size() == 3 ? parse_number(parts[1]) : 1.0;
  const double last = parse_number(parts.back());
  if (step == 0.0 || (last - first) * step < 0.0) {
    throw std::invalid_argument("range '" + t + "' is empty or has a zero step");
  }
  const auto n = static_cast<std::size_t>(std::floor((last - first) / step + 1e-9)) + 1;
  if (n > 100000) throw std::invalid_argument("range '" + t + "' has more than 100000 values");
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(parse_number(format_number(first + static_cast<double>(i) * step)));
  }
  return out;
}

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  return buf;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

RawConfig parse_config_text(const std::string& text, const std::string& source) {
  RawConfig raw;
  raw.source = source;
  std::istringstream in(text);
  po::options_description none;
  try {
    const po::parsed_options parsed = po::parse_config_file(in, none, /*allow_unregistered=*/true);
    for (const auto& opt : parsed.options) {
      raw.entries.emplace_back(opt.string_key,
                               opt.value.empty() ? std::string() : trim(opt.value.front()));
    }
  } catch (const po::error& e) {
    std::string what = e.what();
    if (what.size() > 300) what = what.substr(0, 300) + "...";
    throw ConfigError(source + ": syntax error: " + what);
  }
  return raw;
}

RawConfig read_config_file(const std::filesystem::path& path) {
  constexpr std::uintmax_t kMaxBytes = 1 << 20;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw ConfigError(
        path.string() + ": " +
        (std::filesystem::exists(path, ec) ? "not a regular file" : "no such scenario file"));
  }
  if (std::filesystem::file_size(path, ec) > kMaxBytes) {
    throw ConfigError(path.string() + ": larger than 1 MiB; not a scenario file");
  }
  std::ifstream in(path);
  if (!in) throw ConfigError(path.string() + ": cannot open scenario file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_config_text(buffer.str(), path.string());
}

void apply_override(RawConfig& config, std::string_view assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw ConfigError("--set '" + std::string(assignment) + "': expected key=value");
  }
  const std::string key = trim(assignment.substr(0, eq));
  const std::string value = trim(assignment.substr(eq + 1));
  std::erase_if(config.entries, [&](const auto& e) { return e.first == key; });
  config.overridden.insert(key);
  config.entries.emplace_back(key, value);
}

Scenario validate(const RawConfig& raw, const std::vector<ParamSpec>& schema) {
  Scenario sc;
  sc.source = raw.source;
  std::vector<std::string> problems;
  std::set<std::string> seen;
  for (const auto& [key, value] : raw.entries) {
    const auto spec = std::find_if(schema.begin(), schema.end(),
                                   [&](const ParamSpec& s) { return s.key == key; });
    if (spec == schema.end()) {
      problems.push_back(unknown_key_message(key, schema));
      continue;
    }
    const bool first_time = seen.insert(key).second;
    if (!first_time) {
      problems.push_back("key '" + key + "' is given more than once");
      continue;
    }
    try {
      sc.values[key] = check_value(*spec, value);
      if (sc.values[key].size() > 1) sc.axes.push_back(key);
    } catch (const std::invalid_argument& e) {
      problems.push_back("key '" + key + "': " + e.what() +
                         (spec->doc.empty() ? "" : " — " + spec->doc));
    }
  }
  for (const auto& spec : schema) {
    if (sc.values.count(spec.key) != 0 || seen.count(spec.key) != 0) continue;
    if (spec.required) {
      problems.push_back("missing required key '" + spec.key + "' — " + spec.doc);
    } else {
      sc.values[spec.key] = {spec.default_value};
    }
  }
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += (msg.empty() ? "" : "\n") + raw.source + ": " + p;
    if (!raw.overridden.empty()) {
      msg += "\n(keys set on the command line:";
      for (const auto& k : raw.overridden) msg += " " + k;
      msg += ")";
    }
    throw ConfigError(msg);
  }
  return sc;
}

const std::string& PointConfig::text(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) throw ConfigError("internal: key '" + key + "' is not in the schema");
  return it->second;
}

double PointConfig::real(const std::string& key) const {
  return parse_number(text(key));
}

std::int64_t PointConfig::integer(const std::string& key) const {
  return static_cast<std::int64_t>(std::llround(real(key)));
}

std::uint64_t PointConfig::count(const std::string& key) const {
  const std::int64_t v = integer(key);
  if (v < 0) throw ConfigError("key '" + key + "' must not be negative");
  return static_cast<std::uint64_t>(v);
}

std::vector<PointConfig> expand(const Scenario& scenario, const std::string& inner_axis) {
  std::vector<std::string> axes;
  for (const auto& a : scenario.axes) {
    if (a != inner_axis) axes.push_back(a);
  }
  if (scenario.values.count(inner_axis) != 0) axes.push_back(inner_axis);

  std::map<std::string, std::string> base;
  for (const auto& [key, vals] : scenario.values) base[key] = vals.front();
  std::vector<PointConfig> points{PointConfig(base)};
  for (const auto& axis : axes) {
    std::vector<PointConfig> next;
    for (const auto& p : points) {
      for (const auto& v : scenario.values.at(axis)) {
        PointConfig q = p;
        q.set(axis, v);
        next.push_back(std::move(q));
      }
    }
    points = std::move(next);
  }
  return points;
}

}  // namespace linksim
