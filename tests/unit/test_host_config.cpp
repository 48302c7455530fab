// host.toml (common/host_config.hpp): every key read, and every bad value refused where the file
// is loaded, with a message naming the file (or flag), the key and the value.

#include "common/host_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <map>

#include "printers.hpp"
#include "temp_dir.hpp"
#include "usage_error.hpp"

namespace {

using fleetban::common::BackendKind;
using fleetban::common::FlagOverrides;
using fleetban::common::IpPrefix;
using fleetban::common::load_host_config;
using fleetban::common::NftFamily;
using fleetban::common::NftTable;
using fleetban::testing::has;
using fleetban::testing::TempDir;
using fleetban::testing::usage_error_of;

IpPrefix prefix(std::string_view text) { return *IpPrefix::parse(text); }

std::string this_hostname() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "localhost";
  return name.data();
}

// The two keys every host.toml must set.
constexpr std::string_view kEndpoints = R"(aggregator = "tcp://198.51.100.5:7780"
broadcast  = "tcp://198.51.100.5:7781"
)";

// The same as flags, with more flags.
FlagOverrides with_endpoints(FlagOverrides flags) {
  flags.emplace("aggregator", "tcp://198.51.100.5:7780");
  flags.emplace("broadcast", "tcp://198.51.100.5:7781");
  return flags;
}

constexpr std::string_view kFullHostToml = R"(
host_id    = "web-01"
aggregator = "tcp://198.51.100.5:7780"
broadcast  = "tcp://198.51.100.5:7781"
spool_dir  = "/var/spool/fleetban-test"
timeout_ms = 750
server_key = "/etc/fleetban/keys/aggregator.pub"
client_key = "/etc/fleetban/keys/web-01.key"
insecure   = true
spool_max_bytes = 1048576

[enforce]
backend         = "exec"
jail            = "fleet"
fail2ban_client = "fail2ban-client -s /run/f2b.sock"
ban_command     = "/usr/local/sbin/on-ban <ip> <bantime> <jails>"
unban_command   = "/usr/local/sbin/on-unban <ip>"
nft_table       = "ip6 fleet"
allowlist       = ["203.0.113.0/24", "2001:db8:ffff::/48", "192.0.2.9"]
)";

TEST(HostConfig, ReadsEveryKey) {
  TempDir dir;
  auto file = dir.write("host.toml", kFullHostToml);
  auto c = load_host_config(file, {});
  EXPECT_EQ(c.host_id, "web-01");
  EXPECT_EQ(c.aggregators, std::vector<std::string>{"tcp://198.51.100.5:7780"});
  EXPECT_EQ(c.broadcasts, std::vector<std::string>{"tcp://198.51.100.5:7781"});
  EXPECT_EQ(c.spool_dir, "/var/spool/fleetban-test");
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(750));
  EXPECT_EQ(c.spool_max_bytes, 1048576u);
  EXPECT_TRUE(c.security.insecure);
  EXPECT_EQ(c.security.server_key, "/etc/fleetban/keys/aggregator.pub");
  EXPECT_EQ(c.security.client_key, "/etc/fleetban/keys/web-01.key");
  EXPECT_EQ(c.enforce.backend, BackendKind::exec);
  EXPECT_EQ(c.enforce.jail, "fleet");
  EXPECT_EQ(c.enforce.fail2ban_client, "fail2ban-client -s /run/f2b.sock");
  EXPECT_EQ(c.enforce.ban_command, "/usr/local/sbin/on-ban <ip> <bantime> <jails>");
  EXPECT_EQ(c.enforce.unban_command, "/usr/local/sbin/on-unban <ip>");
  EXPECT_EQ(c.enforce.nft_table, (NftTable{NftFamily::ip6, "fleet"}));
  EXPECT_EQ(c.enforce.allowlist,
            (std::vector<IpPrefix>{prefix("203.0.113.0/24"), prefix("2001:db8:ffff::/48"), prefix("192.0.2.9")}));
}

