#pragma once
// The per-host series of /metrics, from a copy of the host table (HostsView): each labelled
// {host="NAME",kind="host"|"operator"|"relay"}, and present only where the value is known (a key
// never seen has none), as deploy/prometheus/fleetban.rules.yml expects.

#include <string>

#include "common/hosts.hpp"

namespace fleetban::aggregator {

std::string render_host_metrics(const common::Hosts& hosts);

}  // namespace fleetban::aggregator
