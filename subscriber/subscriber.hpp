#pragma once
// fleetban-subscriber's loop: follows the fleet's decisions with a CloneClient (common/clone_client)
// and enforces them through its Enforcer and backend; it also drains this host's spool of events
// the publisher could not deliver.

#include <atomic>

#include "common/host_config.hpp"

namespace fleetban::subscriber {

// Runs until `stop`. Throws UsageError/RuntimeError on a fatal start-up problem only.
void run_subscriber(const common::HostConfig& config, const std::atomic<bool>& stop);

}  // namespace fleetban::subscriber
