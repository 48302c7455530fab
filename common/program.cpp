#include "common/program.hpp"

#include <iostream>

#include "common/errors.hpp"

namespace fleetban::common {

void add_config_flags(CLI::App& app, std::span<const ConfigKey> keys, ConfigFlags& flags) {
  app.add_option("--config", flags.config_file, "config file (TOML)");
  for (const ConfigKey& key : keys) {
    std::string name(key.name);
    app.add_option_function<std::string>(
           flag_for(key.name), [&flags, name](const std::string& value) { flags.overrides[name] = value; },
           std::string(key.help))
        ->group("Config keys (override the file)");
  }
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help or --version
    std::cerr << app.get_name() << ": " << e.what() << "\n";
    return kExitUsage;
  }
  return std::nullopt;
}

int run_program(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return kExitRuntime;
  }
}

}  // namespace fleetban::common