TEST(HostConfig, FileWithOnlyTheEndpointsGivesTheDefaults) {
  TempDir dir;
  auto file = dir.write("host.toml", kEndpoints);
  auto c = load_host_config(file, {});
  EXPECT_EQ(c.host_id, this_hostname());
  EXPECT_EQ(c.spool_dir, "/var/spool/fleetban");
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(c.spool_max_bytes, 67108864u);
  EXPECT_FALSE(c.security.insecure);
  EXPECT_EQ(c.security.server_key, "/etc/fleetban/keys/aggregator.pub");
  EXPECT_EQ(c.security.client_key, "/etc/fleetban/keys/" + this_hostname() + ".key");
  EXPECT_EQ(c.enforce.backend, BackendKind::log);
  EXPECT_EQ(c.enforce.jail, "fleetban");
  EXPECT_EQ(c.enforce.fail2ban_client, "fail2ban-client");
  EXPECT_EQ(c.enforce.ban_command, "");
  EXPECT_EQ(c.enforce.unban_command, "");
  EXPECT_EQ(c.enforce.nft_table, (NftTable{NftFamily::inet, "fleetban"}));
  EXPECT_TRUE(c.enforce.allowlist.empty());
}

TEST(HostConfig, DefaultClientKeyFollowsTheConfiguredHostId) {
  TempDir dir;
  auto file = dir.write("host.toml", std::string(kEndpoints) + "host_id = \"db-7\"\n");
  EXPECT_EQ(load_host_config(file, {}).security.client_key, "/etc/fleetban/keys/db-7.key");
}

TEST(HostConfig, FlagOverrideWinsOverTheFile) {
  TempDir dir;
  auto file = dir.write("host.toml", kFullHostToml);
  auto c = load_host_config(file, FlagOverrides{{"timeout_ms", "250"}});
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(c.host_id, "web-01");  // the rest still comes from the file

  auto d = load_host_config(file, FlagOverrides{{"enforce.backend", "log"}, {"enforce.allowlist", "10.0.0.0/8"}});
  EXPECT_EQ(d.enforce.backend, BackendKind::log);
  EXPECT_EQ(d.enforce.allowlist, std::vector<IpPrefix>{prefix("10.0.0.0/8")});
}

TEST(HostConfig, EndpointsFromFlagsAloneAreEnough) {
  auto c = load_host_config(std::nullopt, with_endpoints({}));
  EXPECT_EQ(c.aggregators, std::vector<std::string>{"tcp://198.51.100.5:7780"});
  EXPECT_EQ(c.broadcasts, std::vector<std::string>{"tcp://198.51.100.5:7781"});
}

TEST(HostConfig, EveryEndpointFormIsAccepted) {
  TempDir dir;
  for (const char* endpoint :
       {"tcp://198.51.100.5:7780", "tcp://[2001:db8::5]:7780", "tcp://2001:db8::5:7780", "tcp://[fe80::1%eth0]:1",
        "tcp://aggregator.example.org:65535", "tcp://fleet_agg-1:7780", "tcp://192.0.2.7:0;198.51.100.5:7780",
        "tcp://192.0.2.7:*;198.51.100.5:7780", "ipc:///run/fleetban/ingest", "ipc://@fleetban", "inproc://fleet"}) {
    auto file = dir.write("host.toml",
                          "aggregator = \"" + std::string(endpoint) + "\"\nbroadcast = \"tcp://198.51.100.5:7781\"\n");
    EXPECT_EQ(load_host_config(file, {}).aggregators, std::vector<std::string>{endpoint});
  }
}

TEST(HostConfig, EndpointListsAreReadInOrder) {
  TempDir dir;
  auto file = dir.write("host.toml", R"(aggregator = ["tcp://198.51.100.5:7780", "tcp://198.51.100.6:7780"]
broadcast  = ["tcp://198.51.100.5:7781", "tcp://198.51.100.6:7781"]
)");
  auto c = load_host_config(file, {});
  EXPECT_EQ(c.aggregators, (std::vector<std::string>{"tcp://198.51.100.5:7780", "tcp://198.51.100.6:7780"}));
  EXPECT_EQ(c.broadcasts, (std::vector<std::string>{"tcp://198.51.100.5:7781", "tcp://198.51.100.6:7781"}));
}

TEST(HostConfig, EndpointListsAsFlagsAreWrittenWithCommas) {
  auto c = load_host_config(std::nullopt, FlagOverrides{{"aggregator", "tcp://198.51.100.5:7780,ipc:///run/agg"},
                                                        {"broadcast", "tcp://198.51.100.5:7781,ipc:///run/pub"}});
  EXPECT_EQ(c.aggregators, (std::vector<std::string>{"tcp://198.51.100.5:7780", "ipc:///run/agg"}));
  EXPECT_EQ(c.broadcasts, (std::vector<std::string>{"tcp://198.51.100.5:7781", "ipc:///run/pub"}));
}

