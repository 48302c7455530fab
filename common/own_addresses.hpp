#pragma once
// The addresses the fleet must never ban, because banning them cuts its own links: loopback, and
// the addresses a ZeroMQ endpoint (the aggregator's, as bound or as reached) stands for.

#include <string_view>
#include <vector>

#include "common/ip_prefix.hpp"

namespace fleetban::common {

// 127.0.0.0/8 and ::1.
const std::vector<IpPrefix>& loopback_prefixes();

// Every address of this machine's interfaces (getifaddrs), loopback included.
std::vector<IpPrefix> interface_addresses();

// The addresses of a "tcp://HOST:PORT" endpoint (a connect endpoint's "SOURCE;" part aside):
// HOST itself when it is an address; every interface address when it is a wildcard ("*",
// 0.0.0.0, ::), as a socket bound there is reached at any of them; the addresses of an interface
// of that name; else what HOST resolves to. None for other transports or a name that does not
// resolve (the caller says so).
std::vector<IpPrefix> endpoint_addresses(std::string_view endpoint);

}  // namespace fleetban::common
