#pragma once
// fleetban hosts [--json]: every key the aggregator admits, and how its host is.

#include <iosfwd>

#include "cli/commands.hpp"
#include "common/hosts.hpp"

namespace fleetban::cli {

// Asks the aggregator over ZeroMQ (HostsRequest on the ingest endpoint); --json prints the same
// document as GET /api/v1/hosts, the table flags hosts that are STALE or BEHIND.
int hosts(const common::HostConfig& config, ListFormat format, std::ostream& out);

// The table for people (public for tests): one line per key, then a summary line.
void print_hosts_table(const common::Hosts& hosts, std::ostream& out);

}  // namespace fleetban::cli
