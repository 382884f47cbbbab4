// `linksim train FILE.ini` (train a CsiNet-family CSI autoencoder from a training scenario) and
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
/// `linksim model-info FILE`; prints one JSON object; 2 for a missing or unusable file.
int cmd_model_info(const std::vector<std::string>& args);

}  // namespace linksim
