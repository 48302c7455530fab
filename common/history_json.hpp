#pragma once
// The history document of INTERFACE.md, served as GET /api/v1/bans/IP and printed by
// `fleetban show IP --json` (built here only):
// {"ip": "192.0.2.7", "decision": {<an entry of GET /api/v1/bans>} or null, "ban_count": 2,
//  "history": [{"at": 1795650000, "kind": "ban", "host": "web-01", "jail": "sshd",
//               "reason": "3600 s: the bantime web-01 (sshd) reported", "fleet": true}, ...],
//  "history_total": 12}
// "history" is newest first and holds at most common::kMaxHistoryRows rows; "history_total" counts
// every row kept. "kind" is ban, unban, expired or refused; "fleet" is true where the fleet's
// decision changed (false: a host's report that changed nothing, or a refusal). "host" and "jail"
// are null where none (an expiry), "reason" where empty.

#include <string>

#include "common/history.hpp"

namespace fleetban::common {

std::string history_json(const AddressHistory& history);

}  // namespace fleetban::common
