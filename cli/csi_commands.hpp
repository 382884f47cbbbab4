// `linksim dataset` and `linksim channel-stats`: massive MIMO CSI datasets (issue 3).
#pragma once

#include <string>
#include <vector>

namespace linksim {

/// `linksim dataset ...`; returns the exit code. Throws boost::program_options::error,
/// ConfigError or DatasetError for bad input (exit code 2).
int cmd_dataset(const std::vector<std::string>& args);
/// `linksim channel-stats FILE`; prints one JSON object.
int cmd_channel_stats(const std::vector<std::string>& args);

}  // namespace linksim
