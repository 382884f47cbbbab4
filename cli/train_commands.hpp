// `linksim train FILE.ini` (train a CsiNet-family CSI autoencoder from a training scenario),
// `linksim compress FILE.ini` (compress a trained model into a compact model file) and
// `linksim model-info FILE` (what a model file is and how it was made, as JSON).
#pragma once

#include <string>
#include <vector>

#include "sim/config.hpp"

namespace linksim {

/// The keys of a training scenario file (sections [model], [data], [train], [run]).
std::vector<ParamSpec> train_schema();

/// `linksim train ...`; returns the exit code (2 for bad input, model or checkpoint files).
/// Throws boost::program_options::error, ConfigError or DatasetError for bad input.
int cmd_train(const std::vector<std::string>& args);
/// True when `linksim validate ARGS` names a training scenario (a file with [model] or [train]
/// keys) rather than a simulation scenario; false for anything unreadable (validate reports it).
bool is_training_scenario(const std::vector<std::string>& validate_args);
/// `linksim validate FILE` for a training scenario: checks every key and prints "FILE: OK, ...".
int cmd_validate_training(const std::vector<std::string>& args);
/// `linksim compress FILE.ini` (nn_compress/compress_pipeline.hpp); returns the exit code.
/// Throws boost::program_options::error, ConfigError or DatasetError for bad input.
int cmd_compress(const std::vector<std::string>& args);
/// `linksim model-info FILE`; prints one JSON object; 2 for a missing or unusable file.
int cmd_model_info(const std::vector<std::string>& args);

}  // namespace linksim
