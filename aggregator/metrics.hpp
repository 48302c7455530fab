#pragma once
// The aggregator's counters (the serving parts' own in ServerMetrics), written by the service loop and read by the HTTP
// thread (/metrics, `fleetban status`). Plain atomics: no lock on the hot path.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/server_metrics.hpp"

namespace fleetban::aggregator {

enum class EventOutcome { applied, duplicate, refused };
inline constexpr std::array kEventOutcomeNames{std::string_view{"applied"}, std::string_view{"duplicate"},
                                               std::string_view{"refused"}};

using server::kRejectReasonNames;
using server::RejectReason;

// Upper bounds of the commit latency histogram, in seconds.
inline constexpr std::array kCommitBuckets{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0};

struct Metrics : server::ServerMetrics {
  // [kind: 0 ban, 1 unban][outcome]
  std::array<std::array<std::atomic<std::uint64_t>, 3>, 2> events{};
  std::array<std::atomic<std::uint64_t>, kCommitBuckets.size()> commit_buckets{};  // non-cumulative
  std::atomic<std::uint64_t> commit_count{0};
  std::atomic<std::uint64_t> commit_micros_sum{0};
  std::atomic<std::uint64_t> active_bans{0};
  std::atomic<std::uint64_t> records{0};  // addresses remembered, active or not
  std::atomic<std::uint64_t> last_sequence{0};
  std::atomic<std::uint64_t> reporters{0};  // distinct hosts that reported since start
  // The HA group (PostgreSQL state, aggregator/lease.hpp): this member's role, and the epoch and
  // since-when of the lease as it last saw it (its own when active, the holder's while waiting).
  enum class HaRole { none, active, waiting };  // none: SQLite state, no group
  std::atomic<HaRole> ha_role{HaRole::none};
  std::atomic<std::int64_t> ha_epoch{0};
  std::atomic<std::int64_t> ha_since{0};  // unix seconds
  bool waiting() const { return ha_role.load() == HaRole::waiting; }

  void count_event(bool unban, EventOutcome outcome) {
    events[unban ? 1 : 0][static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  }
  void observe_commit(std::chrono::microseconds took);

  // Prometheus text exposition format.
  std::string render_prometheus() const;
};

}  // namespace fleetban::aggregator
