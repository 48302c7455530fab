#include "relay/relay_metrics.hpp"

#include <fmt/format.h>

namespace fleetban::relay {

std::string RelayMetrics::render_prometheus() const {
  std::string out;
  auto series = [&](std::string_view type, std::string_view name, std::string_view help, std::uint64_t value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
  };
  out += "# HELP fleetban_rejected_input_total Input dropped or refused, by reason.\n";
  out += "# TYPE fleetban_rejected_input_total counter\n";
  for (std::size_t r = 0; r < server::kRejectReasonNames.size(); ++r) {
    out += fmt::format("fleetban_rejected_input_total{{reason=\"{}\"}} {}\n", server::kRejectReasonNames[r],
                       rejected[r].load());
  }
  series("gauge", "fleetban_subscribers", "Connections on the broadcast socket.", subscribers.load());
  series("counter", "fleetban_snapshots_total", "Snapshots served.", snapshots_served.load());
  series("gauge", "fleetban_relay_upstream_connected",
         "1 while the relay is in step with an upstream that heartbeats, else 0.", upstream_connected.load() ? 1 : 0);
  series("gauge", "fleetban_relay_sequence", "The sequence of the relay's live copy.", sequence.load());
  series("gauge", "fleetban_relay_active_bans", "Active decisions in the relay's live copy.", active_bans.load());
  series("counter", "fleetban_relay_events_forwarded_total", "Events forwarded upstream.", events_forwarded.load());
  series("counter", "fleetban_relay_acks_returned_total", "Upstream acks passed back to hosts.", acks_returned.load());
  series("gauge", "fleetban_relay_pending_replies", "Acks and replies the relay waits for from upstream.",
         pending_replies.load());
  return out;
}

}  // namespace fleetban::relay
