// fleetban-publish: run by the Fail2Ban action. See publisher/publisher.hpp.
#include "common/logging.hpp"
#include "common/program.hpp"
#include "publisher/publisher.hpp"

int main(int argc, char** argv) {
  using namespace fleetban;
  CLI::App app{"fleetban-publish: sends one ban or unban to the fleet's aggregator", "fleetban-publish"};
  app.set_version_flag("--version", FLEETBAN_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  common::ConfigFlags flags;
  common::add_config_flags(app, common::host_config_keys(), flags);

  std::string ip, jail, time;
  std::int64_t bantime = 0, failures = 0, bancount = 0;
  int restored = 0;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--ip", ip, "IPv4 or IPv6 address or CIDR prefix")->required();
    sub->add_option("--jail", jail, "the Fail2Ban jail")->required();
    sub->add_option("--bantime", bantime, "seconds; -1 permanent");
    sub->add_option("--time", time, "unix time the ban started (Fail2Ban's <time>)");
  };
  CLI::App* ban = app.add_subcommand("ban", "report a ban");
  add_common(ban);
  ban->add_option("--failures", failures, "failures that led to the ban");
  ban->add_option("--bancount", bancount, "how often this host banned the address");
  ban->add_option("--restored", restored, "1: Fail2Ban replaying its database (not sent)");
  CLI::App* unban = app.add_subcommand("unban", "report an unban");
  add_common(unban);
  if (auto exit = common::parse_command_line(app, argc, argv)) return *exit;

  return common::run_program("fleetban-publish", [&] {
    auto kind = ban->parsed() ? common::EventKind::ban : common::EventKind::unban;
    auto request = publisher::parse_publish_request(kind, ip, jail, bantime, failures, bancount, time, restored);
    auto config = common::load_host_config(flags.config_file, flags.overrides);
    common::init_logging("fleetban-publish");
    return publisher::publish(config, request);
  });
}
