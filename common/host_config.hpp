#pragma once
// host.toml: read by fleetban-publish, fleetban-subscriber and fleetban (INTERFACE.md).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "common/ip_prefix.hpp"
#include "common/security.hpp"

namespace fleetban::common {

enum class BackendKind { fail2ban, nftables, exec, log };

enum class NftFamily { inet, ip, ip6 };

// The table named by `enforce.nft_table`: "FAMILY NAME".
struct NftTable {
  NftFamily family = NftFamily::inet;
  std::string name = "fleetban";

  // "inet fleetban", "ip fleetban", "ip6 fleetban"; the name is a letter, then letters, digits,
  // '_' or '-' (at most 64). nullopt otherwise.
  static std::optional<NftTable> parse(std::string_view text);

  std::string_view family_name() const;  // "inet", "ip" or "ip6"
  std::string to_string() const;         // "inet fleetban"
  // Whether the table filters that address family (an `inet` table filters both).
  bool holds(Family family) const;

  friend bool operator==(const NftTable&, const NftTable&) = default;
};

// [enforce]. Every value is checked by load_host_config, whichever backend is chosen, so a typo
// in a key the host does not use yet fails now rather than the day the backend changes.
struct EnforceConfig {
  BackendKind backend = BackendKind::log;
  std::string jail;
  std::string fail2ban_client;
  std::string ban_command;
  std::string unban_command;
  NftTable nft_table;
  std::vector<IpPrefix> allowlist;
};

struct HostConfig {
  std::string host_id;
  // The ingest and broadcast endpoints of each aggregator (or relay), the same count and order:
  // [i] of both is one member of an HA group, or one relay. One each in the plain setup.
  std::vector<std::string> aggregators;
  std::vector<std::string> broadcasts;
  std::filesystem::path spool_dir;
  std::chrono::milliseconds timeout{500};
  std::uint64_t spool_max_bytes = 0;
  ClientSecurity security;
  EnforceConfig enforce;
};

std::span<const ConfigKey> host_config_keys();

// Where host programs look when --config is not given.
inline const std::filesystem::path kDefaultHostConfig = "/etc/fleetban/host.toml";

// Reads host.toml and the flags, and checks every value: the one place a host program's config is
// checked. Throws UsageError naming the file (or flag), the key and the value at fault.
HostConfig load_host_config(const std::optional<std::filesystem::path>& file, const FlagOverrides& flags);

}  // namespace fleetban::common
