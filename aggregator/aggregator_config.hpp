#pragma once
// aggregator.toml (INTERFACE.md): where the aggregator listens, where it keeps state, and its policy.

#include <chrono>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "common/ip_prefix.hpp"
#include "common/security.hpp"
#include "server/http_address.hpp"

namespace fleetban::aggregator {

// What an early (manual) unban on one host does to the fleet decision.
enum class HostUnban { fleet, retract };

struct Policy {
  unsigned min_reporters = 1;
  std::chrono::seconds report_window{3600};
  std::chrono::seconds default_bantime{3600};
  std::chrono::seconds max_bantime{604800};
  double escalation = 2.0;
  HostUnban host_unban = HostUnban::fleet;
  std::vector<common::IpPrefix> allowlist;
  unsigned promote_after = 0;
  unsigned min_prefix_v4 = 16;
  unsigned min_prefix_v6 = 32;
  unsigned max_events_per_second = 100;
  // An ended record (and an applied event id) is kept this long, then deleted.
  std::chrono::seconds forget_after{2592000};
};

struct AggregatorConfig {
  std::string ingest;
  std::string broadcast;
  std::string http;
  std::filesystem::path http_auth_file;  // empty: no passwords, Host must be an IP literal or localhost
  std::filesystem::path state;
  std::filesystem::path geoip_country_db;  // empty: no countries (aggregator/geoip.hpp)
  std::filesystem::path geoip_asn_db;      // empty: no networks
  common::ServerSecurity security;
  Policy policy;
};

// Where the HTTP server listens (`http`): server/http_address.hpp.
using server::ListenAddress;
using server::parse_listen_address;

std::span<const common::ConfigKey> aggregator_config_keys();

inline const std::filesystem::path kDefaultAggregatorConfig = "/etc/fleetban/aggregator.toml";

// Reads aggregator.toml and the flags, and checks every value (also on SIGHUP). Throws UsageError
// naming the file (or flag), the key and the value at fault.
AggregatorConfig load_aggregator_config(const std::optional<std::filesystem::path>& file,
                                        const common::FlagOverrides& flags);

}  // namespace fleetban::aggregator
