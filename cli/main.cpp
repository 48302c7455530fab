// fleetban: the operator's tool. See cli/commands.hpp.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/hosts_command.hpp"
#include "cli/show_command.hpp"
#include "common/errors.hpp"
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

  std::string ban_ip;
  std::int64_t bantime = 0;
  std::string reason;
  CLI::App* ban = app.add_subcommand("ban", "ban an address or prefix fleet-wide (operator keys only)");
  ban->add_option("IP", ban_ip, "IPv4 or IPv6 address or CIDR prefix")->required();
  ban->add_option("--bantime", bantime, "seconds; -1 permanent (default: the aggregator's default_bantime)");
  ban->add_option("--reason", reason, "why, for the record and the dashboard");

  std::string unban_ip;
  CLI::App* unban = app.add_subcommand("unban", "lift a fleet ban everywhere (operator keys only)");
  unban->add_option("IP", unban_ip, "IPv4 or IPv6 address or CIDR prefix")->required();

  CLI::App* status = app.add_subcommand("status", "the aggregator's state and this host's spool");

  bool hosts_json = false;
  CLI::App* hosts = app.add_subcommand("hosts", "every admitted key: last report, subscriber lag, stale or behind");
  hosts->add_flag("--json", hosts_json, "print the same document as GET /api/v1/hosts");

  std::string show_ip;
  bool show_json = false;
  CLI::App* show = app.add_subcommand("show", "one address: its fleet decision and history, newest first");
  show->add_option("IP", show_ip, "IPv4 or IPv6 address or CIDR prefix")->required();
  show->add_flag("--json", show_json, "print the same document as GET /api/v1/bans/IP");

  if (auto exit = common::parse_command_line(app, argc, argv)) return *exit;
  return common::run_program("fleetban", [&] {
    common::init_logging("fleetban");
    if (keygen->parsed()) return cli::keygen(key_name, key_dir, std::cout);
    auto parse_ip = [](const std::string& text) {
      auto prefix = common::IpPrefix::parse(text);
      if (!prefix) throw common::UsageError("'" + text + "' is not an IPv4 or IPv6 address or CIDR prefix");
      return *prefix;
    };
    if (ban->parsed()) {
      auto request = cli::OperatorBan{parse_ip(ban_ip), std::chrono::seconds(bantime), reason};
      return cli::ban(common::load_host_config(flags.config_file, flags.overrides), request, std::cout);
    }
    if (unban->parsed()) {
      auto prefix = parse_ip(unban_ip);
      return cli::unban(common::load_host_config(flags.config_file, flags.overrides), prefix, std::cout);
    }
    if (show->parsed()) {
      auto prefix = parse_ip(show_ip);
      return cli::show(common::load_host_config(flags.config_file, flags.overrides), prefix,
                       show_json ? cli::ListFormat::json : cli::ListFormat::table, std::cout);
    }
    auto config = common::load_host_config(flags.config_file, flags.overrides);
    if (status->parsed()) return cli::status(config, std::cout);
    if (hosts->parsed())
      return cli::hosts(config, hosts_json ? cli::ListFormat::json : cli::ListFormat::table, std::cout);
    return cli::list(config, json ? cli::ListFormat::json : cli::ListFormat::table, std::cout);
  });
}
