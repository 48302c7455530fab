// The config is checked once, where it is loaded: the three programs that read host.toml refuse
// the same bad value with exit status 2 and the same message, naming the file, the key and the
// value, before they do anything else; fleetban-aggregator does the same for aggregator.toml.
#include "fleet.hpp"

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

// Not a timing threshold: only a bound on a program that hangs instead of refusing to start.
constexpr std::chrono::seconds kStartBound{60};

struct BadHostValue {
  const char* test_name;
  const char* key;      // as the message names it: "timeout_ms", "enforce.jail"
  const char* top;      // top-level lines in place of the good ones they name
  const char* enforce;  // the [enforce] table
  const char* value;    // what the message must show of the value
};

void PrintTo(const BadHostValue& bad, std::ostream* out) { *out << bad.test_name; }

// The message of a program that refused to start: its stderr line less "PROGRAM: ".
std::string message_of(const RunResult& result, const std::string& program_name) {
  std::string text = result.output;
  const std::string prefix = program_name + ": ";
  if (text.starts_with(prefix)) text.erase(0, prefix.size());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

class HostConfigCheckedOnce : public ::testing::TestWithParam<BadHostValue> {
 protected:
  TempDir dir;

  // A host.toml for an aggregator nobody runs; each line of `top` replaces the good line of its key.
  std::filesystem::path write_host_toml(const BadHostValue& bad) const {
    std::map<std::string, std::string> top{
        {"host_id", "\"web-01\""},
        {"aggregator", toml_string("tcp://127.0.0.1:" + std::to_string(free_tcp_port()))},
        {"broadcast", toml_string("tcp://127.0.0.1:" + std::to_string(free_tcp_port()))},
        {"spool_dir", toml_string((dir / "spool").string())},
        {"timeout_ms", "300"},
        {"insecure", "true"},
    };
    std::istringstream lines(bad.top);
    for (std::string line; std::getline(lines, line);) {
      auto eq = line.find(" = ");
      if (eq == std::string::npos) continue;
      top[line.substr(0, eq)] = line.substr(eq + 3);
    }
    std::string toml;
    for (const auto& [key, value] : top) {
      if (value != "(absent)") toml += key + " = " + value + "\n";
    }
    toml += "\n[enforce]\n" + std::string(bad.enforce);
    auto file = dir / "host.toml";
    write_file(file, toml);
    return file;
  }
};

TEST_P(HostConfigCheckedOnce, EveryProgramExitsTwoWithTheSameMessage) {
  const BadHostValue& bad = GetParam();
  const auto config = write_host_toml(bad);
  struct Reader {
    std::string name;
    std::vector<std::string> args;
  };
  const std::vector<Reader> readers{
      {"fleetban-publish", {"ban", "--ip", "192.0.2.40", "--jail", "sshd", "--bantime", "600"}},
      {"fleetban", {"list", "--json"}},
      {"fleetban", {"status"}},
      {"fleetban", {"ban", "198.51.100.40"}},
      {"fleetban-subscriber", {}},
  };
  std::string first_message;
  for (const Reader& reader : readers) {
    std::vector<std::string> argv{program(reader.name)};
    argv.insert(argv.end(), reader.args.begin(), reader.args.end());
    argv.insert(argv.end(), {"--config", config.string()});
    const auto result = run(argv, kStartBound);
    ASSERT_FALSE(result.timed_out) << describe(result);
    EXPECT_EQ(result.exit_code, 2) << describe(result);
    const std::string message = message_of(result, reader.name);
    EXPECT_NE(message.find(config.string() + ": key '" + bad.key + "'"), std::string::npos)
        << "the message does not name the file and the key\n"
        << describe(result);
    EXPECT_NE(message.find(bad.value), std::string::npos) << "the message does not show " << bad.value << "\n"
                                                          << describe(result);
    if (first_message.empty()) first_message = message;
    EXPECT_EQ(message, first_message) << describe(result);
  }
  // Refused before anything was done: the publisher spooled nothing.
  EXPECT_TRUE(regular_files_under(dir / "spool").empty());
}

INSTANTIATE_TEST_SUITE_P(
    Values, HostConfigCheckedOnce,
    ::testing::Values(
        BadHostValue{"HostId", "host_id", "host_id = \"web 01\"", "backend = \"log\"\n", "'web 01'"},
        BadHostValue{"AggregatorWithoutPort", "aggregator", "aggregator = \"tcp://127.0.0.1\"", "backend = \"log\"\n",
                     "'tcp://127.0.0.1'"},
        BadHostValue{"BroadcastLeftOut", "broadcast", "broadcast = (absent)", "backend = \"log\"\n", "not set"},
        BadHostValue{"Timeout", "timeout_ms", "timeout_ms = 0", "backend = \"log\"\n", ": 0 "},
        BadHostValue{"Jail", "enforce.jail", "", "backend = \"fail2ban\"\njail = \"fleet ban\"\n", "'fleet ban'"},
        BadHostValue{"NftTable", "enforce.nft_table", "", "backend = \"nftables\"\nnft_table = \"bridge fleetban\"\n",
                     "'bridge fleetban'"},
        BadHostValue{"BanCommandMissing", "enforce.ban_command", "", "backend = \"exec\"\n", "''"},
        BadHostValue{"BanCommandUnbalancedQuote", "enforce.ban_command", "",
                     "backend = \"exec\"\nban_command = \"/bin/echo '<ip>\"\n", "'/bin/echo '<ip>'"}),
    [](const ::testing::TestParamInfo<BadHostValue>& info) { return std::string(info.param.test_name); });

// The control: the same file with good values is taken by the publisher (it spools, as nobody
// listens), so what the test above sees is the bad value and nothing else.
TEST(HostConfigCheckedOnceControl, TheGoodFileIsTaken) {
  TempDir dir;
  write_file(dir / "host.toml",
             "host_id = \"web-01\"\naggregator = " + toml_string("tcp://127.0.0.1:" + std::to_string(free_tcp_port())) +
                 "\nbroadcast = " + toml_string("tcp://127.0.0.1:" + std::to_string(free_tcp_port())) +
                 "\nspool_dir = " + toml_string((dir / "spool").string()) +
                 "\ntimeout_ms = 300\ninsecure = true\n\n[enforce]\nbackend = \"fail2ban\"\n");
  const auto result = run({program("fleetban-publish"), "ban", "--ip", "192.0.2.41", "--jail", "sshd", "--bantime",
                           "600", "--config", (dir / "host.toml").string()},
                          kStartBound);
  ASSERT_FALSE(result.timed_out) << describe(result);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
}

struct BadAggregatorValue {
  const char* test_name;
  const char* key;
  const char* line;   // TOML, added to a good aggregator.toml (top-level keys replace the good ones)
  const char* value;  // what the message must show of the value
};

void PrintTo(const BadAggregatorValue& bad, std::ostream* out) { *out << bad.test_name; }

class AggregatorConfigCheckedOnce : public ::testing::TestWithParam<BadAggregatorValue> {};

TEST_P(AggregatorConfigCheckedOnce, AggregatorExitsTwoNamingFileKeyAndValue) {
  const BadAggregatorValue& bad = GetParam();
  TempDir dir;
  std::map<std::string, std::string> top{
      {"ingest", toml_string("tcp://127.0.0.1:" + std::to_string(free_tcp_port()))},
      {"broadcast", toml_string("tcp://127.0.0.1:" + std::to_string(free_tcp_port()))},
      {"http", "\"\""},
      {"state", toml_string((dir / "state.db").string())},
      {"insecure", "true"},
  };
  std::string policy;
  std::string line = bad.line;
  if (line.starts_with("[policy]"))
    policy = line;
  else
    top[line.substr(0, line.find(" = "))] = line.substr(line.find(" = ") + 3);
  std::string toml;
  for (const auto& [key, value] : top) toml += key + " = " + value + "\n";
  toml += policy;
  const auto config = dir / "aggregator.toml";
  write_file(config, toml);

  const auto result = run({program("fleetban-aggregator"), "--config", config.string()}, kStartBound);
  ASSERT_FALSE(result.timed_out) << describe(result);
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  const std::string message = message_of(result, "fleetban-aggregator");
  EXPECT_NE(message.find(config.string() + ": key '" + bad.key + "'"), std::string::npos)
      << "the message does not name the file and the key\n"
      << describe(result);
  EXPECT_NE(message.find(bad.value), std::string::npos) << "the message does not show " << bad.value << "\n"
                                                        << describe(result);
  // Refused before anything was done: no database was created.
  EXPECT_FALSE(std::filesystem::exists(dir / "state.db"));
}

INSTANTIATE_TEST_SUITE_P(
    Values, AggregatorConfigCheckedOnce,
    ::testing::Values(BadAggregatorValue{"IngestWithoutTransport", "ingest", "ingest = \"127.0.0.1:7780\"",
                                         "'127.0.0.1:7780'"},
                      BadAggregatorValue{"BroadcastPortTooHigh", "broadcast", "broadcast = \"tcp://127.0.0.1:70000\"",
                                         "'tcp://127.0.0.1:70000'"},
                      BadAggregatorValue{"Http", "http", "http = \"127.0.0.1\"", "'127.0.0.1'"},
                      BadAggregatorValue{"Escalation", "policy.escalation", "[policy]\nescalation = 0.5\n", "0.5"}),
    [](const ::testing::TestParamInfo<BadAggregatorValue>& info) { return std::string(info.param.test_name); });

}  // namespace
}  // namespace fleetban::testing
