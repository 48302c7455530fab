#pragma once
// What every program's main shares: flags from the config table, --help/--version, and turning the
// two kinds of fatal error into one clear line on stderr and the documented exit status.

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "common/config.hpp"

namespace fleetban::common {

struct ConfigFlags {
  std::optional<std::string> config_file;
  FlagOverrides overrides;
};

// Adds --config FILE and one --some-key VALUE flag per key of the table to `app`.
void add_config_flags(CLI::App& app, std::span<const ConfigKey> keys, ConfigFlags& flags);

// Parses argv; nullopt to go on, or the exit status (0 after --help/--version, 2 on a usage error).
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

// Runs `body` and maps UsageError to exit 2, anything else thrown to exit 1, each with one line
// "PROGRAM: message" on stderr.
int run_program(const std::string& program, const std::function<int()>& body);

}  // namespace fleetban::common
