#pragma once
// fleetban-subscriber's loop, the client half of the ZeroMQ Guide's Clone pattern: subscribe to
// the broadcast first, then take a snapshot, drop updates at or below the snapshot's sequence and
// apply the rest in order. A gap in the sequence, a heartbeat ahead of us, a new aggregator
// incarnation or three missed heartbeats make it take a new snapshot. It also drains this host's
// spool of events the publisher could not deliver.

#include <atomic>

#include "common/host_config.hpp"

namespace fleetban::subscriber {

// Runs until `stop`. Throws UsageError/RuntimeError on a fatal start-up problem only.
void run_subscriber(const common::HostConfig& config, const std::atomic<bool>& stop);

}  // namespace fleetban::subscriber
