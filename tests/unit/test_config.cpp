// The config table reader (common/config.hpp) and the two typed configs built on it:
// host.toml (common/host_config.hpp) and aggregator.toml (aggregator/aggregator_config.hpp).

#include "common/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "aggregator/aggregator_config.hpp"
#include "common/errors.hpp"
#include "common/host_config.hpp"
#include "printers.hpp"
#include "temp_dir.hpp"

namespace {

using fleetban::aggregator::HostUnban;
using fleetban::aggregator::load_aggregator_config;
using fleetban::common::BackendKind;
using fleetban::common::FlagOverrides;
using fleetban::common::IpPrefix;
using fleetban::common::load_host_config;
using fleetban::common::UsageError;
using fleetban::testing::TempDir;

// The message of the UsageError that `f` throws; a test failure when it throws none.
template <typename F>
std::string usage_error_of(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UsageError";
  return {};
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

IpPrefix prefix(std::string_view text) { return *IpPrefix::parse(text); }

std::string this_hostname() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "localhost";
  return name.data();
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
nft_table       = "inet fleet"
allowlist       = ["203.0.113.0/24", "2001:db8:ffff::/48", "192.0.2.9"]
)";

// --- the table reader ---------------------------------------------------------------------------

TEST(Config, FlagNameDropsTheSectionAndUsesDashes) {
  EXPECT_EQ(fleetban::common::flag_for("timeout_ms"), "--timeout-ms");
  EXPECT_EQ(fleetban::common::flag_for("enforce.backend"), "--backend");
  EXPECT_EQ(fleetban::common::flag_for("policy.max_events_per_second"), "--max-events-per-second");
  EXPECT_EQ(fleetban::common::flag_for("http"), "--http");
}

TEST(Config, FlagValuesOfEveryTypeAreParsed) {
  using fleetban::common::ConfigKey;
  using fleetban::common::ValueType;
  constexpr std::array table{
      ConfigKey{"name", ValueType::string, "x", ""},
      ConfigKey{"count", ValueType::integer, "1", ""},
      ConfigKey{"ratio", ValueType::number, "1.5", ""},
      ConfigKey{"on", ValueType::boolean, "false", ""},
      ConfigKey{"section.list", ValueType::string_list, "a,b", ""},
  };
  auto defaults = fleetban::common::load_config(table, std::nullopt, {});
  EXPECT_EQ(defaults.string("name"), "x");
  EXPECT_EQ(defaults.integer("count"), 1);
  EXPECT_DOUBLE_EQ(defaults.number("ratio"), 1.5);
  EXPECT_FALSE(defaults.boolean("on"));
  EXPECT_EQ(defaults.string_list("section.list"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(defaults.origin("count"), "default of 'count'");

  auto flags = fleetban::common::load_config(
      table, std::nullopt,
      FlagOverrides{{"name", "y z"}, {"count", "-42"}, {"ratio", "3"}, {"on", "yes"}, {"section.list", "c,,d,"}});
  EXPECT_EQ(flags.string("name"), "y z");
  EXPECT_EQ(flags.integer("count"), -42);
  EXPECT_DOUBLE_EQ(flags.number("ratio"), 3.0);
  EXPECT_TRUE(flags.boolean("on"));
  EXPECT_EQ(flags.string_list("section.list"), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(flags.origin("count"), "flag --count");
}

TEST(Config, FlagValueThatDoesNotParseNamesTheFlag) {
  for (const char* bad : {"", "12x", "ten", " 5", "1.5"}) {
    std::string message = usage_error_of([&] { load_host_config(std::nullopt, FlagOverrides{{"timeout_ms", bad}}); });
    EXPECT_TRUE(has(message, "--timeout-ms")) << message;
  }
  std::string message = usage_error_of([] { load_host_config(std::nullopt, FlagOverrides{{"insecure", "maybe"}}); });
  EXPECT_TRUE(has(message, "--insecure")) << message;
  EXPECT_TRUE(has(message, "maybe")) << message;
}

TEST(Config, TextInMemoryIsReadLikeAFileAndNamedBySource) {
  using fleetban::common::ConfigKey;
  using fleetban::common::ValueType;
  constexpr std::array table{ConfigKey{"count", ValueType::integer, "1", ""},
                             ConfigKey{"s.name", ValueType::string, "", ""}};
  auto values = fleetban::common::load_config_text(table, "count = 5\n[s]\nname = \"x\"\n", "inline.toml", {});
  EXPECT_EQ(values.integer("count"), 5);
  EXPECT_EQ(values.string("s.name"), "x");
  EXPECT_EQ(values.origin("count"), "inline.toml: key 'count'");

  auto flagged = fleetban::common::load_config_text(table, "count = 5\n", "inline.toml", FlagOverrides{{"count", "7"}});
  EXPECT_EQ(flagged.integer("count"), 7);

  std::string message =
      usage_error_of([&] { fleetban::common::load_config_text(table, "count = \"5\"\n", "inline.toml", {}); });
  EXPECT_TRUE(has(message, "inline.toml")) << message;
  EXPECT_TRUE(has(message, "count")) << message;
}

// --- host.toml ----------------------------------------------------------------------------------

TEST(HostConfig, ReadsEveryKey) {
  TempDir dir;
  auto file = dir.write("host.toml", kFullHostToml);
  auto c = load_host_config(file, {});
  EXPECT_EQ(c.host_id, "web-01");
  EXPECT_EQ(c.aggregator, "tcp://198.51.100.5:7780");
  EXPECT_EQ(c.broadcast, "tcp://198.51.100.5:7781");
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
  EXPECT_EQ(c.enforce.nft_table, "inet fleet");
  EXPECT_EQ(c.enforce.allowlist,
            (std::vector<IpPrefix>{prefix("203.0.113.0/24"), prefix("2001:db8:ffff::/48"), prefix("192.0.2.9")}));
}

TEST(HostConfig, EmptyFileGivesTheDefaults) {
  TempDir dir;
  auto file = dir.write("host.toml", "");
  auto c = load_host_config(file, {});
  EXPECT_EQ(c.host_id, this_hostname());
  EXPECT_EQ(c.aggregator, "");
  EXPECT_EQ(c.broadcast, "");
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
  EXPECT_EQ(c.enforce.nft_table, "inet fleetban");
  EXPECT_TRUE(c.enforce.allowlist.empty());
}

TEST(HostConfig, DefaultClientKeyFollowsTheConfiguredHostId) {
  TempDir dir;
  auto file = dir.write("host.toml", "host_id = \"db-7\"\n");
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

TEST(HostConfig, BadAllowlistEntryNamesTheEntryAndTheKey) {
  TempDir dir;
  auto file = dir.write("host.toml", "[enforce]\nallowlist = [\"203.0.113.0/24\", \"203.0.113.0/33\"]\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, "203.0.113.0/33")) << message;
  EXPECT_TRUE(has(message, "allowlist")) << message;
  EXPECT_TRUE(has(message, file.string())) << message;
}

TEST(HostConfig, BadAllowlistEntryFromAFlagNamesTheFlag) {
  std::string message = usage_error_of([] {
    load_host_config(std::nullopt, FlagOverrides{{"enforce.allowlist", "10.0.0.0/8,nonsense"}});
  });
  EXPECT_TRUE(has(message, "nonsense")) << message;
  EXPECT_TRUE(has(message, "--allowlist")) << message;
}

TEST(HostConfig, BadBackendNameIsRefused) {
  TempDir dir;
  auto file = dir.write("host.toml", "[enforce]\nbackend = \"iptables\"\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, "iptables")) << message;
  EXPECT_TRUE(has(message, "backend")) << message;
  EXPECT_TRUE(has(message, file.string())) << message;
}

TEST(HostConfig, EveryBackendNameIsAccepted) {
  TempDir dir;
  const std::map<std::string, BackendKind> names{{"fail2ban", BackendKind::fail2ban},
                                                 {"nftables", BackendKind::nftables},
                                                 {"exec", BackendKind::exec},
                                                 {"log", BackendKind::log}};
  for (const auto& [name, kind] : names) {
    auto file = dir.write("host.toml", "[enforce]\nbackend = \"" + name + "\"\n");
    EXPECT_EQ(load_host_config(file, {}).enforce.backend, kind) << name;
  }
}

TEST(HostConfig, TimeoutOutOfRangeIsRefused) {
  for (const char* value : {"0", "-5", "600001"}) {
    std::string message = usage_error_of([&] { load_host_config(std::nullopt, FlagOverrides{{"timeout_ms", value}}); });
    EXPECT_TRUE(has(message, "--timeout-ms")) << value << " -> " << message;
  }
  EXPECT_EQ(load_host_config(std::nullopt, FlagOverrides{{"timeout_ms", "600000"}}).timeout,
            std::chrono::milliseconds(600000));
}

TEST(HostConfig, NegativeSpoolLimitIsRefused) {
  TempDir dir;
  auto file = dir.write("host.toml", "spool_max_bytes = -1\n");
  std::string message = usage_error_of([&] { load_host_config(file, {}); });
  EXPECT_TRUE(has(message, "spool_max_bytes")) << message;
  EXPECT_TRUE(has(message, file.string())) << message;
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

// --- aggregator.toml ----------------------------------------------------------------------------

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

TEST(AggregatorConfig, PolicyValuesOutOfRangeNameTheKeyAndTheFile) {
  TempDir dir;
  struct Case {
    const char* toml;
    const char* key;
  };
  for (const Case& c : {Case{"[policy]\nescalation = 0.5\n", "policy.escalation"},
                        Case{"[policy]\nescalation = 1000.5\n", "policy.escalation"},
                        Case{"[policy]\nescalation = nan\n", "policy.escalation"},
                        Case{"[policy]\nmin_reporters = 0\n", "policy.min_reporters"},
                        Case{"[policy]\nhost_unban = \"x\"\n", "policy.host_unban"},
                        Case{"[policy]\nreport_window = 0\n", "policy.report_window"},
                        Case{"[policy]\ndefault_bantime = -1\n", "policy.default_bantime"},
                        Case{"[policy]\nmax_bantime = 315360001\n", "policy.max_bantime"},
                        Case{"[policy]\nmin_prefix_v4 = 33\n", "policy.min_prefix_v4"},
                        Case{"[policy]\nmin_prefix_v6 = 129\n", "policy.min_prefix_v6"},
                        Case{"[policy]\npromote_after = -1\n", "policy.promote_after"},
                        Case{"[policy]\nmax_events_per_second = 0\n", "policy.max_events_per_second"},
                        Case{"[policy]\nallowlist = [\"10.0.0.0/8\", \"10.0.0.0.0\"]\n", "10.0.0.0.0"},
                        Case{"state = \"\"\n", "state"}}) {
    auto file = dir.write("aggregator.toml", c.toml);
    std::string message = usage_error_of([&] { load_aggregator_config(file, {}); });
    EXPECT_TRUE(has(message, c.key)) << c.toml << " -> " << message;
    EXPECT_TRUE(has(message, file.string())) << c.toml << " -> " << message;
  }
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

// --- the tables agree with docs/REFERENCE.md ----------------------------------------------------

// docs/REFERENCE.md is part of every checkout: a test that cannot read it fails.
std::string reference_md() {
  std::ifstream in(FLEETBAN_REFERENCE_MD);
  if (!in) ADD_FAILURE() << "cannot read " << FLEETBAN_REFERENCE_MD;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The text under the markdown heading line `heading` up to the next heading of the same or a
// higher level; empty when there is no such heading.
std::string part_under(const std::string& markdown, std::string_view heading) {
  std::string line_start = "\n" + std::string(heading) + "\n";
  auto at = markdown.find(line_start);
  if (at == std::string::npos) return {};
  auto level = heading.find_first_not_of('#');
  auto begin = at + line_start.size();
  std::string_view rest(markdown);
  rest.remove_prefix(begin);
  // The next heading of this level or higher: a line of at most `level` '#' then a space, outside
  // code blocks (where '# ' starts a comment).
  bool in_code = false;
  for (std::size_t pos = 0; pos < rest.size();) {
    auto eol = rest.find('\n', pos);
    std::string_view line = rest.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (line.starts_with("```")) in_code = !in_code;
    auto hashes = line.find_first_not_of('#');
    if (!in_code && hashes != 0 && hashes != std::string_view::npos && hashes <= level && line[hashes] == ' ') {
      return std::string(rest.substr(0, pos));
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return std::string(rest);
}

// The keys a config part of REFERENCE.md documents: each key is a definition-list term written
// "`name` (type, default ...)" at the start of a line, outside code blocks; a key under a
// "#### `[section]` ..." heading is "section.name".
std::set<std::string> documented_keys(const std::string& part) {
  std::set<std::string> keys;
  std::istringstream lines(part);
  std::string section;
  bool in_code = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("```")) {
      in_code = !in_code;
      continue;
    }
    if (in_code) continue;
    if (line.starts_with("#")) {
      auto open = line.find("`[");
      auto close = line.find("]`");
      section = open != std::string::npos && close != std::string::npos ? line.substr(open + 2, close - open - 2) : "";
      continue;
    }
    if (!line.starts_with("`")) continue;
    auto close = line.find("` (");
    if (close == std::string::npos) continue;
    std::string key = line.substr(1, close - 1);
    keys.insert(section.empty() ? key : section + "." + key);
  }
  return keys;
}

// The first TOML block of a part, as a file of its own.
std::string example_block(const std::string& part) {
  auto open = part.find("```toml\n");
  if (open == std::string::npos) return {};
  auto close = part.find("\n```", open + 8);
  return part.substr(open + 8, close - open - 8) + "\n";
}

// The keys set in a TOML example ("section.key" for keys under a [section]).
std::set<std::string> example_keys(const std::string& toml) {
  std::set<std::string> keys;
  std::istringstream block(toml);
  std::string section;
  for (std::string line; std::getline(block, line);) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    if (line[first] == '[') {
      section = line.substr(first + 1, line.find(']') - first - 1);
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(first, eq - first);
    key.erase(key.find_last_not_of(" \t") + 1);
    keys.insert(section.empty() ? key : section + "." + key);
  }
  return keys;
}

std::set<std::string> table_keys(std::span<const fleetban::common::ConfigKey> table) {
  std::set<std::string> keys;
  for (const auto& key : table) keys.emplace(key.name);
  return keys;
}

constexpr std::string_view kHostPart = "### host.toml";
constexpr std::string_view kAggregatorPart = "### aggregator.toml";

void expect_table_and_reference_agree(std::span<const fleetban::common::ConfigKey> table_of_keys,
                                      std::string_view heading) {
  std::string part = part_under(reference_md(), heading);
  ASSERT_FALSE(part.empty()) << "no '" << heading << "' in docs/REFERENCE.md";
  auto documented = documented_keys(part);
  auto table = table_keys(table_of_keys);
  for (const auto& key : table) {
    EXPECT_TRUE(documented.contains(key)) << key << " is not documented under '" << heading << "' in docs/REFERENCE.md";
  }
  for (const auto& key : documented) {
    EXPECT_TRUE(table.contains(key)) << key << " is documented under '" << heading << "' but is not in the table";
  }
  auto example = example_keys(example_block(part));
  EXPECT_FALSE(example.empty()) << "no TOML example under '" << heading << "'";
  for (const auto& key : example) EXPECT_TRUE(table.contains(key)) << key << " is in the example but not in the table";
}

TEST(ConfigKeys, HostTableAndReferenceAgree) {
  expect_table_and_reference_agree(fleetban::common::host_config_keys(), kHostPart);
}

TEST(ConfigKeys, AggregatorTableAndReferenceAgree) {
  expect_table_and_reference_agree(fleetban::aggregator::aggregator_config_keys(), kAggregatorPart);
}

TEST(ConfigKeys, ReferenceKeyReaderFindsKeysSectionsAndSkipsCode) {
  // Guards the reader above: a reader that found nothing would make the agreement tests vacuous.
  std::string part =
      "x\n#### Top-level keys\n\n`a_key` (string, default empty)\n:   text\n\n"
      "#### `[sect]`: more\n\n`b_key` (integer, default `1`)\n:   `c_key` (not a term)\n"
      "```toml\n`d_key` (in code)\n```\n";
  EXPECT_EQ(documented_keys(part), (std::set<std::string>{"a_key", "sect.b_key"}));
  std::string markdown = "# t\n\n### one\n\n#### sub\nbody\n```sh\n# comment\n```\n### two\nother\n";
  EXPECT_EQ(part_under(markdown, "### one"), "\n#### sub\nbody\n```sh\n# comment\n```\n");
  EXPECT_EQ(part_under(markdown, "### two"), "other\n");
}

TEST(ConfigKeys, EveryKeyHasHelpAndAValidDefault) {
  for (auto table : {fleetban::common::host_config_keys(), fleetban::aggregator::aggregator_config_keys()}) {
    std::set<std::string_view> seen;
    for (const auto& key : table) {
      EXPECT_FALSE(key.help.empty()) << key.name;
      EXPECT_TRUE(seen.insert(key.name).second) << key.name << " is in the table twice";
    }
    // Every default parses as its type (load_config throws std::logic_error if not).
    EXPECT_NO_THROW(fleetban::common::load_config(table, std::nullopt, {}));
  }
}

TEST(ConfigKeys, FlagsAreUniqueWithinEachTable) {
  // Two keys with one flag would make the program's flag parser refuse to start.
  for (auto table : {fleetban::common::host_config_keys(), fleetban::aggregator::aggregator_config_keys()}) {
    std::set<std::string> flags;
    for (const auto& key : table) {
      EXPECT_TRUE(flags.insert(fleetban::common::flag_for(key.name)).second) << key.name;
    }
    EXPECT_FALSE(flags.contains("--config"));
    EXPECT_FALSE(flags.contains("--help"));
    EXPECT_FALSE(flags.contains("--version"));
  }
}

TEST(ConfigKeys, DocumentedHostExampleLoads) {
  TempDir dir;
  auto file = dir.write("host.toml", example_block(part_under(reference_md(), kHostPart)));
  auto c = load_host_config(file, {});
  EXPECT_EQ(c.host_id, "web-01");
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(c.enforce.backend, BackendKind::fail2ban);
  EXPECT_EQ(c.enforce.allowlist, std::vector<IpPrefix>{prefix("203.0.113.0/24")});
}

TEST(ConfigKeys, DocumentedAggregatorExampleLoads) {
  TempDir dir;
  auto file = dir.write("aggregator.toml", example_block(part_under(reference_md(), kAggregatorPart)));
  auto c = load_aggregator_config(file, {});
  EXPECT_EQ(c.policy.min_reporters, 1u);
  EXPECT_EQ(c.policy.host_unban, HostUnban::fleet);
  EXPECT_EQ(c.policy.allowlist, (std::vector<IpPrefix>{prefix("10.0.0.0/8"), prefix("2001:db8:ffff::/48")}));
}

}  // namespace
