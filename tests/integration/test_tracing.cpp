// Per-decision tracing (docs/ARCHITECTURE.md): at debug level the aggregator logs, per decision,
// when its loop turn received it, wrote its log lines, committed it and broadcast it, and every subscriber when it
// received it, handed it to its backend and had it applied. bench/ builds P2's tail breakdown on
// these lines, so this test keeps them from rotting: 1,000 decisions through 10 subscribers, every
// one traced through every stage. No timing is judged, only that each stage was logged in order.
#include "fleet.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

constexpr int kDecisions = 1000;
constexpr int kHosts = 10;
constexpr int kParallelPublishes = 4;

// The value of `key=` in a log line, or -1.
long long field(const std::string& line, const std::string& key) {
  auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return -1;
  return std::atoll(line.c_str() + at + key.size() + 2);
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> found;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(needle) != std::string::npos) found.push_back(line);
  }
  return found;
}

// The debug level reaches every program started from here on (they inherit the environment).
class Tracing : public ::testing::Test {
 protected:
  void SetUp() override { setenv("SPDLOG_LEVEL", "debug", 1); }
  void TearDown() override { unsetenv("SPDLOG_LEVEL"); }

  // Replaces the host's exec backend with the log backend: 10,000 shell forks would only slow the
  // test down, and the log backend's trace lines say as much.
  static void use_log_backend(const Host& host) {
    std::string toml = read_file(host.config);
    toml = toml.substr(0, toml.find("\n[enforce]\n")) + "\n[enforce]\nbackend = \"log\"\n";
    write_file(host.config, toml);
  }

  TempDir dir;
  Fleet fleet{dir};
};

TEST_F(Tracing, EveryDecisionIsTracedThroughEveryStage) {
  std::vector<const Host*> hosts;
  for (int i = 0; i < kHosts; ++i) {
    hosts.push_back(&fleet.add_host("host" + std::to_string(i)));
    use_log_backend(*hosts.back());
  }
  ASSERT_TRUE(fleet.start_aggregator(*hosts[0]));
  std::vector<Process*> subscribers;
  for (const Host* host : hosts) subscribers.push_back(&fleet.start_subscriber(*host));
  for (Process* subscriber : subscribers) {
    ASSERT_TRUE(poll_until([&] { return subscriber->log().find("snapshot sequence=") != std::string::npos; },
                           deadline_in(kSoon), "the subscriber's first snapshot",
                           [&] { return last_lines(subscriber->log(), 10); }));
  }

  // 1,000 bans from the 10 hosts in turn (each stays far below max_events_per_second), a few
  // publish processes at a time.
  std::set<std::string> published;
  std::vector<std::unique_ptr<Process>> running;
  auto reap = [&](std::size_t keep) {
    while (running.size() > keep) {
      auto code = running.front()->wait_for_exit(deadline_in(std::chrono::seconds(60)));
      ASSERT_EQ(code.value_or(-1), 0) << describe(running.front()->argv()) << "\n" << running.front()->log();
      running.erase(running.begin());
    }
  };
  for (int i = 0; i < kDecisions; ++i) {
    char ip[48];
    std::snprintf(ip, sizeof ip, "2001:db8:1::%x", i + 1);
    published.insert(ip);
    const Host& host = *hosts[static_cast<std::size_t>(i % kHosts)];
    running.push_back(std::make_unique<Process>(
        std::vector<std::string>{program("fleetban-publish"), "ban", "--ip", ip, "--jail", "sshd", "--bantime", "3600",
                                 "--config", host.config.string()},
        dir / "logs" / ("publish-" + std::to_string(i % kParallelPublishes) + ".log")));
    reap(kParallelPublishes - 1);
    if (HasFatalFailure()) return;
  }
  reap(0);
  if (HasFatalFailure()) return;

  // The aggregator: a decision line per published address, and a trace line for each decision.
  std::map<long long, std::string> ip_of;  // sequence -> ip
  ASSERT_TRUE(poll_until(
      [&] {
        ip_of.clear();
        for (const auto& line : lines_with(fleet.aggregator()->log(), " decision seq=")) {
          auto at = line.find(" ip=") + 4;
          ip_of[field(line, "seq")] = line.substr(at, line.find(' ', at) - at);
        }
        return ip_of.size() >= published.size();
      },
      deadline_in(kSoon), "a decision line for every ban",
      [&] { return std::to_string(ip_of.size()) + " decisions logged"; }));
  std::set<std::string> decided;
  for (const auto& [seq, ip] : ip_of) decided.insert(ip);
  EXPECT_EQ(decided, published);

  std::map<long long, long long> committed_at;
  ASSERT_TRUE(poll_until(
      [&] {
        committed_at.clear();
        for (const auto& line : lines_with(fleet.aggregator()->log(), " trace seq=")) {
          long long received = field(line, "received_us");
          long long logged = field(line, "logged_us");
          long long committed = field(line, "committed_us");
          long long broadcast = field(line, "broadcast_us");
          EXPECT_GT(received, 0) << line;
          EXPECT_LE(received, logged) << line;
          EXPECT_LE(logged, committed) << line;
          EXPECT_LE(committed, broadcast) << line;
          committed_at[field(line, "seq")] = committed;
        }
        return committed_at.size() >= ip_of.size();
      },
      deadline_in(kSoon), "an aggregator trace line for every decision"));
  for (const auto& [seq, ip] : ip_of) EXPECT_TRUE(committed_at.contains(seq)) << "no aggregator trace of seq=" << seq;

  // Every subscriber: a trace line per decision, received -> handed to the backend -> applied,
  // received no earlier than the aggregator's commit (CLOCK_REALTIME on both sides).
  for (Process* subscriber : subscribers) {
    std::map<long long, std::string> traced;
    ASSERT_TRUE(poll_until(
        [&] {
          traced.clear();
          for (const auto& line : lines_with(subscriber->log(), " trace seq=")) traced[field(line, "seq")] = line;
          return traced.size() >= ip_of.size();
        },
        deadline_in(kSoon), "a subscriber trace line for every decision",
        [&] { return std::to_string(traced.size()) + " traced; " + last_lines(subscriber->log(), 5); }));
    for (const auto& [seq, ip] : ip_of) {
      auto it = traced.find(seq);
      ASSERT_NE(it, traced.end()) << "seq=" << seq << " not traced by " << describe(subscriber->argv());
      const std::string& line = it->second;
      long long received = field(line, "received_us");
      long long handed = field(line, "handed_us");
      long long applied = field(line, "applied_us");
      EXPECT_GE(received, committed_at[seq]) << line;
      EXPECT_LE(received, handed) << line;
      EXPECT_LE(handed, applied) << line;
    }
    // The log backend's own line for each address, so "applied" means what it says.
    EXPECT_EQ(lines_with(subscriber->log(), "enforce_ban ip=").size(), published.size());
  }
}

}  // namespace
}  // namespace fleetban::testing
