// aggregator.toml (aggregator/aggregator_config.hpp): every key read, and every bad value refused
// where the file is loaded, with a message naming the file (or flag), the key and the value.

#include "aggregator/aggregator_config.hpp"

#include <gtest/gtest.h>

#include <map>

#include "printers.hpp"
#include "temp_dir.hpp"
#include "usage_error.hpp"

namespace {

using fleetban::aggregator::HostUnban;
using fleetban::aggregator::load_aggregator_config;
using fleetban::aggregator::parse_listen_address;
using fleetban::common::FlagOverrides;
using fleetban::common::IpPrefix;
using fleetban::testing::has;
using fleetban::testing::TempDir;
using fleetban::testing::usage_error_of;

IpPrefix prefix(std::string_view text) { return *IpPrefix::parse(text); }

TEST(AggregatorConfig, EmptyFileGivesTheDefaults) {
  TempDir dir;
  auto file = dir.write("aggregator.toml", "");
  auto c = load_aggregator_config(file, {});
  EXPECT_EQ(c.ingest, "tcp://0.0.0.0:7780");
  EXPECT_EQ(c.broadcast, "tcp://0.0.0.0:7781");
  EXPECT_EQ(c.http, "127.0.0.1:7782");
  EXPECT_EQ(c.state, "/var/lib/fleetban/state.db");
  EXPECT_EQ(c.security.server_key, "/etc/fleetban/keys/aggregator.key");
  EXPECT_EQ(c.security.authorized_dir, "/etc/fleetban/authorized");
  EXPECT_FALSE(c.security.insecure);
  const auto& p = c.policy;
  EXPECT_EQ(p.min_reporters, 1u);
  EXPECT_EQ(p.report_window, std::chrono::seconds(3600));
  EXPECT_EQ(p.default_bantime, std::chrono::seconds(3600));
  EXPECT_EQ(p.max_bantime, std::chrono::seconds(604800));
  EXPECT_DOUBLE_EQ(p.escalation, 2.0);
  EXPECT_EQ(p.host_unban, HostUnban::fleet);
  EXPECT_TRUE(p.allowlist.empty());
  EXPECT_EQ(p.promote_after, 0u);
  EXPECT_EQ(p.min_prefix_v4, 16u);
  EXPECT_EQ(p.min_prefix_v6, 32u);
  EXPECT_EQ(p.max_events_per_second, 100u);
}

TEST(AggregatorConfig, ReadsEveryKey) {
  TempDir dir;
  auto file = dir.write("aggregator.toml", R"(
ingest         = "tcp://127.0.0.1:17780"
broadcast      = "tcp://127.0.0.1:17781"
http           = ""
state          = "/tmp/x/state.db"
server_key     = "/k/aggregator.key"
authorized_dir = "/k/authorized"
insecure       = true

[policy]
min_reporters   = 3
report_window   = 600
default_bantime = 120
max_bantime     = 86400
escalation      = 3
host_unban      = "retract"
allowlist       = ["10.0.0.0/8", "2001:db8:ffff::/48"]
promote_after   = 4
min_prefix_v4   = 20
min_prefix_v6   = 48
max_events_per_second = 7
)");
  auto c = load_aggregator_config(file, {});
  EXPECT_EQ(c.ingest, "tcp://127.0.0.1:17780");
  EXPECT_EQ(c.broadcast, "tcp://127.0.0.1:17781");
  EXPECT_EQ(c.http, "");
  EXPECT_EQ(c.state, "/tmp/x/state.db");
  EXPECT_EQ(c.security.server_key, "/k/aggregator.key");
  EXPECT_EQ(c.security.authorized_dir, "/k/authorized");
  EXPECT_TRUE(c.security.insecure);
  const auto& p = c.policy;
  EXPECT_EQ(p.min_reporters, 3u);
  EXPECT_EQ(p.report_window, std::chrono::seconds(600));
  EXPECT_EQ(p.default_bantime, std::chrono::seconds(120));
  EXPECT_EQ(p.max_bantime, std::chrono::seconds(86400));
  EXPECT_DOUBLE_EQ(p.escalation, 3.0);  // an integer is a number too
  EXPECT_EQ(p.host_unban, HostUnban::retract);
  EXPECT_EQ(p.allowlist, (std::vector<IpPrefix>{prefix("10.0.0.0/8"), prefix("2001:db8:ffff::/48")}));
  EXPECT_EQ(p.promote_after, 4u);
  EXPECT_EQ(p.min_prefix_v4, 20u);
  EXPECT_EQ(p.min_prefix_v6, 48u);
  EXPECT_EQ(p.max_events_per_second, 7u);
}

TEST(AggregatorConfig, FlagOverrideWinsOverTheFile) {
  TempDir dir;
  auto file = dir.write("aggregator.toml", "[policy]\nescalation = 3.0\nmin_reporters = 2\n");
  auto c = load_aggregator_config(file, FlagOverrides{{"policy.escalation", "1.5"}});
  EXPECT_DOUBLE_EQ(c.policy.escalation, 1.5);
  EXPECT_EQ(c.policy.min_reporters, 2u);
}

TEST(AggregatorConfig, EscalationOfOneMeansNoEscalationAndIsAccepted) {
  auto c = load_aggregator_config(std::nullopt, FlagOverrides{{"policy.escalation", "1"}, {"state", "/tmp/s.db"}});
  EXPECT_DOUBLE_EQ(c.policy.escalation, 1.0);
}

TEST(AggregatorConfig, HostKeysAreUnknownToTheAggregator) {
  TempDir dir;
  auto file = dir.write("aggregator.toml", "[enforce]\nbackend = \"log\"\n");
  std::string message = usage_error_of([&] { load_aggregator_config(file, {}); });
  EXPECT_TRUE(has(message, "enforce")) << message;
  EXPECT_TRUE(has(message, file.string())) << message;
}

TEST(AggregatorConfig, EveryBindableEndpointFormIsAccepted) {
  TempDir dir;
  for (const char* endpoint : {"tcp://*:7780", "tcp://0.0.0.0:7780", "tcp://[::]:7780", "tcp://lo:7780",
                               "tcp://198.51.100.5:65535", "ipc:///run/fleetban/ingest", "inproc://fleet"}) {
    auto file = dir.write("aggregator.toml", "ingest = \"" + std::string(endpoint) + "\"\n");
    EXPECT_EQ(load_aggregator_config(file, {}).ingest, endpoint);
  }
}

TEST(AggregatorConfig, InsecureNeedsNoKeys) {
  TempDir dir;
  auto file = dir.write("aggregator.toml", "insecure = true\nserver_key = \"\"\nauthorized_dir = \"\"\n");
  EXPECT_TRUE(load_aggregator_config(file, {}).security.insecure);
}

TEST(AggregatorConfig, BadEndpointFromAFlagNamesTheFlagAndTheValue) {
  std::string message = usage_error_of([] { load_aggregator_config(std::nullopt, FlagOverrides{{"ingest", "7780"}}); });
  EXPECT_TRUE(has(message, "--ingest")) << message;
  EXPECT_TRUE(has(message, "'7780'")) << message;
}

TEST(AggregatorConfig, HttpListenAddressesParse) {
  auto v4 = parse_listen_address("127.0.0.1:7782");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 7782);
  auto v6 = parse_listen_address("[::1]:1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 1);
  EXPECT_TRUE(parse_listen_address("localhost:65535"));
  for (const char* bad : {"", "7782", "127.0.0.1", "127.0.0.1:", ":7782", "127.0.0.1:0", "127.0.0.1:65536",
                          "[127.0.0.1]:7782", "[::1]7782", "web 01:7782", "http://127.0.0.1:7782"}) {
    EXPECT_FALSE(parse_listen_address(bad)) << bad;
  }
}

// --- one bad value at a time --------------------------------------------------------------------

struct BadValue {
  const char* test_name;
  const char* key;    // "state", or "policy.escalation"
  const char* toml;   // the key's value as written in the file
  const char* named;  // what the message must show of the value
};

void PrintTo(const BadValue& bad, std::ostream* out) { *out << bad.key << " = " << bad.toml; }

class AggregatorConfigBadValue : public ::testing::TestWithParam<BadValue> {};

TEST_P(AggregatorConfigBadValue, IsRefusedNamingTheFileTheKeyAndTheValue) {
  const BadValue& bad = GetParam();
  std::string key = bad.key;
  std::string toml = key.starts_with("policy.") ? "[policy]\n" + key.substr(7) + " = " + bad.toml + "\n"
                                                : key + " = " + bad.toml + "\n";
  TempDir dir;
  auto file = dir.write("aggregator.toml", toml);
  std::string message = usage_error_of([&] { load_aggregator_config(file, {}); });
  EXPECT_TRUE(has(message, file.string() + ": key '" + key + "'")) << message;
  EXPECT_TRUE(has(message, bad.named)) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Keys, AggregatorConfigBadValue,
    ::testing::Values(BadValue{"IngestEmpty", "ingest", "\"\"", "not set"},
                      BadValue{"IngestWithoutPort", "ingest", "\"tcp://0.0.0.0\"", "'tcp://0.0.0.0'"},
                      BadValue{"IngestPortTooHigh", "ingest", "\"tcp://0.0.0.0:99999\"", "'tcp://0.0.0.0:99999'"},
                      BadValue{"IngestAnyPort", "ingest", "\"tcp://*:*\"", "'tcp://*:*'"},
                      BadValue{"IngestWithASource", "ingest", "\"tcp://192.0.2.7:0;0.0.0.0:7780\"",
                               "'tcp://192.0.2.7:0;0.0.0.0:7780'"},
                      BadValue{"BroadcastOtherTransport", "broadcast", "\"pgm://eth0;239.192.1.1:5555\"",
                               "'pgm://eth0;239.192.1.1:5555'"},
                      BadValue{"BroadcastSameAsIngest", "broadcast", "\"tcp://0.0.0.0:7780\"", "'tcp://0.0.0.0:7780'"},
                      BadValue{"HttpWithoutPort", "http", "\"127.0.0.1\"", "'127.0.0.1'"},
                      BadValue{"HttpPortZero", "http", "\"localhost:0\"", "'localhost:0'"},
                      BadValue{"HttpWithScheme", "http", "\"http://127.0.0.1:7782\"", "'http://127.0.0.1:7782'"},
                      BadValue{"StateEmpty", "state", "\"\"", "''"},
                      BadValue{"ServerKeyEmpty", "server_key", "\"\"", "''"},
                      BadValue{"AuthorizedDirEmpty", "authorized_dir", "\"\"", "''"},
                      BadValue{"EscalationBelowOne", "policy.escalation", "0.5", "0.5"},
                      BadValue{"EscalationTooHigh", "policy.escalation", "1000.5", "1000.5"},
                      BadValue{"EscalationNotANumber", "policy.escalation", "nan", "nan"},
                      BadValue{"MinReportersZero", "policy.min_reporters", "0", ": 0 "},
                      BadValue{"HostUnbanUnknown", "policy.host_unban", "\"x\"", "'x'"},
                      BadValue{"ReportWindowZero", "policy.report_window", "0", ": 0 "},
                      BadValue{"DefaultBantimeNegative", "policy.default_bantime", "-1", "-1"},
                      BadValue{"MaxBantimeOverTenYears", "policy.max_bantime", "315360001", "315360001"},
                      BadValue{"MinPrefixV4Over32", "policy.min_prefix_v4", "33", "33"},
                      BadValue{"MinPrefixV6Over128", "policy.min_prefix_v6", "129", "129"},
                      BadValue{"PromoteAfterNegative", "policy.promote_after", "-1", "-1"},
                      BadValue{"MaxEventsPerSecondZero", "policy.max_events_per_second", "0", ": 0 "},
                      BadValue{"ForgetAfterZero", "policy.forget_after", "0", ": 0 "},
                      BadValue{"AllowlistEntryNotAPrefix", "policy.allowlist", "[\"10.0.0.0/8\", \"10.0.0.0.0\"]",
                               "'10.0.0.0.0'"}),
    [](const ::testing::TestParamInfo<BadValue>& info) { return std::string(info.param.test_name); });

}  // namespace
