#include "common/host_config.hpp"

#include <unistd.h>

#include <array>

#include "common/errors.hpp"

namespace fleetban::common {

namespace {

// The one table of host.toml keys; docs/REFERENCE.md documents the same keys (tests/unit/test_config.cpp
// checks that they agree).
constexpr std::array kHostKeys{
    ConfigKey{"host_id", ValueType::string, "", "this host's name in the fleet (default: the hostname)"},
    ConfigKey{"aggregator", ValueType::string, "", "the aggregator's ingest endpoint, e.g. tcp://198.51.100.5:7780"},
    ConfigKey{"broadcast", ValueType::string, "", "the aggregator's broadcast endpoint, e.g. tcp://198.51.100.5:7781"},
    ConfigKey{"spool_dir", ValueType::string, "/var/spool/fleetban",
              "where events wait until the aggregator acks them"},
    ConfigKey{"timeout_ms", ValueType::integer, "500", "the longest one publish waits for its ack"},
    ConfigKey{"server_key", ValueType::string, "/etc/fleetban/keys/aggregator.pub", "the aggregator's public key"},
    ConfigKey{"client_key", ValueType::string, "", "this host's secret key (default: /etc/fleetban/keys/HOST_ID.key)"},
    ConfigKey{"insecure", ValueType::boolean, "false", "no CURVE at all (lab and tests); both ends must agree"},
    ConfigKey{"spool_max_bytes", ValueType::integer, "67108864", "the spool's size limit"},
    ConfigKey{"enforce.backend", ValueType::string, "log", "fail2ban | nftables | exec | log"},
    ConfigKey{"enforce.jail", ValueType::string, "fleetban", "fail2ban: the local jail that receives fleet bans"},
    ConfigKey{"enforce.fail2ban_client", ValueType::string, "fail2ban-client", "fail2ban: command prefix"},
    ConfigKey{"enforce.ban_command", ValueType::string, "",
              "exec: run per banned address; tags <ip> <bantime> <jails> <reporters> <expires>"},
    ConfigKey{"enforce.unban_command", ValueType::string, "", "exec: run per unbanned address"},
    ConfigKey{"enforce.nft_table", ValueType::string, "inet fleetban", "nftables: the table that holds the sets"},
    ConfigKey{"enforce.allowlist", ValueType::string_list, "", "prefixes never enforced on this host"},
};

std::string hostname() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "localhost";
  return name.data();
}

}  // namespace

std::span<const ConfigKey> host_config_keys() { return kHostKeys; }

HostConfig load_host_config(const std::optional<std::filesystem::path>& file, const FlagOverrides& flags) {
  std::optional<std::filesystem::path> path = file;
  if (!path && std::filesystem::exists(kDefaultHostConfig)) path = kDefaultHostConfig;
  ConfigValues v = load_config(kHostKeys, path, flags);

  HostConfig c;
  c.host_id = v.string("host_id").empty() ? hostname() : v.string("host_id");
  c.aggregator = v.string("aggregator");
  c.broadcast = v.string("broadcast");
  c.spool_dir = v.string("spool_dir");
  if (v.integer("timeout_ms") <= 0 || v.integer("timeout_ms") > 600'000) {
    throw UsageError(v.origin("timeout_ms") + ": must be between 1 and 600000 milliseconds");
  }
  c.timeout = std::chrono::milliseconds(v.integer("timeout_ms"));
  if (v.integer("spool_max_bytes") < 0) throw UsageError(v.origin("spool_max_bytes") + ": must not be negative");
  c.spool_max_bytes = static_cast<std::uint64_t>(v.integer("spool_max_bytes"));
  c.security.insecure = v.boolean("insecure");
  c.security.server_key = v.string("server_key");
  c.security.client_key =
      v.string("client_key").empty() ? "/etc/fleetban/keys/" + c.host_id + ".key" : v.string("client_key");

  const std::string& backend = v.string("enforce.backend");
  if (backend == "fail2ban")
    c.enforce.backend = BackendKind::fail2ban;
  else if (backend == "nftables")
    c.enforce.backend = BackendKind::nftables;
  else if (backend == "exec")
    c.enforce.backend = BackendKind::exec;
  else if (backend == "log")
    c.enforce.backend = BackendKind::log;
  else
    throw UsageError(v.origin("enforce.backend") + ": '" + backend + "' is not one of fail2ban, nftables, exec, log");
  c.enforce.jail = v.string("enforce.jail");
  c.enforce.fail2ban_client = v.string("enforce.fail2ban_client");
  c.enforce.ban_command = v.string("enforce.ban_command");
  c.enforce.unban_command = v.string("enforce.unban_command");
  c.enforce.nft_table = v.string("enforce.nft_table");
  c.enforce.allowlist = prefix_list(v, "enforce.allowlist");
  return c;
}

}  // namespace fleetban::common
