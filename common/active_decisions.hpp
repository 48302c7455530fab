#pragma once
// The one view of the fleet's decisions that people read: the active ones in prefix order, as the
// dashboard, `fleetban list` and the bans document show them.

#include <vector>

#include "common/decision.hpp"

namespace fleetban::common {

// The active decisions among `decisions`, in IpPrefix's order (IPv4 before IPv6, then shorter
// prefixes before longer ones, then by address). Pointers into `decisions`, which must outlive
// them; no decision is copied.
std::vector<const Decision*> active_by_prefix(const std::vector<Decision>& decisions);

}  // namespace fleetban::common
