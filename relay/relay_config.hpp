#pragma once
// relay.toml (docs/REFERENCE.md, "fleetban-relay"): whom the relay follows upstream, where it
// serves its own hosts, and its keys.

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/security.hpp"

namespace fleetban::relay {

struct RelayConfig {
  // The upstream's ingest and broadcast endpoints: an aggregator, an HA group's members or other
  // relays, as many in each list and in the same order (a Clone client's pairs).
  std::vector<std::string> upstream;
  std::vector<std::string> upstream_broadcast;
  std::string ingest;     // bound: this relay's hosts' events and snapshot requests
  std::string broadcast;  // bound: decisions and heartbeats, republished
  std::string http;       // "" : none; else /healthz and /metrics
  // Both ways one key pair: `server_key` is what hosts check (ServerSecurity) and what the relay
  // proves upstream (ClientSecurity::client_key, with `upstream_key` as the server's public key).
  common::ServerSecurity serving;
  common::ClientSecurity upstream_security;
};

std::span<const common::ConfigKey> relay_config_keys();

inline const std::filesystem::path kDefaultRelayConfig = "/etc/fleetban/relay.toml";

// Reads relay.toml and the flags and checks every value. Throws UsageError naming the file (or
// flag), the key and the value at fault.
RelayConfig load_relay_config(const std::optional<std::filesystem::path>& file, const common::FlagOverrides& flags);

}  // namespace fleetban::relay
