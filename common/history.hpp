#pragma once
// An address's history: the reports, refusals and fleet decision changes the aggregator kept about
// it (in its state database, bounded by forget_after and a row cap), as served by
// GET /api/v1/bans/IP and `fleetban show IP`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/decision.hpp"
#include "common/ip_prefix.hpp"
#include "common/time.hpp"

namespace fleetban::common {

// INTERFACE.md's four kinds. A host's ban report and a fleet ban are both `ban`; HistoryEntry::fleet
// tells them apart.
enum class HistoryKind : std::uint8_t { ban = 0, unban = 1, expired = 2, refused = 3 };

std::string_view history_kind_name(HistoryKind kind);
std::optional<HistoryKind> history_kind_from(std::uint32_t value);

struct HistoryEntry {
  UnixSeconds at{};  // when the aggregator recorded it
  HistoryKind kind = HistoryKind::ban;
  // True when the fleet's decision changed (a ban made, extended or lifted, an expiry); false for
  // a host's report that changed no decision, and for a refusal.
  bool fleet = false;
  std::string host;    // the reporter's or operator's key name; "" when the fleet acted alone (expiry)
  std::string jail;    // "" when none
  std::string reason;  // for a fleet ban: why it lasts what it lasts; for a refusal: why

  friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};

// What one address's history request answers: its decision, its ban count and its history rows.
struct AddressHistory {
  IpPrefix prefix;
  std::optional<Decision> decision;   // active only
  std::uint32_t ban_count = 0;        // the fleet's bans of it while remembered (forget_after)
  std::vector<HistoryEntry> entries;  // newest first, at most kMaxHistoryRows
  std::uint64_t total = 0;            // rows held for it (entries may hold fewer)
};

// Rows one answer holds at most (the newest), so a reply stays a few hundred KB.
inline constexpr std::size_t kMaxHistoryRows = 500;
// A history row's reason, like an event's, is bounded.
inline constexpr std::size_t kMaxHistoryReasonBytes = 512;

}  // namespace fleetban::common
