// fleetban-aggregator: the central service. See aggregator/aggregator.hpp.
#include <csignal>

#include "aggregator/aggregator.hpp"
#include "common/logging.hpp"
#include "common/program.hpp"

namespace {
fleetban::aggregator::StopSignals g_signals;
extern "C" void on_stop(int) { g_signals.stop = true; }
extern "C" void on_hup(int) { g_signals.reload = true; }
}  // namespace

int main(int argc, char** argv) {
  using namespace fleetban;
  CLI::App app{"fleetban-aggregator: merges the fleet's reports into decisions and broadcasts them",
               "fleetban-aggregator"};
  app.set_version_flag("--version", FLEETBAN_VERSION);
  common::ConfigFlags flags;
  common::add_config_flags(app, aggregator::aggregator_config_keys(), flags);
  if (auto exit = common::parse_command_line(app, argc, argv)) return *exit;
  return common::run_program("fleetban-aggregator", [&] {
    auto config = aggregator::load_aggregator_config(flags.config_file, flags.overrides);
    common::init_logging("fleetban-aggregator");
    std::signal(SIGTERM, on_stop);
    std::signal(SIGINT, on_stop);
    std::signal(SIGHUP, on_hup);
    std::optional<std::filesystem::path> file;
    if (flags.config_file) file = *flags.config_file;
    aggregator::run_aggregator(config, g_signals, file, flags.overrides);
    return 0;
  });
}
