#pragma once
// A fleet decision: what the aggregator decided about one address or prefix, as broadcast.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_prefix.hpp"
#include "common/time.hpp"

namespace fleetban::common {

// A decision names at most this many reporters and jails (the first ones), so that no host, and
// no botnet reported by a thousand hosts, can make one too big for the others to take in.
inline constexpr std::size_t kMaxDecisionNames = 64;

// Where an address is, from the aggregator's GeoIP databases (geoip_country_db, geoip_asn_db):
// the ISO 3166 country code and the autonomous system (number and organisation); "" or 0 unknown.
struct Geo {
  std::string country;
  std::uint32_t asn = 0;
  std::string as_org;
};

struct Decision {
  std::uint64_t sequence = 0;  // the broadcast sequence number of the change that made it so
  IpPrefix prefix;
  bool active = false;  // false: the fleet no longer bans it
  UnixSeconds banned_at{};
  std::optional<UnixSeconds> expires_at;  // nullopt: permanent
  std::vector<std::string> reporters;     // the first kMaxDecisionNames
  std::vector<std::string> jails;         // the first kMaxDecisionNames
  // Totals, never below the lists' sizes. Past the first 64 the names are not kept, so each
  // report from a name not among them counts as a new one: an upper bound, exact while every
  // name beyond the 64 reports once (see add_decision_name).
  std::uint32_t reporter_count = 0;
  std::uint32_t jail_count = 0;
  std::uint32_t ban_count = 0;  // how many times the fleet has banned it (what escalation multiplies)
  std::string reason;
  // Set only where GeoIP is on and the reader shows it (the HTTP API, `fleetban list`), never in
  // what subscribers hold: a pointer, so that a decision without it stays small.
  std::shared_ptr<const Geo> geo;

  bool permanent() const { return !expires_at.has_value(); }
};

// Credits `name` to a decision's list and its total: a name already listed changes nothing; one
// not listed is added while the list is short, and otherwise only counted. True if anything changed.
inline bool add_decision_name(std::vector<std::string>& names, std::uint32_t& count, const std::string& name) {
  if (std::find(names.begin(), names.end(), name) != names.end()) return false;
  count = std::max(count, static_cast<std::uint32_t>(names.size()));  // a total never below its list
  if (names.size() < kMaxDecisionNames) names.push_back(name);
  if (count < UINT32_MAX) ++count;
  return true;
}

}  // namespace fleetban::common
