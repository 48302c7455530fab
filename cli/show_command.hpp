#pragma once
// fleetban show IP [--json]: one address's decision and history, asked of the aggregator over
// ZeroMQ (a HistoryRequest); --json prints GET /api/v1/bans/IP's document (common/history_json).

#include <iosfwd>

#include "cli/commands.hpp"
#include "common/history.hpp"
#include "common/host_config.hpp"

namespace fleetban::cli {

int show(const common::HostConfig& config, const common::IpPrefix& prefix, ListFormat format, std::ostream& out);

// The readable timeline `fleetban show` prints without --json (public for tests).
void print_history(const common::AddressHistory& history, std::ostream& out);

}  // namespace fleetban::cli
