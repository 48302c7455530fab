#include "subscriber/exec_backend.hpp"

#include <gtest/gtest.h>

#include "printers.hpp"
#include "temp_dir.hpp"

namespace {

using namespace fleetban::subscriber;
using fleetban::common::CommandTemplate;
using fleetban::common::Decision;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using fleetban::testing::read_text;
using fleetban::testing::TempDir;

constexpr std::int64_t T = 1'795'650'000;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

Decision decision(std::string_view ip, std::optional<std::int64_t> expires_at) {
  Decision d;
  d.sequence = 3;
  d.prefix = p(ip);
  d.active = true;
  d.banned_at = from_unix(T);
  if (expires_at) d.expires_at = from_unix(*expires_at);
  d.reporters = {"web-01", "web-02"};
  d.jails = {"sshd", "nginx"};
  return d;
}

CommandTemplate command(std::string_view text) {
  auto parsed = CommandTemplate::parse(text);
  if (!parsed) throw std::runtime_error(parsed.error());
  return *parsed;
}

// A shell command that appends its arguments, as one line, to `file`.
std::string append_to(const std::filesystem::path& file, std::string_view tags) {
  return "/bin/sh -c 'echo \"$*\" >> \"" + file.string() + "\"' sh " + std::string(tags);
}

TEST(ExecBackend, TagsOfAPermanentDecision) {
  auto tags = ExecBackend::tags_for(decision("192.0.2.7", std::nullopt), from_unix(T + 10));
  EXPECT_EQ(tags.at("ip"), "192.0.2.7");
  EXPECT_EQ(tags.at("bantime"), "-1");
  EXPECT_EQ(tags.at("expires"), "never");
  EXPECT_EQ(tags.at("reporters"), "web-01,web-02");
  EXPECT_EQ(tags.at("jails"), "sshd,nginx");
}

TEST(ExecBackend, TagsOfATimedDecisionCountTheSecondsLeft) {
  auto tags = ExecBackend::tags_for(decision("2001:db8::/48", T + 600), from_unix(T + 100));
  EXPECT_EQ(tags.at("ip"), "2001:db8::/48");
  EXPECT_EQ(tags.at("bantime"), "500");
  EXPECT_EQ(tags.at("expires"), std::to_string(T + 600));
}

TEST(ExecBackend, TagsOfAnExpiredDecisionNeverGoNegative) {
  auto tags = ExecBackend::tags_for(decision("192.0.2.7", T + 600), from_unix(T + 700));
  EXPECT_EQ(tags.at("bantime"), "0");
}

TEST(ExecBackend, TagsOfASingleReporter) {
  Decision d = decision("192.0.2.7", T + 600);
  d.reporters = {"web-01"};
  d.jails = {"sshd"};
  auto tags = ExecBackend::tags_for(d, from_unix(T));
  EXPECT_EQ(tags.at("reporters"), "web-01");
  EXPECT_EQ(tags.at("jails"), "sshd");
}

TEST(ExecBackend, BanRunsTheCommandOncePerDecision) {
  TempDir dir;
  auto file = dir / "bans";
  ExecBackend backend(command(append_to(file, "<ip>")), command(""));
  std::vector<Decision> decisions{decision("192.0.2.7", std::nullopt), decision("2001:db8::5", std::nullopt)};
  auto failed = backend.ban(decisions);
  EXPECT_TRUE(failed.empty());
  EXPECT_EQ(read_text(file), "192.0.2.7\n2001:db8::5\n");
}

TEST(ExecBackend, BanCommandSeesEveryTag) {
  TempDir dir;
  auto file = dir / "bans";
  ExecBackend backend(command(append_to(file, "--ip=<ip> <bantime> <expires> <reporters> <jails>")), command(""));
  std::vector<Decision> decisions{decision("192.0.2.7", std::nullopt)};
  EXPECT_TRUE(backend.ban(decisions).empty());
  EXPECT_EQ(read_text(file), "--ip=192.0.2.7 -1 never web-01,web-02 sshd,nginx\n");
}

TEST(ExecBackend, UnbanRunsTheCommandOncePerAddress) {
  TempDir dir;
  auto file = dir / "unbans";
  ExecBackend backend(command("/bin/true"), command(append_to(file, "unban <ip>")));
  std::vector<IpPrefix> prefixes{p("192.0.2.7"), p("198.51.100.0/24")};
  EXPECT_TRUE(backend.unban(prefixes).empty());
  EXPECT_EQ(read_text(file), "unban 192.0.2.7\nunban 198.51.100.0/24\n");
}

TEST(ExecBackend, NoUnbanCommandMeansNothingToRun) {
  ExecBackend backend(command("/bin/true"), command(""));
  std::vector<IpPrefix> prefixes{p("192.0.2.7")};
  EXPECT_TRUE(backend.unban(prefixes).empty());
}

TEST(ExecBackend, FailingBanCommandIsReturnedAsFailed) {
  ExecBackend backend(command("/bin/sh -c 'exit 1'"), command(""));
  std::vector<Decision> decisions{decision("192.0.2.7", T + 600), decision("192.0.2.8", std::nullopt)};
  auto failed = backend.ban(decisions);
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].prefix, p("192.0.2.7"));
  EXPECT_EQ(failed[1].prefix, p("192.0.2.8"));
}

TEST(ExecBackend, OnlyTheDecisionsThatFailedAreReturned) {
  // Fails for one address only.
  ExecBackend backend(command("/bin/sh -c 'test \"$1\" != 192.0.2.8' sh <ip>"), command(""));
  std::vector<Decision> decisions{decision("192.0.2.7", T + 600), decision("192.0.2.8", T + 600),
                                  decision("192.0.2.9", T + 600)};
  auto failed = backend.ban(decisions);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].prefix, p("192.0.2.8"));
}

TEST(ExecBackend, MissingProgramIsAFailure) {
  ExecBackend backend(command("/nonexistent/fleetban-on-ban <ip>"), command("/nonexistent/fleetban-on-unban <ip>"));
  std::vector<Decision> decisions{decision("192.0.2.7", T + 600)};
  EXPECT_EQ(backend.ban(decisions).size(), 1u);
  std::vector<IpPrefix> prefixes{p("192.0.2.7")};
  EXPECT_EQ(backend.unban(prefixes), prefixes);
}

TEST(ExecBackend, FailingUnbanCommandIsReturnedAsFailed) {
  ExecBackend backend(command("/bin/true"), command("/bin/false <ip>"));
  std::vector<IpPrefix> prefixes{p("192.0.2.7"), p("192.0.2.8")};
  EXPECT_EQ(backend.unban(prefixes), prefixes);
}

TEST(ExecBackend, ReportsNothingAboutWhatItEnforces) {
  ExecBackend backend(command("/bin/true"), command(""));
  EXPECT_FALSE(backend.enforced());
}

}  // namespace
