#include "aggregator/host_metrics.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <type_traits>

namespace fleetban::aggregator {

namespace {

using Value = std::function<std::optional<std::int64_t>(const common::HostEntry&)>;

template <typename T>
std::optional<std::int64_t> number(const std::optional<T>& value) {
  if (!value) return std::nullopt;
  if constexpr (std::is_same_v<T, common::UnixSeconds>) {
    return common::to_unix(*value);
  } else {
    return static_cast<std::int64_t>(*value);  // at most 2^53 (the decoder's bound)
  }
}

// One gauge family; names are [A-Za-z0-9._@:-], which a label value takes as it is.
void family(std::string& out, const common::Hosts& hosts, std::string_view name, std::string_view help,
            const Value& value) {
  std::string samples;
  for (const auto& h : hosts.hosts) {
    if (auto v = value(h))
      samples += fmt::format("{}{{host=\"{}\",kind=\"{}\"}} {}\n", name, h.name, to_string(h.kind), *v);
  }
  if (samples.empty()) return;
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n", name, help);
  out += samples;
}

}  // namespace

std::string render_host_metrics(const common::Hosts& hosts) {
  std::string out;
  family(out, hosts, "fleetban_host_lag", "Decisions the host's subscriber had not applied when it last reported in.",
         [](const auto& h) { return number(h.lag); });
  family(out, hosts, "fleetban_host_last_event_timestamp_seconds", "When the key last sent a ban or unban (unix time).",
         [](const auto& h) { return number(h.last_event_at); });
  family(out, hosts, "fleetban_host_subscriber_last_seen_timestamp_seconds",
         "When the host's subscriber last reported in (unix time).",
         [](const auto& h) { return number(h.subscriber_seen_at); });
  family(out, hosts, "fleetban_host_spool_bytes", "Bytes waiting in the host's spool, as it last reported.",
         [](const auto& h) { return number(h.spool_bytes); });
  family(out, hosts, "fleetban_host_spool_limit_bytes", "The host's spool_max_bytes (0: no limit).",
         [](const auto& h) { return number(h.spool_max_bytes); });
  family(out, hosts, "fleetban_host_backend_up", "1 while the host's enforcing backend works, 0 when it fails.",
         [](const auto& h) -> std::optional<std::int64_t> {
           if (!h.backend_error) return std::nullopt;
           return h.backend_error->empty() ? 1 : 0;
         });
  family(out, hosts, "fleetban_host_events_24h", "Bans and unbans the key sent in the last 24 hours.",
         [](const auto& h) { return std::optional<std::int64_t>(static_cast<std::int64_t>(h.events_24h)); });
  return out;
}

}  // namespace fleetban::aggregator
