#pragma once
// The bans document of INTERFACE.md, served as GET /api/v1/bans and printed by `fleetban list --json`:
// {"bans": [{"ip": "192.0.2.7", "expires_at": 1795650000, "reporters": ["web-01"], "jails": ["sshd"],
//   "reporter_count": 1, "jail_count": 1, "ban_count": 1}]}
// With GeoIP on (Decision::geo set), each entry also has "country": "NL", "asn": 64496 and
// "as_org": "Example Net", each null when unknown.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/decision.hpp"

namespace fleetban::common {

// Active decisions only, ordered by address.
std::string bans_json(const std::vector<Decision>& decisions);

// One page of it, GET /api/v1/bans?limit=N&after=IP: the active decisions in the order given,
// and "next": the address to ask after for the next page, or null at the end.
std::string bans_page_json(const std::vector<Decision>& page, const std::optional<IpPrefix>& next);

// Pieces of these documents for the others that share their shapes (history_json): a JSON string,
// and one entry of "bans" (an active decision).
void append_json_string(std::string& out, std::string_view text);
void append_ban_json(std::string& out, const Decision& decision);

}  // namespace fleetban::common
