#pragma once
// The aggregator's service loop: takes events and snapshot requests on the ingest ROUTER, applies
// events to FleetState, commits them to the Store in groups, then acks them and broadcasts every
// changed decision with its sequence number on the PUB; heartbeats every second; expires bans.

#include <atomic>

#include "aggregator/aggregator_config.hpp"

namespace fleetban::aggregator {

struct StopSignals {
  std::atomic<bool> stop{false};    // SIGTERM/SIGINT: finish the group in hand and return
  std::atomic<bool> reload{false};  // SIGHUP: reread the policy
};

// Runs until signals.stop. Throws RuntimeError/UsageError on a fatal start-up problem.
void run_aggregator(const AggregatorConfig& config, StopSignals& signals,
                    const std::optional<std::filesystem::path>& config_file, const common::FlagOverrides& flags);

}  // namespace fleetban::aggregator
