#pragma once
// host.toml: read by fleetban-publish, fleetban-subscriber and fleetban (INTERFACE.md).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/ip_prefix.hpp"
#include "common/security.hpp"

namespace fleetban::common {

enum class BackendKind { fail2ban, nftables, exec, log };

struct EnforceConfig {
  BackendKind backend = BackendKind::log;
  std::string jail;
  std::string fail2ban_client;
  std::string ban_command;
  std::string unban_command;
  std::string nft_table;
  std::vector<IpPrefix> allowlist;
};

struct HostConfig {
  std::string host_id;
  std::string aggregator;  // ingest endpoint
  std::string broadcast;
  std::filesystem::path spool_dir;
  std::chrono::milliseconds timeout{500};
  std::uint64_t spool_max_bytes = 0;
  ClientSecurity security;
  EnforceConfig enforce;
};

std::span<const ConfigKey> host_config_keys();

// Where host programs look when --config is not given.
inline const std::filesystem::path kDefaultHostConfig = "/etc/fleetban/host.toml";

// Reads and validates host.toml and the flags. Throws UsageError naming the key at fault.
HostConfig load_host_config(const std::optional<std::filesystem::path>& file, const FlagOverrides& flags);

}  // namespace fleetban::common
