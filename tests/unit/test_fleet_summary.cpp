// The dashboard's summary: the ring of bans per hour and day, the bounded top counter, and the
// walk the loop makes a chunk a turn.

#include "aggregator/fleet_summary.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <future>
#include <string>

#include "aggregator/fleet_state.hpp"

namespace fleetban::aggregator {
namespace {

using namespace std::chrono_literals;

const common::UnixSeconds kNow = common::from_unix(1795650000);  // 2026-11-25 23:40:00 UTC

TEST(ActivityRing, CountsPerHourAndDayAndForgetsWhatFellOutOfTheWindow) {
  ActivityRing ring;
  ring.add(kNow, 2);
  ring.add(kNow - 30min, 1);  // 23:10, the same hour
  ring.add(kNow - 1h, 4);
  ring.add(kNow - 23h, 1);    // the oldest hour shown
  ring.add(kNow - 24h, 100);  // one hour too old: its bucket is reused
  ring.add(kNow - 29 * 24h, 7);
  auto hours = ring.hourly(kNow);
  EXPECT_EQ(hours[23], 3u);
  EXPECT_EQ(hours[22], 4u);
  EXPECT_EQ(hours[0], 1u);
  auto days = ring.daily(kNow);
  EXPECT_EQ(days[29], 8u) << "today";
  EXPECT_EQ(days[28], 100u) << "yesterday, 23:40";
  EXPECT_EQ(days[0], 7u);

  // A day later the old hours read as zero, though nothing was added since.
  auto later = ring.hourly(kNow + 24h);
  for (auto count : later) EXPECT_EQ(count, 0u);
  EXPECT_EQ(ring.daily(kNow + 24h)[28], 8u);
}

TEST(TopCounter, HeaviestFirstAndExactWhileSmall) {
  TopCounter counter;
  for (const char* name : {"sshd", "nginx", "sshd", "postfix", "sshd", "nginx"}) counter.add(name);
  auto top = counter.top(2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].name, "sshd");
  EXPECT_EQ(top[0].count, 3u);
  EXPECT_EQ(top[1].name, "nginx");
  EXPECT_FALSE(counter.approximate());
}

TEST(TopCounter, KeepsAHeavyNameAmongVeryManyLightOnesInBoundedMemory) {
  TopCounter counter;
  for (int i = 0; i < 100'000; ++i) {
    counter.add("light-" + std::to_string(i));
    if (i % 10 == 0) counter.add("heavy");
  }
  auto top = counter.top(1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].name, "heavy");
  EXPECT_TRUE(counter.approximate());
}

common::Event ban_event(const std::string& ip, const std::string& host, const std::string& jail) {
  common::Event e;
  e.id = common::random_event_id();
  e.prefix = *common::IpPrefix::parse(ip);
  e.jail = jail;
  e.host_id = host;
  e.bantime = 3600s;
  e.time = common::now_ms();
  e.created = e.time;
  return e;
}

TEST(SummaryKeeper, WalksTheStateWhenAskedAndCountsNewBansNotExtensions) {
  FleetState state{Policy{}};
  SummaryKeeper keeper;
  const auto now = common::now_seconds();
  keeper.step(state, nullptr, now);
  state.apply(ban_event("192.0.2.1", "web-01", "sshd"), now);
  state.apply(ban_event("192.0.2.1", "web-02", "sshd"), now);  // an extension: no new ban
  state.apply(ban_event("192.0.2.2", "web-02", "nginx"), now);
  state.apply(ban_event("2001:db8:1:2::5", "web-02", "sshd"), now);
  keeper.step(state, nullptr, now);  // nobody asked yet: no walk

  auto reader = std::async(std::launch::async, [&] { return keeper.latest(10s); });
  while (reader.wait_for(5ms) != std::future_status::ready) keeper.step(state, nullptr, now);
  auto summary = reader.get();
  ASSERT_NE(summary, nullptr);
  EXPECT_EQ(summary->active, 3u);
  EXPECT_EQ(summary->ended, 0u);
  ASSERT_FALSE(summary->jails.empty());
  EXPECT_EQ(summary->jails[0].name, "sshd");
  EXPECT_EQ(summary->jails[0].count, 2u);
  ASSERT_FALSE(summary->reporters.empty());
  EXPECT_EQ(summary->reporters[0].name, "web-02");
  EXPECT_EQ(summary->reporters[0].count, 3u);
  ASSERT_EQ(summary->networks_v4.size(), 1u);
  EXPECT_EQ(summary->networks_v4[0].name, "192.0.2.0/24");
  EXPECT_EQ(summary->networks_v4[0].count, 2u);
  ASSERT_EQ(summary->networks_v6.size(), 1u);
  EXPECT_EQ(summary->networks_v6[0].name, "2001:db8:1::/48");
  EXPECT_EQ(summary->activity.hourly(now)[ActivityRing::kHours - 1], 3u);
  EXPECT_EQ(state.bans_opened(), 3u);

  // Nothing changed: the same summary, at once.
  EXPECT_EQ(keeper.latest(0ms), summary);
}

TEST(SummaryKeeper, ALargeStateIsWalkedAChunkATurn) {
  FleetState state{Policy{}};
  const auto now = common::now_seconds();
  const int bans = static_cast<int>(SummaryKeeper::kSweepChunk) * 2 + 10;
  for (int i = 0; i < bans; ++i) {
    char ip[64];
    std::snprintf(ip, sizeof ip, "2001:db8::%x", i + 1);
    state.apply(ban_event(ip, "web-01", "sshd"), now);
  }
  SummaryKeeper keeper;
  EXPECT_EQ(keeper.latest(0ms), nullptr) << "marks it wanted";
  keeper.step(state, nullptr, now);
  EXPECT_EQ(keeper.latest(0ms), nullptr) << "one chunk walked";
  keeper.step(state, nullptr, now);
  EXPECT_EQ(keeper.latest(0ms), nullptr) << "two chunks walked";
  keeper.step(state, nullptr, now);
  auto summary = keeper.latest(0ms);
  ASSERT_NE(summary, nullptr);
  EXPECT_EQ(summary->active, static_cast<std::size_t>(bans));
}

}  // namespace
}  // namespace fleetban::aggregator