TEST(HostConfig, EndpointListsOfDifferentLengthsNameBothKeysAndTheFile) {
  TempDir dir;
  auto file = dir.write("host.toml", R"(aggregator = ["tcp://198.51.100.5:7780", "tcp://198.51.100.6:7780"]
broadcast  = "tcp://198.51.100.5:7781"
)");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, file.string() + ": key 'broadcast'")) << message;
  EXPECT_TRUE(has(message, file.string() + ": key 'aggregator'")) << message;
}

TEST(HostConfig, EndpointListFlagOfADifferentLengthNamesTheFlag) {
  TempDir dir;
  auto file = dir.write("host.toml", kEndpoints);
  std::string message = usage_error_of([&] {
    load_host_config(file, FlagOverrides{{"broadcast", "tcp://198.51.100.5:7781,tcp://198.51.100.6:7781"}});
  });
  EXPECT_TRUE(has(message, "flag --broadcast")) << message;
  EXPECT_TRUE(has(message, file.string() + ": key 'aggregator'")) << message;
}

TEST(HostConfig, EveryBackendNameIsAccepted) {
  TempDir dir;
  const std::map<std::string, BackendKind> names{{"fail2ban", BackendKind::fail2ban},
                                                 {"nftables", BackendKind::nftables},
                                                 {"exec", BackendKind::exec},
                                                 {"log", BackendKind::log}};
  for (const auto& [name, kind] : names) {
    auto file = dir.write("host.toml", std::string(kEndpoints) + "[enforce]\nbackend = \"" + name +
                                           "\"\nban_command = \"/bin/true <ip>\"\n");
    EXPECT_EQ(load_host_config(file, {}).enforce.backend, kind) << name;
  }
}

