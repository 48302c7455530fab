#include "common/hosts_json.hpp"

#include <nlohmann/json.hpp>

namespace fleetban::common {

namespace {

template <typename T, typename F>
nlohmann::ordered_json or_null(const std::optional<T>& value, F convert) {
  return value ? nlohmann::ordered_json(convert(*value)) : nlohmann::ordered_json(nullptr);
}

template <typename T>
nlohmann::ordered_json or_null(const std::optional<T>& value) {
  return or_null(value, [](const T& v) { return v; });
}

std::int64_t unix_seconds(UnixSeconds t) { return to_unix(t); }

}  // namespace

std::string hosts_json(const Hosts& hosts) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& h : hosts.hosts) {
    list.push_back(nlohmann::ordered_json{
        {"name", h.name},
        {"kind", to_string(h.kind)},
        {"last_event_at", or_null(h.last_event_at, unix_seconds)},
        {"events_24h", h.events_24h},
        {"subscriber_seen_at", or_null(h.subscriber_seen_at, unix_seconds)},
        {"subscriber_sequence", or_null(h.subscriber_sequence)},
        {"lag", or_null(h.lag)},
        {"backend_error", or_null(h.backend_error)},
        {"spool_bytes", or_null(h.spool_bytes)},
        {"spool_max_bytes", or_null(h.spool_max_bytes)},
        {"version", or_null(h.version)},
        {"stale", h.stale},
        {"behind", h.behind},
    });
  }
  // The decoder keeps text ASCII; replacing anything else keeps this writer from ever throwing.
  return nlohmann::ordered_json{{"hosts", std::move(list)}}.dump(-1, ' ', false,
                                                                 nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace fleetban::common
