#pragma once
// The operator's tool, one function per subcommand; cli/main.cpp parses the flags and calls one.

#include <filesystem>
#include <iosfwd>
#include <string>

#include "common/host_config.hpp"

namespace fleetban::cli {

// fleetban keygen NAME [--dir DIR]
int keygen(const std::string& name, const std::filesystem::path& dir, std::ostream& out);

enum class ListFormat { table, json };

// fleetban list [--json]: the fleet's active bans, over the snapshot path.
int list(const common::HostConfig& config, ListFormat format, std::ostream& out);

}  // namespace fleetban::cli
