#include "relay/relay_config.hpp"

#include <array>

#include "common/errors.hpp"
#include "server/http_address.hpp"

namespace fleetban::relay {

using common::ConfigKey;
using common::EndpointUse;
using common::UsageError;
using common::ValueType;

namespace {

// The one table of relay.toml keys; docs/REFERENCE.md documents the same keys (test_relay_config).
constexpr std::array kRelayKeys{
    ConfigKey{"upstream", ValueType::string_or_list, "",
              "the aggregator's (or a relay's) ingest endpoint; or a list: an HA group's members (flag: commas)"},
    ConfigKey{"upstream_broadcast", ValueType::string_or_list, "",
              "the upstream's broadcast endpoint; or a list, in the same order as upstream"},
    ConfigKey{"upstream_key", ValueType::string, "/etc/fleetban/keys/aggregator.pub",
              "the upstream's public key (an aggregator's, or the relay's it follows)"},
    ConfigKey{"ingest", ValueType::string, "tcp://0.0.0.0:7780", "this relay's hosts' events and snapshot requests"},
    ConfigKey{"broadcast", ValueType::string, "tcp://0.0.0.0:7781", "decisions and heartbeats, republished"},
    ConfigKey{"server_key", ValueType::string, "", "the relay's own secret key, both ways"},
    ConfigKey{"authorized_dir", ValueType::string, "/etc/fleetban/authorized",
              "the hosts and operators it admits (NAME.pub, operators/NAME.pub, relays/NAME.pub)"},
    ConfigKey{"http", ValueType::string, "", "optional: /healthz and /metrics on HOST:PORT"},
    ConfigKey{"insecure", ValueType::boolean, "false", "no CURVE at all (lab and tests); both ends must agree"},
};

std::string required(const common::ConfigValues& v, std::string_view key, std::string_view what) {
  const std::string& value = v.string(key);
  if (value.empty()) throw UsageError(v.origin(key) + ": '': must name " + std::string(what) + " (or insecure = true)");
  return value;
}

}  // namespace

std::span<const ConfigKey> relay_config_keys() { return kRelayKeys; }

RelayConfig load_relay_config(const std::optional<std::filesystem::path>& file, const common::FlagOverrides& flags) {
  std::optional<std::filesystem::path> path = file;
  if (!path && std::filesystem::exists(kDefaultRelayConfig)) path = kDefaultRelayConfig;
  common::ConfigValues v = common::load_config(kRelayKeys, path, flags);

  RelayConfig c;
  c.upstream = common::endpoint_list(v, "upstream", EndpointUse::connect);
  c.upstream_broadcast = common::endpoint_list(v, "upstream_broadcast", EndpointUse::connect);
  if (c.upstream_broadcast.size() != c.upstream.size()) {
    throw UsageError(v.origin("upstream_broadcast") + ": " + std::to_string(c.upstream_broadcast.size()) +
                     " endpoint(s), but " + v.origin("upstream") + " has " + std::to_string(c.upstream.size()) +
                     ": the two lists name the same aggregators (or relays) in the same order");
  }
  c.ingest = common::endpoint(v, "ingest", EndpointUse::bind);
  c.broadcast = common::endpoint(v, "broadcast", EndpointUse::bind);
  if (c.ingest == c.broadcast) {
    throw UsageError(v.origin("broadcast") + ": '" + c.broadcast + "' is the ingest endpoint too; each needs its own");
  }
  c.http = v.string("http");
  if (!c.http.empty() && !server::parse_listen_address(c.http)) {
    throw UsageError(v.origin("http") + ": '" + c.http +
                     "' is not HOST:PORT or [IPV6]:PORT with a port from 1 to 65535, or \"\" for none");
  }
  const bool insecure = v.boolean("insecure");
  c.serving.insecure = insecure;
  c.upstream_security.insecure = insecure;
  if (!insecure) {
    c.serving.server_key = required(v, "server_key", "the relay's secret key file");
    c.serving.authorized_dir = required(v, "authorized_dir", "the directory of the keys it admits");
    c.upstream_security.server_key = required(v, "upstream_key", "the upstream's public key file");
    c.upstream_security.client_key = c.serving.server_key;
  }
  return c;
}

}  // namespace fleetban::relay
