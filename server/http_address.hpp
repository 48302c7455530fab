#pragma once
// Where a serving program's HTTP server listens (`http`, the aggregator's and the relay's) and the
// Host check that keeps DNS rebinding out of it.

#include <optional>
#include <string>
#include <string_view>

namespace fleetban::server {

struct ListenAddress {
  std::string host;
  int port = 0;
};

// "HOST:PORT" (an IPv4 address or a host name) or "[IPV6]:PORT", with a port from 1 to 65535.
std::optional<ListenAddress> parse_listen_address(std::string_view text);

// Whether a Host header names this machine without a DNS name a web page could rebind: an IPv4
// literal, a bracketed IPv6 literal, or `localhost`, each with or without ":PORT".
bool host_is_literal_or_localhost(std::string_view host);

}  // namespace fleetban::server
