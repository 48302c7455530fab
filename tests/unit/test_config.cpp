// The config table reader (common/config.hpp), its endpoint check, and the agreement of the two
// key tables (host.toml, aggregator.toml) with docs/REFERENCE.md. The typed configs themselves:
// test_host_config.cpp and test_aggregator_config.cpp.

#include "common/config.hpp"

#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <set>
#include <sstream>

#include "aggregator/aggregator_config.hpp"
#include "common/host_config.hpp"
#include "printers.hpp"
#include "relay/relay_config.hpp"
#include "temp_dir.hpp"
#include "usage_error.hpp"

namespace {

using fleetban::aggregator::HostUnban;
using fleetban::aggregator::load_aggregator_config;
using fleetban::common::BackendKind;
using fleetban::common::endpoint_problem;
using fleetban::common::EndpointUse;
using fleetban::common::FlagOverrides;
using fleetban::common::IpPrefix;
using fleetban::common::load_host_config;
using fleetban::testing::has;
using fleetban::testing::TempDir;
using fleetban::testing::usage_error_of;

IpPrefix prefix(std::string_view text) { return *IpPrefix::parse(text); }

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
  // A key the file leaves out is the file's to set: a message about its default names the file.
  EXPECT_EQ(flagged.origin("s.name"), "inline.toml: key 's.name'");

  std::string message =
      usage_error_of([&] { fleetban::common::load_config_text(table, "count = \"5\"\n", "inline.toml", {}); });
  EXPECT_TRUE(has(message, "inline.toml")) << message;
  EXPECT_TRUE(has(message, "count")) << message;
}

// toml++ 3.3 has undefined behaviour on most non-ASCII characters where it expects whitespace: the
// reader never lets it see one. In comments they are blanked; anywhere else the file is refused,
// naming the line.
TEST(Config, NonAsciiIsRefusedOutsideCommentsNamingTheLine) {
  using fleetban::common::ConfigKey;
  using fleetban::common::ValueType;
  constexpr std::array table{ConfigKey{"count", ValueType::integer, "1", ""},
                             ConfigKey{"s.name", ValueType::string, "", ""}};
  const std::vector<std::string> refused{"count = 5\n\xc3\xa9\n",
                                         "count = 5 \xc2\xa1\n",
                                         "count\xc3\xa9 = 5\n",
                                         "[s]\nname = \"x\" \xd0\x96\n",
                                         "[s]\nname = \"caf\xc3\xa9\"\n",
                                         "[s]\nname = \"\\\xc3\xa9\"\n",
                                         "[s]\nname = '''x''' \xc3\xa9\n",
                                         "[s]\nname = \"\"\"x\"\"\"\"\" \xc3\xa9\n",
                                         std::string("count = 1p\0'\xef\xbb\xbd\n", 15)};
  for (const auto& text : refused) {
    std::string message = usage_error_of([&] { fleetban::common::load_config_text(table, text, "f.toml", {}); });
    EXPECT_TRUE(has(message, "f.toml:")) << message;
    EXPECT_TRUE(has(message, "non-ASCII")) << text << ": " << message;
  }
  auto values = fleetban::common::load_config_text(
      table, "# Serveur principal: \xc3\xa9t\xc3\xa9\ncount = 5  # \xe2\x80\x94 ok\n[s]\nname = \"# not a comment\"\n",
      "f.toml", {});
  EXPECT_EQ(values.integer("count"), 5);
  EXPECT_EQ(values.string("s.name"), "# not a comment");
}

// --- endpoints ----------------------------------------------------------------------------------

TEST(Endpoint, FormsFleetbanUsesAreAccepted) {
  for (const char* text :
       {"tcp://198.51.100.5:7780", "tcp://[2001:db8::5]:7780", "tcp://2001:db8::5:7780", "tcp://agg.example.org:1",
        "tcp://agg_1:65535", "ipc:///run/fleetban.sock", "ipc://@abstract", "inproc://x"}) {
    EXPECT_EQ(endpoint_problem(text, EndpointUse::connect), std::nullopt) << text;
    EXPECT_EQ(endpoint_problem(text, EndpointUse::bind), std::nullopt) << text;
  }
}

