#pragma once
// The relay's counters: written by its loop, read by its HTTP thread (/metrics). The serving parts'
// own (rejected input, subscribers, snapshots served) are ServerMetrics, as on the aggregator.

#include <atomic>
#include <cstdint>
#include <string>

#include "server/server_metrics.hpp"

namespace fleetban::relay {

struct RelayMetrics : server::ServerMetrics {
  std::atomic<bool> upstream_connected{false};  // in step with an upstream that heartbeats
  std::atomic<std::uint64_t> sequence{0};       // of the live copy
  std::atomic<std::uint64_t> active_bans{0};    // in the live copy
  std::atomic<std::uint64_t> events_forwarded{0};
  std::atomic<std::uint64_t> acks_returned{0};
  std::atomic<std::uint64_t> pending_replies{0};  // acks and replies waited for

  // The Prometheus text exposition of all of them.
  std::string render_prometheus() const;
};

}  // namespace fleetban::relay
