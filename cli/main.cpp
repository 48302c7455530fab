// fleetban: the operator's tool. See cli/commands.hpp.
#include <iostream>

#include "cli/commands.hpp"
#include "common/logging.hpp"
#include "common/program.hpp"

int main(int argc, char** argv) {
  using namespace fleetban;
  CLI::App app{"fleetban: the operator's tool for a fleetban fleet", "fleetban"};
  app.set_version_flag("--version", FLEETBAN_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  common::ConfigFlags flags;
  common::add_config_flags(app, common::host_config_keys(), flags);

  std::string key_name;
  std::string key_dir = ".";
  CLI::App* keygen = app.add_subcommand("keygen", "write NAME.key (secret, 0600) and NAME.pub in DIR");
  keygen->add_option("NAME", key_name, "the host's host_id, or the operator's name")->required();
  keygen->add_option("--dir", key_dir, "where to write the keys (default: .)");

  bool json = false;
  CLI::App* list = app.add_subcommand("list", "the fleet's active bans");
  list->add_flag("--json", json, "print the same document as GET /api/v1/bans");

  if (auto exit = common::parse_command_line(app, argc, argv)) return *exit;
  return common::run_program("fleetban", [&] {
    common::init_logging("fleetban");
    if (keygen->parsed()) return cli::keygen(key_name, key_dir, std::cout);
    auto config = common::load_host_config(flags.config_file, flags.overrides);
    return cli::list(config, json ? cli::ListFormat::json : cli::ListFormat::table, std::cout);
  });
}