TEST(HostConfig, CommandsAndTableOfOtherBackendsAreCheckedToo) {
  // A typo waits for no backend change: the log backend's host.toml is refused with it.
  TempDir dir;
  auto file = dir.write("host.toml", std::string(kEndpoints) + "[enforce]\nbackend = \"log\"\nnft_table = \"inet\"\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, "enforce.nft_table")) << message;
}

TEST(HostConfig, EmptyCommandIsFineForABackendThatDoesNotRunIt) {
  TempDir dir;
  auto file =
      dir.write("host.toml", std::string(kEndpoints) + "[enforce]\nbackend = \"log\"\nfail2ban_client = \"\"\n");
  EXPECT_EQ(load_host_config(file, {}).enforce.fail2ban_client, "");
}

TEST(HostConfig, InsecureNeedsNoServerKey) {
  TempDir dir;
  auto file = dir.write("host.toml", std::string(kEndpoints) + "insecure = true\nserver_key = \"\"\n");
  EXPECT_TRUE(load_host_config(file, {}).security.insecure);
}

TEST(HostConfig, UnknownKeyNamesTheKeyAndTheFile) {
  TempDir dir;
  auto file = dir.write("host.toml", "host_id = \"a\"\ntimeout = 5\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, "timeout")) << message;
  EXPECT_TRUE(has(message, file.string())) << message;
}

TEST(HostConfig, SectionKeyAtTopLevelIsUnknown) {
  TempDir dir;
  auto file = dir.write("host.toml", "backend = \"exec\"\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, "backend")) << message;
  EXPECT_TRUE(has(message, file.string())) << message;
}

TEST(HostConfig, UnknownKeyInsideASectionNamesTheKeyAndTheFile) {
  TempDir dir;
  auto file = dir.write("host.toml", "[enforce]\nbackend = \"log\"\nbakcend = \"exec\"\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, "bakcend")) << message;
  EXPECT_TRUE(has(message, file.string())) << message;
}

TEST(HostConfig, UnknownSectionNamesTheSectionAndTheFile) {
  TempDir dir;
  auto file = dir.write("host.toml", "[enforcement]\nbackend = \"log\"\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, "enforcement")) << message;
  EXPECT_TRUE(has(message, file.string())) << message;
}

TEST(HostConfig, NestedTableInsideASectionIsRefused) {
  TempDir dir;
  auto file = dir.write("host.toml", "[enforce.extra]\nx = 1\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, "extra")) << message;
  EXPECT_TRUE(has(message, file.string())) << message;
}

TEST(HostConfig, WrongTypeNamesTheKeyAndTheFile) {
  TempDir dir;
  struct Case {
    const char* toml;
    const char* key;
  };
  for (const Case& c : {Case{"timeout_ms = \"250\"\n", "timeout_ms"}, Case{"timeout_ms = 2.5\n", "timeout_ms"},
                        Case{"insecure = \"true\"\n", "insecure"}, Case{"host_id = 7\n", "host_id"},
                        Case{"[enforce]\nallowlist = \"10.0.0.0/8\"\n", "enforce.allowlist"},
                        Case{"[enforce]\nallowlist = [\"10.0.0.0/8\", 5]\n", "enforce.allowlist"},
                        Case{"[enforce]\nbackend = [\"log\"]\n", "enforce.backend"}}) {
    auto file = dir.write("host.toml", c.toml);
    std::string message = usage_error_of([&] { load_host_config(file, {}); });
    EXPECT_TRUE(has(message, c.key)) << c.toml << " -> " << message;
    EXPECT_TRUE(has(message, file.string())) << c.toml << " -> " << message;
  }
}

TEST(HostConfig, BadAllowlistEntryFromAFlagNamesTheFlag) {
  std::string message = usage_error_of([] {
    load_host_config(std::nullopt, with_endpoints(FlagOverrides{{"enforce.allowlist", "10.0.0.0/8,nonsense"}}));
  });
  EXPECT_TRUE(has(message, "nonsense")) << message;
  EXPECT_TRUE(has(message, "--allowlist")) << message;
}

TEST(HostConfig, BadEndpointFromAFlagNamesTheFlagAndTheValue) {
  std::string message = usage_error_of([] {
    load_host_config(std::nullopt, FlagOverrides{{"aggregator", "tcp://198.51.100.5"}, {"broadcast", "tcp://x:1"}});
  });
  EXPECT_TRUE(has(message, "--aggregator")) << message;
  EXPECT_TRUE(has(message, "'tcp://198.51.100.5'")) << message;
}

TEST(HostConfig, EndpointLeftOutOfTheFileNamesTheFileAndTheKey) {
  TempDir dir;
  auto file = dir.write("host.toml", "aggregator = \"tcp://198.51.100.5:7780\"\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, file.string() + ": key 'broadcast'")) << message;
  EXPECT_TRUE(has(message, "not set")) << message;
}

TEST(HostConfig, TimeoutOutOfRangeIsRefused) {
  for (const char* value : {"0", "-5", "600001"}) {
    std::string message = usage_error_of([&] {
      load_host_config(std::nullopt, with_endpoints(FlagOverrides{{"timeout_ms", value}}));
    });
    EXPECT_TRUE(has(message, "--timeout-ms")) << value << " -> " << message;
    EXPECT_TRUE(has(message, value)) << value << " -> " << message;
  }
  EXPECT_EQ(load_host_config(std::nullopt, with_endpoints(FlagOverrides{{"timeout_ms", "600000"}})).timeout,
            std::chrono::milliseconds(600000));
}

TEST(HostConfig, MissingFileNamesTheFile) {
  TempDir dir;
  auto file = dir / "no-such-host.toml";
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, file.string())) << message;
}

TEST(HostConfig, MalformedTomlNamesTheFileAndLine) {
  TempDir dir;
  auto file = dir.write("host.toml", "host_id = \"a\"\ntimeout_ms = = 5\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, file.string() + ":2")) << message;
}

NftTable table(std::string_view text) { return *NftTable::parse(text); }

// --- enforce.nft_table: the table name ----------------------------------------------------------

TEST(NftTable, ParsesFamilyAndName) {
  auto t = NftTable::parse("inet fleetban");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->family, NftFamily::inet);
  EXPECT_EQ(t->name, "fleetban");
  EXPECT_EQ(t->to_string(), "inet fleetban");
  EXPECT_EQ(table("ip fb_1").family, NftFamily::ip);
  EXPECT_EQ(table("ip6 fleet-ban").family, NftFamily::ip6);
  EXPECT_EQ(table("  inet\tfleetban  ").to_string(), "inet fleetban");
}

TEST(NftTable, RefusesWhatIsNotFamilyAndSaneName) {
  for (std::string_view bad :
       {"", "fleetban", "inet", "bridge fleetban", "arp fleetban", "netdev fleetban", "inet fleet ban", "inet 9fleet",
        "inet _fleet", "inet fleet;ban", "inet fleet}", "inet \"fleetban\"", "INET fleetban", "inet fleet.ban"}) {
    EXPECT_FALSE(NftTable::parse(bad)) << bad;
  }
  EXPECT_TRUE(NftTable::parse("inet " + std::string(64, 'a')));
  EXPECT_FALSE(NftTable::parse("inet " + std::string(65, 'a')));
}

TEST(NftTable, HoldsTheFamiliesOfItsKind) {
  EXPECT_TRUE(table("inet x").holds(fleetban::common::Family::v4));
  EXPECT_TRUE(table("inet x").holds(fleetban::common::Family::v6));
  EXPECT_TRUE(table("ip x").holds(fleetban::common::Family::v4));
  EXPECT_FALSE(table("ip x").holds(fleetban::common::Family::v6));
  EXPECT_FALSE(table("ip6 x").holds(fleetban::common::Family::v4));
  EXPECT_TRUE(table("ip6 x").holds(fleetban::common::Family::v6));
}

// --- one bad value at a time --------------------------------------------------------------------

struct BadValue {
  const char* test_name;
  const char* key;      // "timeout_ms", or "enforce.jail"
  const char* toml;     // the key's value as written in the file
  const char* named;    // what the message must show of the value
  const char* backend;  // [enforce] backend of the file
};

void PrintTo(const BadValue& bad, std::ostream* out) { *out << bad.key << " = " << bad.toml; }

// A valid host.toml with `bad.key` set to `bad.toml`.
std::string host_toml_with(const BadValue& bad) {
  std::map<std::string, std::string> top{{"host_id", "\"web-01\""},
                                         {"aggregator", "\"tcp://198.51.100.5:7780\""},
                                         {"broadcast", "\"tcp://198.51.100.5:7781\""}};
  std::map<std::string, std::string> enforce{{"backend", "\"" + std::string(bad.backend) + "\""},
                                             {"ban_command", "\"/bin/true <ip>\""}};
  std::string key = bad.key;
  if (key.starts_with("enforce."))
    enforce[key.substr(8)] = bad.toml;
  else
    top[key] = bad.toml;
  std::string toml;
  for (const auto& [name, value] : top) toml += name + " = " + value + "\n";
  toml += "[enforce]\n";
  for (const auto& [name, value] : enforce) toml += name + " = " + value + "\n";
  return toml;
}

class HostConfigBadValue : public ::testing::TestWithParam<BadValue> {};

TEST_P(HostConfigBadValue, IsRefusedNamingTheFileTheKeyAndTheValue) {
  const BadValue& bad = GetParam();
  TempDir dir;
  auto file = dir.write("host.toml", host_toml_with(bad));
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, file.string() + ": key '" + bad.key + "'")) << message;
  EXPECT_TRUE(has(message, bad.named)) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Keys, HostConfigBadValue,
    ::testing::Values(
        BadValue{"HostIdWithASpace", "host_id", "\"web 01\"", "'web 01'", "log"},
        BadValue{"HostIdStartingWithADash", "host_id", "\"-web\"", "'-web'", "log"},
        BadValue{"HostIdTooLong", "host_id", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
                 "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'", "log"},
        BadValue{"AggregatorEmpty", "aggregator", "\"\"", "not set", "log"},
        BadValue{"AggregatorWithoutTransport", "aggregator", "\"198.51.100.5:7780\"", "'198.51.100.5:7780'", "log"},
        BadValue{"AggregatorWithoutPort", "aggregator", "\"tcp://198.51.100.5\"", "'tcp://198.51.100.5'", "log"},
        BadValue{"AggregatorPortZero", "aggregator", "\"tcp://198.51.100.5:0\"", "'tcp://198.51.100.5:0'", "log"},
        BadValue{"AggregatorPortTooHigh", "aggregator", "\"tcp://198.51.100.5:65536\"", "'tcp://198.51.100.5:65536'",
                 "log"},
        BadValue{"AggregatorPortNotANumber", "aggregator", "\"tcp://198.51.100.5:x80\"", "'tcp://198.51.100.5:x80'",
                 "log"},
        BadValue{"AggregatorOtherTransport", "aggregator", "\"udp://198.51.100.5:7780\"", "'udp://198.51.100.5:7780'",
                 "log"},
        BadValue{"AggregatorEmptyList", "aggregator", "[]", "a string or a non-empty list of strings", "log"},
        BadValue{"AggregatorListWithANumber", "aggregator", "[\"tcp://198.51.100.5:7780\", 7780]",
                 "a string or a non-empty list of strings", "log"},
        BadValue{"AggregatorListWithABadEndpoint", "aggregator",
                 "[\"tcp://198.51.100.5:7780\", \"tcp://198.51.100.6\"]", "'tcp://198.51.100.6'", "log"},
        BadValue{"AggregatorListWithAnEmptyEndpoint", "aggregator", "[\"tcp://198.51.100.5:7780\", \"\"]", "not set",
                 "log"},
        BadValue{"BroadcastEmptyList", "broadcast", "[]", "a string or a non-empty list of strings", "log"},
        BadValue{"BroadcastListLongerThanAggregator", "broadcast",
                 "[\"tcp://198.51.100.5:7781\", \"tcp://198.51.100.6:7781\"]", "has 1", "log"},
        BadValue{"AggregatorEveryInterface", "aggregator", "\"tcp://*:7780\"", "'tcp://*:7780'", "log"},
        BadValue{"AggregatorBadSource", "aggregator", "\"tcp://192.0.2.7:x;198.51.100.5:7780\"",
                 "'tcp://192.0.2.7:x;198.51.100.5:7780'", "log"},
        BadValue{"BroadcastUnclosedBracket", "broadcast", "\"tcp://[2001:db8::1:7781\"", "'tcp://[2001:db8::1:7781'",
                 "log"},
        BadValue{"BroadcastBracketsAroundNoIpv6", "broadcast", "\"tcp://[agg]:7781\"", "'tcp://[agg]:7781'", "log"},
        BadValue{"BroadcastHostWithASpace", "broadcast", "\"tcp://agg 1:7781\"", "'tcp://agg 1:7781'", "log"},
        BadValue{"BroadcastIpcWithoutPath", "broadcast", "\"ipc://\"", "'ipc://'", "log"},
        BadValue{"SpoolDirEmpty", "spool_dir", "\"\"", "''", "log"},
        BadValue{"TimeoutZero", "timeout_ms", "0", ": 0 ", "log"},
        BadValue{"TimeoutTooLong", "timeout_ms", "600001", "600001", "log"},
        BadValue{"SpoolLimitNegative", "spool_max_bytes", "-1", "-1", "log"},
        BadValue{"ServerKeyEmpty", "server_key", "\"\"", "''", "log"},
        BadValue{"BackendUnknown", "enforce.backend", "\"iptables\"", "'iptables'", "log"},
        BadValue{"JailWithASpace", "enforce.jail", "\"fleet ban\"", "'fleet ban'", "fail2ban"},
        BadValue{"JailEmpty", "enforce.jail", "\"\"", "''", "fail2ban"},
        BadValue{"Fail2banClientUnbalancedQuote", "enforce.fail2ban_client", "\"fail2ban-client -s '/run/f2b.sock\"",
                 "'fail2ban-client -s '/run/f2b.sock'", "fail2ban"},
        BadValue{"Fail2banClientEmptyForFail2ban", "enforce.fail2ban_client", "\"\"", "''", "fail2ban"},
        BadValue{"BanCommandEmptyForExec", "enforce.ban_command", "\"\"", "''", "exec"},
        BadValue{"BanCommandUnbalancedQuote", "enforce.ban_command", "\"/bin/echo \\\"<ip>\"", "'/bin/echo \"<ip>'",
                 "exec"},
        BadValue{"UnbanCommandUnbalancedQuote", "enforce.unban_command", "\"/bin/echo '<ip>\"", "'/bin/echo '<ip>'",
                 "exec"},
        BadValue{"NftTableUnknownFamily", "enforce.nft_table", "\"bridge fleetban\"", "'bridge fleetban'", "nftables"},
        BadValue{"NftTableNameStartingWithADigit", "enforce.nft_table", "\"inet 1fleet\"", "'inet 1fleet'", "nftables"},
        BadValue{"NftTableWithoutName", "enforce.nft_table", "\"inet\"", "'inet'", "nftables"},
        BadValue{"AllowlistEntryNotAPrefix", "enforce.allowlist", "[\"203.0.113.0/24\", \"203.0.113.0/33\"]",
                 "'203.0.113.0/33'", "log"}),
    [](const ::testing::TestParamInfo<BadValue>& info) { return std::string(info.param.test_name); });

}  // namespace
