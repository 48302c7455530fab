#include "subscriber/command.hpp"

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace {

using namespace fleetban::subscriber;
using namespace std::chrono_literals;
using Words = std::vector<std::string>;

Words words_of(std::string_view text) {
  auto command = CommandTemplate::parse(text);
  if (!command) {
    ADD_FAILURE() << "'" << text << "' did not parse: " << command.error();
    return {};
  }
  return command->words();
}

TEST(CommandTemplate, SplitsOnWhitespace) {
  EXPECT_EQ(words_of("fail2ban-client set fleetban banip <ip>"),
            (Words{"fail2ban-client", "set", "fleetban", "banip", "<ip>"}));
  EXPECT_EQ(words_of("  a \t b\nc  "), (Words{"a", "b", "c"}));
  EXPECT_TRUE(words_of("").empty());
  EXPECT_TRUE(words_of("   ").empty());
  EXPECT_TRUE(CommandTemplate::parse("  ")->empty());
}

TEST(CommandTemplate, QuotesKeepSpacesInOneWord) {
  EXPECT_EQ(words_of("echo 'a b' \"c d\""), (Words{"echo", "a b", "c d"}));
  EXPECT_EQ(words_of("x'a b'y"), (Words{"xa by"}));
  EXPECT_EQ(words_of("'' \"\""), (Words{"", ""}));  // empty quotes are empty words
  EXPECT_EQ(words_of("\"it's\" 'say \"hi\"'"), (Words{"it's", "say \"hi\""}));
}

TEST(CommandTemplate, BackslashEscapes) {
  EXPECT_EQ(words_of(R"(a\ b c)"), (Words{"a b", "c"}));
  EXPECT_EQ(words_of(R"(\'x\')"), (Words{"'x'"}));
  EXPECT_EQ(words_of(R"("a \"q\" \\ \n")"), (Words{R"(a "q" \ \n)"}));  // only \" and \\ inside "..."
  EXPECT_EQ(words_of(R"('a\b')"), (Words{R"(a\b)"}));                   // nothing inside '...'
}

TEST(CommandTemplate, UnbalancedQuoteFails) {
  EXPECT_FALSE(CommandTemplate::parse("echo 'abc"));
  EXPECT_FALSE(CommandTemplate::parse("echo \"abc"));
  EXPECT_FALSE(CommandTemplate::parse("echo \"a\\\""));
  EXPECT_FALSE(CommandTemplate::parse("echo abc\\"));
}

TEST(CommandTemplate, TagsAreReplacedInsideWords) {
  auto command = *CommandTemplate::parse("/usr/sbin/ban --ip=<ip> <bantime>s <jails>");
  Tags tags{{"ip", "192.0.2.7"}, {"bantime", "600"}, {"jails", "sshd,nginx"}};
  EXPECT_EQ(command.expand(tags), (Words{"/usr/sbin/ban", "--ip=192.0.2.7", "600s", "sshd,nginx"}));
  EXPECT_EQ(CommandTemplate::parse("x <ip><ip>")->expand(tags), (Words{"x", "192.0.2.7192.0.2.7"}));
}

TEST(CommandTemplate, UnknownTagsAndStrayBracketsAreLeftAlone) {
  Tags tags{{"ip", "192.0.2.7"}};
  EXPECT_EQ(CommandTemplate::parse("x <unknown> <ip")->expand(tags), (Words{"x", "<unknown>", "<ip"}));
  EXPECT_EQ(CommandTemplate::parse("a<<ip>> ip> <>")->expand(tags), (Words{"a<192.0.2.7>", "ip>", "<>"}));
}

TEST(CommandTemplate, ValueWithShellSyntaxStaysOneArgument) {
  auto command = *CommandTemplate::parse("/bin/ban <reporters> --why=<jails>");
  Tags tags{{"reporters", "a b; rm -rf / `x` $(y) | z > w"}, {"jails", "'q' \"r\""}};
  EXPECT_EQ(command.expand(tags), (Words{"/bin/ban", "a b; rm -rf / `x` $(y) | z > w", "--why='q' \"r\""}));
}

TEST(CommandTemplate, ReplacedValuesAreNotExpandedAgain) {
  Tags tags{{"ip", "<jails>"}, {"jails", "sshd"}};
  EXPECT_EQ(CommandTemplate::parse("<ip>")->expand(tags), Words{"<jails>"});
}

TEST(RunCommand, ReportsTheExitCode) {
  auto result = run_command({"/bin/sh", "-c", "exit 3"}, 5s);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_FALSE(result.timed_out);
  EXPECT_TRUE(result.error.empty());

  EXPECT_EQ(run_command({"/bin/sh", "-c", "exit 0"}, 5s).exit_code, 0);
}

TEST(RunCommand, FindsProgramsOnThePath) {
  auto result = run_command({"sh", "-c", "exit 4"}, 5s);
  EXPECT_EQ(result.exit_code, 4);
}

TEST(RunCommand, PassesArgumentsWithoutAShell) {
  auto result =
      run_command({"/bin/sh", "-c", "printf '%s|' \"$@\"", "sh", "a b", "$(echo no)", "*"}, 5s, CaptureOutput::yes);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output, "a b|$(echo no)|*|");
}

TEST(RunCommand, TimeoutKillsTheCommand) {
  auto started = std::chrono::steady_clock::now();
  auto result = run_command({"sleep", "5"}, 100ms);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_LT(took, 3s);
}

TEST(RunCommand, TimeoutKillsACommandWhoseOutputIsCaptured) {
  auto started = std::chrono::steady_clock::now();
  auto result = run_command({"/bin/sh", "-c", "echo started; exec sleep 5"}, 200ms, CaptureOutput::yes);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_LT(took, 3s);
}

TEST(RunCommand, MissingProgramReportsAnError) {
  auto result = run_command({"/nonexistent/fleetban-no-such-program", "x"}, 1s);
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_FALSE(result.timed_out);
  EXPECT_NE(result.error.find("fleetban-no-such-program"), std::string::npos) << result.error;

  auto on_path = run_command({"fleetban-no-such-program-on-path"}, 1s);
  EXPECT_EQ(on_path.exit_code, -1);
  EXPECT_FALSE(on_path.error.empty());
}

TEST(RunCommand, EmptyCommandReportsAnError) {
  auto result = run_command({}, 1s);
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_FALSE(result.error.empty());
}

TEST(RunCommand, CapturesStdoutWhenAsked) {
  auto result = run_command({"/bin/sh", "-c", "echo hello; echo world; echo oops >&2"}, 5s, CaptureOutput::yes);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output, "hello\nworld\n");
}

TEST(RunCommand, CapturesLargeOutputWhole) {
  auto result = run_command({"/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo 0123456789; i=$((i+1)); done"}, 10s,
                            CaptureOutput::yes);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output.size(), 20000u * 11u);
}

TEST(RunCommand, DoesNotCaptureByDefault) {
  fleetban::testing::TempDir dir;
  auto file = dir / "out";
  auto result = run_command({"/bin/sh", "-c", "echo hello > \"$1\"", "sh", file.string()}, 5s);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_TRUE(result.output.empty());
  EXPECT_EQ(fleetban::testing::read_text(file), "hello\n");
}

TEST(RunCommand, StdinIsEmpty) {
  auto result = run_command({"/bin/sh", "-c", "cat | wc -c"}, 5s, CaptureOutput::yes);
  EXPECT_EQ(result.exit_code, 0);
  std::string count = result.output;
  std::erase_if(count, [](char c) { return c == ' ' || c == '\t' || c == '\n'; });
  EXPECT_EQ(count, "0") << result.output;
}

TEST(RunCommand, KilledBySignalIsNotSuccess) {
  auto result = run_command({"/bin/sh", "-c", "kill -9 $$"}, 5s);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_FALSE(result.timed_out);
}

}  // namespace
