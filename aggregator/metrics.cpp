#include "aggregator/metrics.hpp"

#include <fmt/format.h>

namespace fleetban::aggregator {

void Metrics::observe_commit(std::chrono::microseconds took) {
  double seconds = static_cast<double>(took.count()) / 1e6;
  for (std::size_t i = 0; i < kCommitBuckets.size(); ++i) {
    if (seconds <= kCommitBuckets[i]) {
      commit_buckets[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  commit_count.fetch_add(1, std::memory_order_relaxed);
  commit_micros_sum.fetch_add(static_cast<std::uint64_t>(took.count()), std::memory_order_relaxed);
}

std::string Metrics::render_prometheus() const {
  std::string out;
  auto gauge = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, value);
  };
  out += "# HELP fleetban_events_total Events received from hosts and operators, by kind and outcome.\n";
  out += "# TYPE fleetban_events_total counter\n";
  for (std::size_t kind = 0; kind < 2; ++kind) {
    for (std::size_t o = 0; o < kEventOutcomeNames.size(); ++o) {
      out += fmt::format("fleetban_events_total{{kind=\"{}\",outcome=\"{}\"}} {}\n", kind == 0 ? "ban" : "unban",
                         kEventOutcomeNames[o], events[kind][o].load());
    }
  }
  out += "# HELP fleetban_rejected_input_total Input dropped or refused, by reason.\n";
  out += "# TYPE fleetban_rejected_input_total counter\n";
  for (std::size_t r = 0; r < kRejectReasonNames.size(); ++r) {
    out +=
        fmt::format("fleetban_rejected_input_total{{reason=\"{}\"}} {}\n", kRejectReasonNames[r], rejected[r].load());
  }
  out += "# HELP fleetban_commit_seconds Time to commit one group of events to the state database.\n";
  out += "# TYPE fleetban_commit_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kCommitBuckets.size(); ++i) {
    cumulative += commit_buckets[i].load();
    out += fmt::format("fleetban_commit_seconds_bucket{{le=\"{}\"}} {}\n", kCommitBuckets[i], cumulative);
  }
  out += fmt::format("fleetban_commit_seconds_bucket{{le=\"+Inf\"}} {}\n", commit_count.load());
  out += fmt::format("fleetban_commit_seconds_sum {}\n", static_cast<double>(commit_micros_sum.load()) / 1e6);
  out += fmt::format("fleetban_commit_seconds_count {}\n", commit_count.load());
  gauge("fleetban_active_bans", "Active fleet decisions.", active_bans.load());
  gauge("fleetban_records", "Addresses and prefixes the aggregator remembers, active or not.", records.load());
  gauge("fleetban_last_sequence", "The last broadcast sequence number.", last_sequence.load());
  gauge("fleetban_subscribers", "Connections on the broadcast socket.", subscribers.load());
  gauge("fleetban_reporters", "Distinct hosts that reported since the aggregator started.", reporters.load());
  if (auto role = ha_role.load(); role != HaRole::none) {
    gauge("fleetban_ha_active", "1 on the HA group's active member, 0 on a waiting one.",
          role == HaRole::active ? 1 : 0);
    gauge("fleetban_ha_epoch", "The fencing epoch of the group's lease (grows by one at every takeover).",
          static_cast<std::uint64_t>(ha_epoch.load()));
    gauge("fleetban_ha_active_since_seconds", "When the active member took the lease, in Unix seconds.",
          static_cast<std::uint64_t>(ha_since.load()));
  }
  out += fmt::format(
      "# HELP fleetban_snapshots_total Snapshots served.\n# TYPE fleetban_snapshots_total counter\n"
      "fleetban_snapshots_total {}\n",
      snapshots_served.load());
  return out;
}

}  // namespace fleetban::aggregator
