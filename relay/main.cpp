// fleetban-relay: fans the broadcast out and serves snapshots for part of a large fleet. See
// relay/relay.hpp.
#include <csignal>

#include "common/logging.hpp"
#include "common/program.hpp"
#include "relay/relay.hpp"

namespace {
fleetban::relay::RelaySignals g_signals;
extern "C" void on_stop(int) { g_signals.stop = true; }
extern "C" void on_hup(int) { g_signals.reload = true; }
}  // namespace

int main(int argc, char** argv) {
  using namespace fleetban;
  CLI::App app{"fleetban-relay: forwards its hosts' events to the aggregator and serves them the fleet's decisions",
               "fleetban-relay"};
  app.set_version_flag("--version", FLEETBAN_VERSION);
  common::ConfigFlags flags;
  common::add_config_flags(app, relay::relay_config_keys(), flags);
  if (auto exit = common::parse_command_line(app, argc, argv)) return *exit;
  return common::run_program("fleetban-relay", [&] {
    auto config = relay::load_relay_config(flags.config_file, flags.overrides);
    common::init_logging("fleetban-relay");
    std::signal(SIGTERM, on_stop);
    std::signal(SIGINT, on_stop);
    std::signal(SIGHUP, on_hup);
    relay::run_relay(config, g_signals);
    return 0;
  });
}
