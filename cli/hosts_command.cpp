#include "cli/hosts_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <zmq.hpp>

#include "common/aggregator_client.hpp"
#include "common/endpoint_list.hpp"
#include "common/errors.hpp"
#include "common/hosts_json.hpp"
#include "common/socket_factory.hpp"

namespace fleetban::cli {

namespace {

// "12s ago", "5m ago", "3h ago", "2d ago"; "never" for what never happened.
std::string age(const std::optional<common::UnixSeconds>& at, common::UnixSeconds now) {
  if (!at) return "never";
  auto seconds = std::max<std::int64_t>(0, (now - *at).count());
  if (seconds < 120) return fmt::format("{}s ago", seconds);
  if (seconds < 2 * 3600) return fmt::format("{}m ago", seconds / 60);
  if (seconds < 2 * 86400) return fmt::format("{}h ago", seconds / 3600);
  return fmt::format("{}d ago", seconds / 86400);
}

std::string spool_text(const common::HostEntry& h) {
  if (!h.spool_bytes) return "-";
  if (h.spool_max_bytes && *h.spool_max_bytes > 0) {
    return fmt::format("{}%", *h.spool_bytes * 100 / *h.spool_max_bytes);
  }
  return fmt::format("{} B", *h.spool_bytes);
}

std::string state_text(const common::HostEntry& h) {
  if (h.stale) return h.subscriber_seen_at ? "STALE" : "STALE (never seen)";
  if (h.behind) return "BEHIND";
  if (h.backend_error && !h.backend_error->empty()) return "BACKEND FAILING: " + *h.backend_error;
  return h.subscriber_seen_at ? "ok" : "-";
}

}  // namespace

void print_hosts_table(const common::Hosts& hosts, std::ostream& out) {
  out << fmt::format("{:<24} {:<8} {:<12} {:>6} {:<12} {:>10} {:>6}  {}\n", "NAME", "KIND", "SUBSCRIBER", "LAG",
                     "LAST EVENT", "EVENTS 24H", "SPOOL", "STATE");
  std::size_t flagged = 0;
  for (const auto& h : hosts.hosts) {
    if (h.stale || h.behind) ++flagged;
    out << fmt::format("{:<24} {:<8} {:<12} {:>6} {:<12} {:>10} {:>6}  {}\n", h.name, common::to_string(h.kind),
                       age(h.subscriber_seen_at, hosts.now), h.lag ? std::to_string(*h.lag) : "-",
                       age(h.last_event_at, hosts.now), h.events_24h, spool_text(h), state_text(h));
  }
  out << fmt::format("{} key{} admitted, {} stale or behind, at sequence {}\n", hosts.hosts.size(),
                     hosts.hosts.size() == 1 ? "" : "s", flagged, hosts.sequence);
}

int hosts(const common::HostConfig& config, ListFormat format, std::ostream& out) {
  zmq::context_t context;
  common::ClientSockets sockets(context, config.security);
  // A person is waiting, not Fail2Ban: as long as `fleetban list` waits.
  auto answered = common::ask_in_turn(sockets, config.aggregators,
                                      std::max(config.timeout, std::chrono::milliseconds(3000)), common::fetch_hosts);
  if (!answered) throw common::RuntimeError(answered.error());
  const common::Hosts* hosts = &answered->answer;
  if (format == ListFormat::json) {
    out << common::hosts_json(*hosts) << "\n";
  } else {
    print_hosts_table(*hosts, out);
  }
  return common::kExitOk;
}

}  // namespace fleetban::cli
