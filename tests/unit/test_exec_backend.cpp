#include "subscriber/exec_backend.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "printers.hpp"
#include "temp_dir.hpp"

namespace {

using namespace fleetban::subscriber;
using fleetban::common::Decision;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using fleetban::subscriber::CommandTemplate;
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
  EXPECT_TRUE(backend.ban(decisions).empty());
  backend.wait_idle();
  EXPECT_TRUE(backend.take_failures().bans.empty());
  auto text = read_text(file);  // concurrent: in either order
  EXPECT_TRUE(text == "192.0.2.7\n2001:db8::5\n" || text == "2001:db8::5\n192.0.2.7\n") << text;
}

TEST(ExecBackend, BanCommandSeesEveryTag) {
  TempDir dir;
  auto file = dir / "bans";
  ExecBackend backend(command(append_to(file, "--ip=<ip> <bantime> <expires> <reporters> <jails>")), command(""));
  std::vector<Decision> decisions{decision("192.0.2.7", std::nullopt)};
  EXPECT_TRUE(backend.ban(decisions).empty());
  backend.wait_idle();
  EXPECT_EQ(read_text(file), "--ip=192.0.2.7 -1 never web-01,web-02 sshd,nginx\n");
}

TEST(ExecBackend, UnbanRunsTheCommandOncePerAddress) {
  TempDir dir;
  auto file = dir / "unbans";
  ExecBackend backend(command("/bin/true"), command(append_to(file, "unban <ip>")));
  std::vector<IpPrefix> prefixes{p("192.0.2.7"), p("198.51.100.0/24")};
  EXPECT_TRUE(backend.unban(prefixes).empty());
  backend.wait_idle();
  auto text = read_text(file);
  EXPECT_TRUE(text == "unban 192.0.2.7\nunban 198.51.100.0/24\n" || text == "unban 198.51.100.0/24\nunban 192.0.2.7\n")
      << text;
}

TEST(ExecBackend, NoUnbanCommandMeansNothingToRun) {
  ExecBackend backend(command("/bin/true"), command(""));
  std::vector<IpPrefix> prefixes{p("192.0.2.7")};
  EXPECT_TRUE(backend.unban(prefixes).empty());
  backend.wait_idle();
  EXPECT_TRUE(backend.take_failures().unbans.empty());
}

std::vector<IpPrefix> prefixes_of(std::vector<Decision> decisions) {
  std::vector<IpPrefix> prefixes;
  for (const auto& d : decisions) prefixes.push_back(d.prefix);
  std::sort(prefixes.begin(), prefixes.end());
  return prefixes;
}

TEST(ExecBackend, FailingBanCommandIsReportedAsFailedOnce) {
  ExecBackend backend(command("/bin/sh -c 'exit 1'"), command(""));
  std::vector<Decision> decisions{decision("192.0.2.7", T + 600), decision("192.0.2.8", std::nullopt)};
  EXPECT_TRUE(backend.ban(decisions).empty());  // queued
  backend.wait_idle();
  EXPECT_EQ(prefixes_of(backend.take_failures().bans), (std::vector{p("192.0.2.7"), p("192.0.2.8")}));
  EXPECT_TRUE(backend.take_failures().bans.empty());
}

TEST(ExecBackend, OnlyTheDecisionsThatFailedAreReported) {
  // Fails for one address only.
  ExecBackend backend(command("/bin/sh -c 'test \"$1\" != 192.0.2.8' sh <ip>"), command(""));
  std::vector<Decision> decisions{decision("192.0.2.7", T + 600), decision("192.0.2.8", T + 600),
                                  decision("192.0.2.9", T + 600)};
  EXPECT_TRUE(backend.ban(decisions).empty());
  backend.wait_idle();
  EXPECT_EQ(prefixes_of(backend.take_failures().bans), std::vector{p("192.0.2.8")});
}

TEST(ExecBackend, MissingProgramIsAFailure) {
  ExecBackend backend(command("/nonexistent/fleetban-on-ban <ip>"), command("/nonexistent/fleetban-on-unban <ip>"));
  std::vector<Decision> decisions{decision("192.0.2.7", T + 600)};
  EXPECT_TRUE(backend.ban(decisions).empty());
  std::vector<IpPrefix> prefixes{p("192.0.2.7")};
  EXPECT_TRUE(backend.unban(prefixes).empty());
  backend.wait_idle();
  auto failures = backend.take_failures();
  EXPECT_EQ(failures.bans.size(), 1u);
  EXPECT_EQ(failures.unbans, prefixes);
}

TEST(ExecBackend, FailingUnbanCommandIsReportedAsFailed) {
  ExecBackend backend(command("/bin/true"), command("/bin/false <ip>"));
  std::vector<IpPrefix> prefixes{p("192.0.2.7"), p("192.0.2.8")};
  EXPECT_TRUE(backend.unban(prefixes).empty());
  backend.wait_idle();
  auto failed = backend.take_failures().unbans;
  std::sort(failed.begin(), failed.end());
  EXPECT_EQ(failed, prefixes);
}

