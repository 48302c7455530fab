// What every main shares: the exit status and the one line on stderr for each kind of error, and
// the flags made from a config table.

#include "common/program.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "temp_dir.hpp"

namespace {

using fleetban::common::run_program;

// Runs `body` with stderr sent to a file; returns what it wrote.
std::string stderr_of(const std::function<void()>& body) {
  fleetban::testing::TempDir dir;
  const auto path = dir / "stderr";
  std::fflush(stderr);
  int saved = ::dup(STDERR_FILENO);
  FILE* file = std::fopen(path.c_str(), "w");
  ::dup2(::fileno(file), STDERR_FILENO);
  body();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::fclose(file);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Program, SuccessIsTheBodysOwnStatus) {
  EXPECT_EQ(run_program("prog", [] { return 0; }), 0);
  EXPECT_EQ(run_program("prog", [] { return 3; }), 3);
}

TEST(Program, AUsageErrorIsExitTwoWithOneLineNamingTheProgram) {
  int status = -1;
  std::string err = stderr_of(
      [&] { status = run_program("prog", []() -> int { throw fleetban::common::UsageError("bad key 'x'"); }); });
  EXPECT_EQ(status, 2);
  EXPECT_EQ(err, "prog: bad key 'x'\n");
}

TEST(Program, AnyOtherErrorIsExitOne) {
  int status = -1;
  std::string err = stderr_of(
      [&] { status = run_program("prog", []() -> int { throw fleetban::common::RuntimeError("disk full"); }); });
  EXPECT_EQ(status, 1);
  EXPECT_EQ(err, "prog: disk full\n");
  status = -1;
  stderr_of([&] { status = run_program("prog", []() -> int { throw std::runtime_error("other"); }); });
  EXPECT_EQ(status, 1);
}

TEST(Program, EveryConfigKeyBecomesAFlagAndABadFlagIsExitTwo) {
  using fleetban::common::ConfigKey;
  using fleetban::common::ValueType;
  constexpr std::array table{ConfigKey{"timeout_ms", ValueType::integer, "500", "how long"},
                             ConfigKey{"enforce.backend", ValueType::string, "log", "which"}};
  CLI::App app("test");
  fleetban::common::ConfigFlags flags;
  fleetban::common::add_config_flags(app, table, flags);
  std::array<const char*, 5> argv{"prog", "--timeout-ms", "900", "--config", "/tmp/x.toml"};
  EXPECT_EQ(fleetban::common::parse_command_line(app, static_cast<int>(argv.size()), const_cast<char**>(argv.data())),
            std::nullopt);
  EXPECT_EQ(flags.config_file, "/tmp/x.toml");
  ASSERT_TRUE(flags.overrides.contains("timeout_ms"));
  EXPECT_EQ(flags.overrides.at("timeout_ms"), "900");

  CLI::App again("test");
  fleetban::common::ConfigFlags more;
  fleetban::common::add_config_flags(again, table, more);
  std::array<const char*, 3> bad{"prog", "--no-such-flag", "1"};
  int status = -1;
  stderr_of([&] {
    status = fleetban::common::parse_command_line(again, static_cast<int>(bad.size()), const_cast<char**>(bad.data()))
                 .value_or(-1);
  });
  EXPECT_EQ(status, 2);
}

}  // namespace
