// The modulation classifier from scenario files (nn_compress/mod_classifier.hpp): a scenario with
// `model.arch = modclass` trains one under `linksim train` (optionally distilling a teacher named
// by distill.teacher) and distils a trained one into a smaller student under `linksim compress`
// (compress.model = the teacher, compress.steps = distill). train_commands.cpp hands such files
// here; `linksim model-info` and `linksim validate` know them too.
#pragma once

#include <string>
#include <vector>

#include "sim/config.hpp"

namespace linksim {

/// True when `file` (with the --set overrides `sets`) sets model.arch = modclass. False for an
/// unreadable file (the caller's own reading reports it).
bool is_classifier_scenario(const std::string& file, const std::vector<std::string>& sets);

/// The keys of a classifier scenario; with `compress` also [compress] model and steps.
std::vector<ParamSpec> classifier_schema(bool compress);

/// Trains (compress = false) or distils (compress = true) the classifier of a scenario: writes
/// run.model and prints its path on stdout, progress on stderr. Returns the exit code (2 for bad
/// model files). Throws ConfigError for bad keys.
int run_classifier_scenario(const std::string& file, const std::vector<std::string>& sets,
                            bool compress);

/// `linksim validate` of a classifier scenario: checks every key, prints "FILE: OK, ...".
int validate_classifier_scenario(const std::string& file, const std::vector<std::string>& sets);

/// `linksim model-info` of a classifier model file: its metadata and size as JSON on stdout.
int classifier_model_info(const std::string& file);

}  // namespace linksim