// A hook that writes "start KEY" and "end KEY" lines (appends of one short line are atomic) to
// `file`, sleeping `seconds` in between.
std::string logged_sleep(const std::filesystem::path& file, std::string_view seconds, std::string_view key) {
  return "/bin/sh -c 'echo start $1 >> \"" + file.string() + "\"; sleep " + std::string(seconds) +
         "; echo end $1 >> \"" + file.string() + "\"' sh " + std::string(key);
}

std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::vector<std::string> lines;
  std::istringstream in(read_text(file));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(ExecBackend, HooksOfOneAddressRunInOrderOneAtATime) {
  TempDir dir;
  auto file = dir / "hooks";
  ExecBackend backend(command(logged_sleep(file, "0.2", "ban-<ip>")), command(logged_sleep(file, "0", "unban-<ip>")));
  for (int round = 0; round < 3; ++round) {
    std::vector<Decision> bans{decision("192.0.2.7", T + 600), decision("192.0.2.8", T + 600)};
    ASSERT_TRUE(backend.ban(bans).empty());
    std::vector<IpPrefix> unbans{p("192.0.2.7"), p("192.0.2.8")};
    ASSERT_TRUE(backend.unban(unbans).empty());
  }
  backend.wait_idle();
  for (std::string ip : {"192.0.2.7", "192.0.2.8"}) {
    std::vector<std::string> of_ip;
    for (const auto& line : lines_of(file)) {
      if (line.ends_with("-" + ip)) of_ip.push_back(line);
    }
    std::vector<std::string> expected;
    for (int round = 0; round < 3; ++round) {
      for (std::string kind : {"ban-", "unban-"}) {
        expected.push_back("start " + kind + ip);
        expected.push_back("end " + kind + ip);
      }
    }
    EXPECT_EQ(of_ip, expected);
  }
}

TEST(ExecBackend, NoMoreThanTheConcurrencyRunAtOnce) {
  TempDir dir;
  auto file = dir / "hooks";
  ExecBackend backend(command(logged_sleep(file, "0.5", "<ip>")), command(""), {.concurrency = 3});
  std::vector<Decision> bans;
  for (int i = 1; i <= 12; ++i) bans.push_back(decision("192.0.2." + std::to_string(i), T + 600));
  ASSERT_TRUE(backend.ban(bans).empty());
  backend.wait_idle();
  int running = 0;
  int most = 0;
  auto lines = lines_of(file);
  ASSERT_EQ(lines.size(), 24u);
  for (const auto& line : lines) {
    running += line.starts_with("start ") ? 1 : -1;
    most = std::max(most, running);
  }
  EXPECT_LE(most, 3);
  EXPECT_GE(most, 2) << "the hooks ran one at a time";
}

TEST(ExecBackend, HangingHookDoesNotHoldUpTheOthers) {
  TempDir dir;
  auto file = dir / "hooks";
  auto release = dir / "release";
  // 192.0.2.1's hook hangs until the test releases it; the others return at once.
  auto hook = "/bin/sh -c 'if [ $1 = 192.0.2.1 ]; then while [ ! -e \"" + release.string() +
              "\" ]; do sleep 0.05; done; fi; echo $1 >> \"" + file.string() + "\"' sh <ip>";
  ExecBackend backend(command(hook), command(""), {.concurrency = 2});
  std::vector<Decision> bans;
  for (int i = 1; i <= 10; ++i) bans.push_back(decision("192.0.2." + std::to_string(i), T + 600));
  ASSERT_TRUE(backend.ban(bans).empty());  // returns with the first hook still hanging
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (lines_of(file).size() < 9 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto lines = lines_of(file);
  EXPECT_EQ(lines.size(), 9u);
  EXPECT_EQ(std::find(lines.begin(), lines.end(), "192.0.2.1"), lines.end());
  std::ofstream{release};
  backend.wait_idle();
  EXPECT_EQ(lines_of(file).size(), 10u);
}

TEST(ExecBackend, FullQueueRefusesWhatItCannotHoldForTheCallerToRetry) {
  TempDir dir;
  ExecBackend backend(command("/bin/sh -c 'sleep 0.5'"), command(""), {.concurrency = 1, .max_queued = 2});
  std::vector<Decision> bans;
  for (int i = 1; i <= 6; ++i) bans.push_back(decision("192.0.2." + std::to_string(i), T + 600));
  auto refused = backend.ban(bans);
  // One may have started already (leaving room for one more): 3 or 4 are refused, the last ones.
  ASSERT_GE(refused.size(), 3u);
  ASSERT_LE(refused.size(), 4u);
  EXPECT_EQ(refused.back().prefix, p("192.0.2.6"));
  backend.wait_idle();
  EXPECT_TRUE(backend.take_failures().bans.empty());
}

TEST(ExecBackend, ReportsNothingAboutWhatItEnforces) {
  ExecBackend backend(command("/bin/true"), command(""));
  EXPECT_FALSE(backend.enforced());
}

}  // namespace
