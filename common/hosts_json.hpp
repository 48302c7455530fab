#pragma once
// The hosts document of INTERFACE.md, served as GET /api/v1/hosts and printed by
// `fleetban hosts --json`: {"hosts": [{"name": "web-01", "kind": "host", "last_event_at": 1795650000,
//   "events_24h": 3, "subscriber_seen_at": 1795650100, "subscriber_sequence": 42, "lag": 0,
//   "backend_error": "", "spool_bytes": 0, "spool_max_bytes": 67108864, "version": "0.1.0",
//   "stale": false, "behind": false}]}
// Times are unix seconds; what was never known is null (a key never seen: every subscriber field).

#include <string>

#include "common/hosts.hpp"

namespace fleetban::common {

std::string hosts_json(const Hosts& hosts);

}  // namespace fleetban::common
