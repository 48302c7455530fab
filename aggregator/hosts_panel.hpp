#pragma once
// The dashboard's hosts panel: every admitted key (also those never seen), whether its subscriber
// reports in, how far behind the fleet it is, when it last reported a ban; the stale and the
// behind in red, first. Rendered from the same common::Hosts that GET /api/v1/hosts serves.

#include <optional>
#include <string>

#include "common/hosts.hpp"

namespace fleetban::aggregator {

// The panel's HTML (a <section id="hosts">); a note instead when the loop did not answer.
std::string render_hosts_panel(const std::optional<common::Hosts>& hosts);

}  // namespace fleetban::aggregator
