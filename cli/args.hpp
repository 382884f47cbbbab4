// Command-line parsing shared by the linksim subcommands (Boost.Program_options).
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace linksim::cli {

namespace po = boost::program_options;

struct Parsed {
  po::variables_map vm;
  bool help = false;
};

/// Parses a command's arguments: its options plus, when `positional` is given, one positional
/// argument stored under that name.
inline Parsed parse(const std::vector<std::string>& args, const po::options_description& visible,
                    const char* positional = nullptr) {
  po::options_description all;
  all.add(visible);
  po::positional_options_description pos;
  if (positional != nullptr) {
    all.add_options()(positional, po::value<std::string>());
    pos.add(positional, 1);
  }
  Parsed p;
  po::store(po::command_line_parser(args).options(all).positional(pos).run(), p.vm);
  po::notify(p.vm);
  p.help = p.vm.count("help") != 0;
  return p;
}

/// The positional argument `name`, or a usage error naming the command.
inline std::string required_positional(const Parsed& p, const char* name, const char* command) {
  if (!p.vm.count(name)) {
    throw po::error(std::string("missing ") + name + " (see linksim " + command + " --help)");
  }
  return p.vm[name].as<std::string>();
}

}  // namespace linksim::cli
