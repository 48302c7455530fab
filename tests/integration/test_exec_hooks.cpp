// The exec backend's hooks run off the subscriber's follow loop: a flood of decisions whose
// ban_command takes seconds each must neither make the subscriber miss heartbeats (and re-snap,
// running every hook again) nor lose a hook. Real aggregator, subscriber and publisher processes.
#include "fleet.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

constexpr int kBans = 12;
// Longer than the subscriber's missed-heartbeat limit (3 heartbeats of 1 s): one such hook run on
// the follow loop is enough to make it reconnect and take a new snapshot.
constexpr int kHookSeconds = 4;

// Replaces the host's ban_command with one that sleeps kHookSeconds and then records the address.
void make_ban_hook_slow(const Host& host) {
  std::string toml = read_file(host.config);
  const auto line = toml.find("\nban_command");
  ASSERT_NE(line, std::string::npos) << toml;
  const auto end = toml.find('\n', line + 1);
  const std::string slow = "/bin/sh -c 'sleep " + std::to_string(kHookSeconds) + "; echo \"$1 $2\" >> " +
                           host.ban_log.string() + "' sh <ip> <expires>";
  toml.replace(line + 1, end - line - 1, "ban_command = " + toml_string(slow));
  write_file(host.config, toml);
}

TEST(ExecHooks, SlowHooksUnderAFloodMissNoHeartbeatAndAllRun) {
  TempDir dir;
  Fleet fleet(dir);
  const Host& host = fleet.add_host("web-01");
  make_ban_hook_slow(host);
  ASSERT_TRUE(fleet.start_aggregator(host));
  Process& subscriber = fleet.start_subscriber(host);
  ASSERT_TRUE(poll_until([&] { return subscriber.log().find("snapshot sequence=") != std::string::npos; },
                         deadline_in(kSoon), "the subscriber's first snapshot", [&] { return subscriber.log(); }));

  std::set<std::string> addresses;
  for (int i = 1; i <= kBans; ++i) {
    const std::string ip = "198.51.100." + std::to_string(i);
    addresses.insert(ip);
    const auto published = fleet.publish(host, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "3600"});
    ASSERT_EQ(published.exit_code, 0) << describe(published);
  }

  // Run one after the other on the follow loop, the hooks would take kBans x kHookSeconds.
  auto all_ran = [&] {
    std::set<std::string> ran;
    for (const auto& ip : recorded_addresses(host.ban_log)) ran.insert(ip);
    return ran == addresses;
  };
  EXPECT_TRUE(poll_until(all_ran, deadline_in(std::chrono::seconds(kBans * kHookSeconds * 4)),
                         "every ban hook to have run", [&] { return read_file(host.ban_log); }));
  // Each hook ran once: a re-snap would have run them all again.
  EXPECT_EQ(recorded_addresses(host.ban_log).size(), addresses.size()) << read_file(host.ban_log);
  const std::string log = subscriber.log();
  EXPECT_EQ(log.find("missed_heartbeats"), std::string::npos) << log;
  EXPECT_EQ(log.find("missed_updates"), std::string::npos) << log;
}

}  // namespace
}  // namespace fleetban::testing
