#pragma once
// fleetban-relay's service loop: it stands between hosts and the aggregator (or another relay).
// Hosts connect to it as to an aggregator: it admits them from its own authorized_dir (the same
// ServerSockets, ZAP handler and Admission), forwards their events and reports upstream, vouching
// for the names it admitted, and passes the upstream's acks back (never acking anything itself);
// it follows the upstream by the Clone pattern into a live copy, from which it answers snapshot and
// status requests, and republishes every decision and heartbeat unchanged on its own broadcast.

#include <atomic>

#include "relay/relay_config.hpp"

namespace fleetban::relay {

struct RelaySignals {
  std::atomic<bool> stop{false};    // SIGTERM/SIGINT
  std::atomic<bool> reload{false};  // SIGHUP: reread authorized_dir
};

// Runs until signals.stop. Throws UsageError (bad keys) or RuntimeError (an endpoint taken).
void run_relay(const RelayConfig& config, RelaySignals& signals);

}  // namespace fleetban::relay
