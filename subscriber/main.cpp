// fleetban-subscriber: follows the fleet's decisions and enforces them. See subscriber/subscriber.hpp.
#include <atomic>
#include <csignal>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "common/program.hpp"
#include "subscriber/nftables_backend.hpp"
#include "subscriber/subscriber.hpp"

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_stop(int) { g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  using namespace fleetban;
  CLI::App app{"fleetban-subscriber: enforces the fleet's decisions on this host", "fleetban-subscriber"};
  app.set_version_flag("--version", FLEETBAN_VERSION);
  common::ConfigFlags flags;
  common::add_config_flags(app, common::host_config_keys(), flags);
  bool cleanup = false;
  app.add_flag("--cleanup", cleanup, "nftables backend: delete the table nft_table (and its bans), then exit");
  if (auto exit = common::parse_command_line(app, argc, argv)) return *exit;
  return common::run_program("fleetban-subscriber", [&] {
    auto config = common::load_host_config(flags.config_file, flags.overrides);
    common::init_logging("fleetban-subscriber");
    if (cleanup) {
      if (config.enforce.backend != common::BackendKind::nftables) {
        throw common::UsageError("--cleanup: only the nftables backend leaves state of its own to remove");
      }
      subscriber::NftablesBackend::from_config(config.enforce)->cleanup();
      return 0;
    }
    std::signal(SIGTERM, on_stop);
    std::signal(SIGINT, on_stop);
    subscriber::run_subscriber(config, g_stop);
    return 0;
  });
}
