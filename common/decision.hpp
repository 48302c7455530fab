#pragma once
// A fleet decision: what the aggregator decided about one address or prefix, as broadcast.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_prefix.hpp"
#include "common/time.hpp"

namespace fleetban::common {

struct Decision {
  std::uint64_t sequence = 0;  // the broadcast sequence number of the change that made it so
  IpPrefix prefix;
  bool active = false;  // false: the fleet no longer bans it
  UnixSeconds banned_at{};
  std::optional<UnixSeconds> expires_at;  // nullopt: permanent
  std::vector<std::string> reporters;
  std::vector<std::string> jails;
  std::uint32_t ban_count = 0;  // how many times the fleet has banned it (what escalation multiplies)
  std::string reason;

  bool permanent() const { return !expires_at.has_value(); }
};

}  // namespace fleetban::common
