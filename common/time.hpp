#pragma once
// Time types: events carry milliseconds, decisions whole seconds (what firewalls and the API use).

#include <chrono>
#include <cstdint>

namespace fleetban::common {

using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;
using UnixSeconds = std::chrono::sys_seconds;

inline TimePoint now_ms() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}
inline UnixSeconds now_seconds() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

inline std::int64_t to_unix_ms(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint from_unix_ms(std::int64_t ms) { return TimePoint{std::chrono::milliseconds{ms}}; }
inline std::int64_t to_unix(UnixSeconds t) { return t.time_since_epoch().count(); }
inline UnixSeconds from_unix(std::int64_t s) { return UnixSeconds{std::chrono::seconds{s}}; }

}  // namespace fleetban::common
