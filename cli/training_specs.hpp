// Key specifications of the training-type scenarios (train, compress, classifier): fixed values,
// never sweep axes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "sim/config.hpp"

namespace linksim::cli {

inline constexpr double kMaxSpecInt = 9007199254740992.0;  ///< 2^53

/// A key of `kind` with its default, one-line documentation and range [min, max].
inline ParamSpec spec(std::string key, ParamKind kind, std::string def, std::string doc,
                      double min = 0, double max = kMaxSpecInt) {
  ParamSpec s;
  s.key = std::move(key);
  s.kind = kind;
  s.default_value = std::move(def);
  s.doc = std::move(doc);
  s.min = min;
  s.max = max;
  s.sweepable = false;
  return s;
}

/// A key taking one of `choices`.
inline ParamSpec choice(std::string key, std::vector<std::string> choices, std::string def,
                        std::string doc) {
  ParamSpec s = spec(std::move(key), ParamKind::Choice, std::move(def), std::move(doc));
  s.choices = std::move(choices);
  return s;
}

}  // namespace linksim::cli
