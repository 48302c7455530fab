#pragma once
// One host's report, as the aggregator sees it after decoding and validation.

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/ip_prefix.hpp"
#include "common/time.hpp"

namespace fleetban::common {

enum class EventKind { ban, unban };

using EventId = std::array<std::uint8_t, 16>;

// Fail2Ban's bantime: seconds, with two special values.
inline constexpr std::chrono::seconds kPermanentBan{-1};
inline constexpr std::chrono::seconds kBantimeNotGiven{0};
// The longest bantime accepted on the wire (anything longer is surely a mistake): ten years.
inline constexpr std::chrono::seconds kMaxBantime{10LL * 365 * 24 * 3600};

struct Event {
  EventId id{};
  EventKind kind = EventKind::ban;
  IpPrefix prefix;
  std::string jail;
  std::string host_id;
  std::chrono::seconds bantime = kBantimeNotGiven;
  std::uint32_t failures = 0;
  std::uint32_t bancount = 0;
  TimePoint time;     // when the ban started (Fail2Ban's <time>)
  TimePoint created;  // when fleetban-publish ran: for an unban, when it happened
  std::string reason;
  bool operator_action = false;  // `fleetban ban`/`unban`, allowed from operator keys only
};

EventId random_event_id();
std::string to_hex(const EventId& id);

// Jail, host and operator names: 1 to 64 of [A-Za-z0-9._@:-], starting with a letter or digit.
bool is_valid_name(std::string_view name);

}  // namespace fleetban::common
