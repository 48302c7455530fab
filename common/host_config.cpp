#include "common/host_config.hpp"

#include <unistd.h>

#include <array>

#include "common/command_words.hpp"
#include "common/errors.hpp"
#include "common/event.hpp"

namespace fleetban::common {

namespace {

// The one table of host.toml keys; docs/REFERENCE.md documents the same keys (tests/unit/test_config.cpp
// checks that they agree).
constexpr std::array kHostKeys{
    ConfigKey{"host_id", ValueType::string, "", "this host's name in the fleet (default: the hostname)"},
    ConfigKey{"aggregator", ValueType::string_or_list, "",
              "the aggregator's ingest endpoint, e.g. tcp://198.51.100.5:7780; or a list (flag: commas)"},
    ConfigKey{"broadcast", ValueType::string_or_list, "",
              "the aggregator's broadcast endpoint, e.g. tcp://198.51.100.5:7781; or a list, in the same order"},
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

constexpr std::string_view kNameRule = "1-64 of A-Z a-z 0-9 . _ @ : -, starting with a letter or digit";

// A command key's value, checked as the backends will split it; `required`: it must not be empty.
std::string command(const ConfigValues& v, std::string_view key, bool required, std::string_view why) {
  const std::string& text = v.string(key);
  auto parsed = split_command(text);
  if (!parsed) throw UsageError(v.origin(key) + ": '" + text + "': " + parsed.error());
  if (required && parsed->empty()) throw UsageError(v.origin(key) + ": '" + text + "': " + std::string(why));
  return text;
}

}  // namespace

std::optional<NftTable> NftTable::parse(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == '\t') {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    words.push_back(text.substr(start, i - start));
  }
  if (words.size() != 2) return std::nullopt;
  NftTable table;
  if (words[0] == "inet")
    table.family = NftFamily::inet;
  else if (words[0] == "ip")
    table.family = NftFamily::ip;
  else if (words[0] == "ip6")
    table.family = NftFamily::ip6;
  else
    return std::nullopt;
  std::string_view name = words[1];
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (name.empty() || name.size() > 64 || !letter(name.front())) return std::nullopt;
  for (char c : name) {
    if (!letter(c) && !digit(c) && c != '_' && c != '-') return std::nullopt;
  }
  table.name = std::string(name);
  return table;
}

std::string_view NftTable::family_name() const {
  switch (family) {
    case NftFamily::inet: return "inet";
    case NftFamily::ip: return "ip";
    case NftFamily::ip6: return "ip6";
  }
  return "inet";
}

std::string NftTable::to_string() const { return std::string(family_name()) + " " + name; }

bool NftTable::holds(Family f) const {
  switch (family) {
    case NftFamily::inet: return true;
    case NftFamily::ip: return f == Family::v4;
    case NftFamily::ip6: return f == Family::v6;
  }
  return false;
}

std::span<const ConfigKey> host_config_keys() { return kHostKeys; }

HostConfig load_host_config(const std::optional<std::filesystem::path>& file, const FlagOverrides& flags) {
  std::optional<std::filesystem::path> path = file;
  if (!path && std::filesystem::exists(kDefaultHostConfig)) path = kDefaultHostConfig;
  ConfigValues v = load_config(kHostKeys, path, flags);

  HostConfig c;
  c.host_id = v.string("host_id").empty() ? hostname() : v.string("host_id");
  if (!is_valid_name(c.host_id)) {
    throw UsageError(v.origin("host_id") + ": '" + c.host_id + "'" +
                     (v.string("host_id").empty() ? " (this machine's hostname)" : "") + " is not a valid name (" +
                     std::string(kNameRule) + ")");
  }
  c.aggregators = endpoint_list(v, "aggregator", EndpointUse::connect);
  c.broadcasts = endpoint_list(v, "broadcast", EndpointUse::connect);
  if (c.broadcasts.size() != c.aggregators.size()) {
    throw UsageError(v.origin("broadcast") + ": " + std::to_string(c.broadcasts.size()) + " endpoint(s), but " +
                     v.origin("aggregator") + " has " + std::to_string(c.aggregators.size()) +
                     ": the two lists name the same aggregators (or relays) in the same order");
  }
  c.spool_dir = v.string("spool_dir");
  if (c.spool_dir.empty()) throw UsageError(v.origin("spool_dir") + ": '': must name a directory");
  const std::int64_t timeout = v.integer("timeout_ms");
  if (timeout <= 0 || timeout > 600'000) {
    throw UsageError(v.origin("timeout_ms") + ": " + std::to_string(timeout) +
                     " is not between 1 and 600000 milliseconds");
  }
  c.timeout = std::chrono::milliseconds(timeout);
  const std::int64_t spool_max = v.integer("spool_max_bytes");
  if (spool_max < 0) throw UsageError(v.origin("spool_max_bytes") + ": " + std::to_string(spool_max) + " is negative");
  c.spool_max_bytes = static_cast<std::uint64_t>(spool_max);
  c.security.insecure = v.boolean("insecure");
  c.security.server_key = v.string("server_key");
  if (!c.security.insecure && c.security.server_key.empty()) {
    throw UsageError(v.origin("server_key") + ": '': must name the aggregator's public key file (or insecure = true)");
  }
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
  if (!is_valid_name(c.enforce.jail)) {
    throw UsageError(v.origin("enforce.jail") + ": '" + c.enforce.jail + "' is not a jail name (" +
                     std::string(kNameRule) + ")");
  }
  c.enforce.fail2ban_client = command(v, "enforce.fail2ban_client", c.enforce.backend == BackendKind::fail2ban,
                                      "the fail2ban backend needs a command");
  c.enforce.ban_command =
      command(v, "enforce.ban_command", c.enforce.backend == BackendKind::exec, "the exec backend needs a command");
  c.enforce.unban_command = command(v, "enforce.unban_command", false, "");
  auto table = NftTable::parse(v.string("enforce.nft_table"));
  if (!table) {
    throw UsageError(v.origin("enforce.nft_table") + ": '" + v.string("enforce.nft_table") +
                     "' is not \"FAMILY NAME\" with FAMILY inet, ip or ip6 and NAME a letter, then letters, digits, "
                     "'_' or '-' (at most 64)");
  }
  c.enforce.nft_table = *table;
  c.enforce.allowlist = prefix_list(v, "enforce.allowlist");
  return c;
}

}  // namespace fleetban::common
