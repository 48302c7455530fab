// `fleetban` refuses what its command line cannot mean with exit status 2 and a message naming
// it, before it reaches for the aggregator (none runs here).
#include "fleet.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

// Not a timing threshold: only a bound on a program that hangs instead of refusing.
constexpr std::chrono::seconds kBound{60};

struct BadCommandLine {
  const char* test_name;
  std::vector<std::string> args;  // after `fleetban`, before --config FILE
  const char* named;              // what the message must name ("" for CLI11's own message)
};

void PrintTo(const BadCommandLine& bad, std::ostream* out) { *out << bad.test_name; }

class CliBadCommandLine : public ::testing::TestWithParam<BadCommandLine> {};

TEST_P(CliBadCommandLine, ExitsTwoNamingWhatIsWrong) {
  const BadCommandLine& bad = GetParam();
  TempDir dir;
  write_file(
      dir / "host.toml",
      "host_id = \"ops-alice\"\naggregator = " + toml_string("tcp://127.0.0.1:" + std::to_string(free_tcp_port())) +
          "\nbroadcast = " + toml_string("tcp://127.0.0.1:" + std::to_string(free_tcp_port())) +
          "\nspool_dir = " + toml_string((dir / "spool").string()) + "\ninsecure = true\n");
  std::vector<std::string> argv{program("fleetban")};
  argv.insert(argv.end(), bad.args.begin(), bad.args.end());
  argv.insert(argv.end(), {"--config", (dir / "host.toml").string()});
  const auto result = run(argv, kBound);
  ASSERT_FALSE(result.timed_out) << describe(result);
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.output.find(bad.named), std::string::npos) << "the message does not name '" << bad.named << "'\n"
                                                              << describe(result);
}

INSTANTIATE_TEST_SUITE_P(
    Flags, CliBadCommandLine,
    ::testing::Values(BadCommandLine{"NoSubcommand", {}, "subcommand"},
                      BadCommandLine{"UnknownSubcommand", {"frobnicate"}, "subcommand"},
                      BadCommandLine{"UnknownFlag", {"list", "--frobnicate"}, "--frobnicate"},
                      BadCommandLine{"BanWithoutAddress", {"ban"}, "IP"},
                      BadCommandLine{"BanOfNoAddress", {"ban", "not-an-ip"}, "'not-an-ip'"},
                      BadCommandLine{"BanOfABadPrefix", {"ban", "192.0.2.0/33"}, "'192.0.2.0/33'"},
                      BadCommandLine{"BantimeNotANumber", {"ban", "192.0.2.7", "--bantime", "soon"}, "--bantime"},
                      BadCommandLine{"BantimeOutOfRange", {"ban", "192.0.2.7", "--bantime", "-2"}, "--bantime"},
                      BadCommandLine{
                          "ReasonTooLong", {"ban", "192.0.2.7", "--reason", std::string(257, 'r')}, "--reason"},
                      BadCommandLine{"UnbanOfNoAddress", {"unban", "nowhere"}, "'nowhere'"},
                      BadCommandLine{"KeygenOfABadName", {"keygen", "web 01"}, "'web 01'"},
                      BadCommandLine{"ConfigFlagOfTheWrongType", {"list", "--timeout-ms", "soon"}, "--timeout-ms"},
                      BadCommandLine{"ConfigFlagOutOfRange", {"status", "--timeout-ms", "0"}, "--timeout-ms"}),
    [](const ::testing::TestParamInfo<BadCommandLine>& info) { return std::string(info.param.test_name); });

}  // namespace
}  // namespace fleetban::testing