TEST(Endpoint, EveryInterfaceCanBeBoundNotConnectedTo) {
  EXPECT_EQ(endpoint_problem("tcp://*:7780", EndpointUse::bind), std::nullopt);
  auto problem = endpoint_problem("tcp://*:7780", EndpointUse::connect);
  ASSERT_TRUE(problem);
  EXPECT_TRUE(has(*problem, "'*'")) << *problem;
}

TEST(Endpoint, ASourceCanBeNamedToConnectNotToBind) {
  EXPECT_EQ(endpoint_problem("tcp://192.0.2.7:0;198.51.100.5:7780", EndpointUse::connect), std::nullopt);
  EXPECT_EQ(endpoint_problem("tcp://eth0:*;198.51.100.5:7780", EndpointUse::connect), std::nullopt);
  EXPECT_TRUE(endpoint_problem("tcp://192.0.2.7:0;198.51.100.5:7780", EndpointUse::bind));
  EXPECT_TRUE(endpoint_problem("tcp://192.0.2.7;198.51.100.5:7780", EndpointUse::connect));  // source without port
  EXPECT_TRUE(endpoint_problem("tcp://192.0.2.7:0;198.51.100.5", EndpointUse::connect));
}

TEST(Endpoint, MalformedOnesSayWhatIsWrong) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c :
       {Case{"", "empty"}, Case{"198.51.100.5:7780", "no transport"}, Case{"udp://198.51.100.5:7780", "'udp'"},
        Case{"tcp://198.51.100.5", "no port"}, Case{"tcp://[2001:db8::5]", "no port"}, Case{"tcp://:7780", "no host"},
        Case{"tcp://198.51.100.5:0", "'0'"}, Case{"tcp://198.51.100.5:65536", "'65536'"},
        Case{"tcp://198.51.100.5:-1", "'-1'"}, Case{"tcp://198.51.100.5:7780 ", "'7780 '"},
        Case{"tcp://[2001:db8::5:7780", "']'"}, Case{"tcp://[x]:7780", "'x'"},
        Case{"tcp://2001:db8:::5:7780", "[ADDRESS]"}, Case{"tcp://a b:7780", "'a b'"}, Case{"ipc://", "ipc://"},
        Case{"inproc://", "inproc://"}}) {
    auto problem = endpoint_problem(c.text, EndpointUse::connect);
    ASSERT_TRUE(problem) << c.text;
    EXPECT_TRUE(has(*problem, c.says)) << c.text << " -> " << *problem;
  }
}

TEST(Endpoint, KeyValueIsCheckedAndNamedWithItsOrigin) {
  using fleetban::common::ConfigKey;
  using fleetban::common::ValueType;
  constexpr std::array table{ConfigKey{"ingest", ValueType::string, "", ""}};
  auto good = fleetban::common::load_config_text(table, "ingest = \"tcp://192.0.2.1:1\"\n", "a.toml", {});
  EXPECT_EQ(fleetban::common::endpoint(good, "ingest", EndpointUse::connect), "tcp://192.0.2.1:1");
  auto bad = fleetban::common::load_config_text(table, "ingest = \"tcp://192.0.2.1\"\n", "a.toml", {});
  std::string message = usage_error_of([&] { fleetban::common::endpoint(bad, "ingest", EndpointUse::connect); });
  EXPECT_TRUE(has(message, "a.toml: key 'ingest': 'tcp://192.0.2.1'")) << message;
  auto unset = fleetban::common::load_config_text(table, "", "a.toml", {});
  message = usage_error_of([&] { fleetban::common::endpoint(unset, "ingest", EndpointUse::connect); });
  EXPECT_TRUE(has(message, "a.toml: key 'ingest': not set")) << message;
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
constexpr std::string_view kRelayPart = "### relay.toml";

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

TEST(ConfigKeys, RelayTableAndReferenceAgree) {
  expect_table_and_reference_agree(fleetban::relay::relay_config_keys(), kRelayPart);
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
  for (auto table : {fleetban::common::host_config_keys(), fleetban::aggregator::aggregator_config_keys(),
                     fleetban::relay::relay_config_keys()}) {
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
  for (auto table : {fleetban::common::host_config_keys(), fleetban::aggregator::aggregator_config_keys(),
                     fleetban::relay::relay_config_keys()}) {
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
