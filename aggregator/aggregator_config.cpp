#include "aggregator/aggregator_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "aggregator/pg_connection.hpp"
#include "common/errors.hpp"

namespace fleetban::aggregator {

using common::ConfigKey;
using common::UsageError;
using common::ValueType;

namespace {

// The one table of aggregator.toml keys; docs/REFERENCE.md documents the same keys (test_config.cpp).
constexpr std::array kAggregatorKeys{
    ConfigKey{"ingest", ValueType::string, "tcp://0.0.0.0:7780", "events, acks and snapshot requests"},
    ConfigKey{"broadcast", ValueType::string, "tcp://0.0.0.0:7781", "fleet decisions and heartbeats"},
    ConfigKey{"http", ValueType::string, "127.0.0.1:7782", "dashboard, JSON API, /metrics; empty turns it off"},
    ConfigKey{"http_auth_file", ValueType::string, "",
              "htpasswd-style file (bcrypt/sha512-crypt): HTTP Basic auth on everything but /healthz"},
    ConfigKey{"state", ValueType::string, "/var/lib/fleetban/state.db",
              "the SQLite database, or postgresql://... for an HA group"},
    ConfigKey{"server_key", ValueType::string, "/etc/fleetban/keys/aggregator.key", "the aggregator's secret key"},
    ConfigKey{"authorized_dir", ValueType::string, "/etc/fleetban/authorized",
              "one NAME.pub per host or operator allowed in"},
    ConfigKey{"insecure", ValueType::boolean, "false", "no CURVE at all (lab and tests); both ends must agree"},
    ConfigKey{"geoip_country_db", ValueType::string, "",
              "a MaxMind DB file of countries: the country of each ban in the API, CLI and dashboard"},
    ConfigKey{"geoip_asn_db", ValueType::string, "",
              "a MaxMind DB file of networks (ASN): the AS of each ban in the API, CLI and dashboard"},
    ConfigKey{"policy.min_reporters", ValueType::integer, "1",
              "distinct hosts that must report an address before the fleet bans it"},
    ConfigKey{"policy.report_window", ValueType::integer, "3600", "seconds a report counts toward min_reporters"},
    ConfigKey{"policy.default_bantime", ValueType::integer, "3600", "seconds, for a report that carries none"},
    ConfigKey{"policy.max_bantime", ValueType::integer, "604800",
              "no fleet ban lasts longer, unless permanent (-1) was reported"},
    ConfigKey{"policy.escalation", ValueType::number, "2.0",
              "a re-offender's next fleet ban lasts escalation x its last one"},
    ConfigKey{"policy.host_unban", ValueType::string, "fleet", "an early unban on a host: fleet | retract"},
    ConfigKey{"policy.allowlist", ValueType::string_list, "", "prefixes never fleet-banned"},
    ConfigKey{"policy.promote_after", ValueType::integer, "0",
              ">0: that many banned addresses in one /24 or /64 ban the prefix"},
    ConfigKey{"policy.min_prefix_v4", ValueType::integer, "16", "shorter IPv4 prefixes are refused"},
    ConfigKey{"policy.min_prefix_v6", ValueType::integer, "32", "shorter IPv6 prefixes are refused"},
    ConfigKey{"policy.max_events_per_second", ValueType::integer, "100", "per reporter; beyond it events are refused"},
    ConfigKey{"policy.forget_after", ValueType::integer, "2592000",
              "seconds an ended ban is remembered (escalation, history); then its record is deleted"},
};

unsigned in_range(const common::ConfigValues& v, std::string_view key, std::int64_t low, std::int64_t high) {
  std::int64_t value = v.integer(key);
  if (value < low || value > high) {
    throw UsageError(v.origin(key) + ": " + std::to_string(value) + " is not between " + std::to_string(low) + " and " +
                     std::to_string(high));
  }
  return static_cast<unsigned>(value);
}

// A key naming a file or directory the aggregator cannot do without.
std::string required_path(const common::ConfigValues& v, std::string_view key, std::string_view what) {
  const std::string& path = v.string(key);
  if (path.empty()) throw UsageError(v.origin(key) + ": '': must name " + std::string(what));
  return path;
}

}  // namespace

std::span<const ConfigKey> aggregator_config_keys() { return kAggregatorKeys; }

AggregatorConfig load_aggregator_config(const std::optional<std::filesystem::path>& file,
                                        const common::FlagOverrides& flags) {
  std::optional<std::filesystem::path> path = file;
  if (!path && std::filesystem::exists(kDefaultAggregatorConfig)) path = kDefaultAggregatorConfig;
  common::ConfigValues v = common::load_config(kAggregatorKeys, path, flags);

  AggregatorConfig c;
  c.ingest = common::endpoint(v, "ingest", common::EndpointUse::bind);
  c.broadcast = common::endpoint(v, "broadcast", common::EndpointUse::bind);
  if (c.ingest == c.broadcast) {
    throw UsageError(v.origin("broadcast") + ": '" + c.broadcast + "' is the ingest endpoint too; each needs its own");
  }
  c.http = v.string("http");
  if (!c.http.empty() && !parse_listen_address(c.http)) {
    throw UsageError(v.origin("http") + ": '" + c.http +
                     "' is not HOST:PORT or [IPV6]:PORT with a port from 1 to 65535, or \"\" for none");
  }
  c.http_auth_file = v.string("http_auth_file");
  c.geoip_country_db = v.string("geoip_country_db");
  c.geoip_asn_db = v.string("geoip_asn_db");
  c.state = required_path(v, "state", "a database file or a postgresql:// URL");
  if (is_postgres_url(c.state.string())) {
    if (auto error = postgres_url_error(c.state.string())) {
      throw UsageError(v.origin("state") + ": '" + redacted_url(c.state.string()) +
                       "' is not a PostgreSQL URL libpq can read: " + *error);
    }
  }
  c.security.insecure = v.boolean("insecure");
  c.security.server_key = v.string("server_key");
  c.security.authorized_dir = v.string("authorized_dir");
  if (!c.security.insecure) {
    c.security.server_key = required_path(v, "server_key", "the aggregator's secret key file (or insecure = true)");
    c.security.authorized_dir =
        required_path(v, "authorized_dir", "the directory of authorized keys (or insecure = true)");
  }

  constexpr std::int64_t kTenYears = 10LL * 365 * 24 * 3600;
  Policy& p = c.policy;
  p.min_reporters = in_range(v, "policy.min_reporters", 1, 10'000);
  p.report_window = std::chrono::seconds(in_range(v, "policy.report_window", 1, kTenYears));
  p.default_bantime = std::chrono::seconds(in_range(v, "policy.default_bantime", 1, kTenYears));
  p.max_bantime = std::chrono::seconds(in_range(v, "policy.max_bantime", 1, kTenYears));
  p.escalation = v.number("policy.escalation");
  if (!(p.escalation >= 1.0 && p.escalation <= 1000.0)) {
    throw UsageError(v.origin("policy.escalation") + ": " + fmt::format("{}", p.escalation) +
                     " is not between 1.0 (no escalation) and 1000");
  }
  const std::string& unban = v.string("policy.host_unban");
  if (unban == "fleet")
    p.host_unban = HostUnban::fleet;
  else if (unban == "retract")
    p.host_unban = HostUnban::retract;
  else
    throw UsageError(v.origin("policy.host_unban") + ": '" + unban + "' is not one of fleet, retract");
  p.allowlist = common::prefix_list(v, "policy.allowlist");
  p.promote_after = in_range(v, "policy.promote_after", 0, 65'536);
  p.min_prefix_v4 = in_range(v, "policy.min_prefix_v4", 0, 32);
  p.min_prefix_v6 = in_range(v, "policy.min_prefix_v6", 0, 128);
  p.max_events_per_second = in_range(v, "policy.max_events_per_second", 1, 10'000'000);
  p.forget_after = std::chrono::seconds(in_range(v, "policy.forget_after", 1, kTenYears));
  return c;
}

}  // namespace fleetban::aggregator
