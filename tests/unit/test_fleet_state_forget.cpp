// FleetState forgetting ended records after forget_after, at exact instants, and what must stay
// right after a record is erased and its index reused (expiry heap, changes to write, restore).

#include <gtest/gtest.h>

#include "aggregator/fleet_state.hpp"
#include "printers.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::Decision;
using fleetban::common::Event;
using fleetban::common::EventKind;
using fleetban::common::from_unix;
using fleetban::common::from_unix_ms;
using fleetban::common::IpPrefix;
using fleetban::common::UnixSeconds;
using std::chrono::seconds;

constexpr std::int64_t T = 1'795'650'000;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }
UnixSeconds at(std::int64_t offset) { return from_unix(T + offset); }

Event ban(const std::string& host, std::string_view ip, std::int64_t offset, std::int64_t bantime) {
  Event e;
  e.id = fleetban::common::random_event_id();
  e.kind = EventKind::ban;
  e.prefix = p(ip);
  e.jail = "sshd";
  e.host_id = host;
  e.bantime = seconds(bantime);
  e.time = from_unix_ms((T + offset) * 1000);
  e.created = e.time;
  return e;
}

Event operator_unban(std::string_view ip, std::int64_t offset) {
  Event e = ban("ops", ip, offset, 0);
  e.kind = EventKind::unban;
  e.operator_action = true;
  return e;
}

Policy policy(unsigned min_reporters = 1) {
  Policy policy;
  policy.min_reporters = min_reporters;
  policy.report_window = seconds(3600);
  policy.default_bantime = seconds(1800);
  policy.max_bantime = seconds(86400);
  policy.escalation = 2.0;
  policy.forget_after = seconds(100);
  return policy;
}

std::vector<IpPrefix> forgotten(FleetState& state) {
  std::vector<IpPrefix> out;
  state.take_forgotten([&](const IpPrefix& prefix) { out.push_back(prefix); });
  return out;
}

TEST(FleetStateForget, AnEndedBanIsForgottenOnceForgetAfterHasPassed) {
  FleetState state(policy());
  ASSERT_TRUE(state.apply(ban("web-01", "192.0.2.7", 0, 60), at(0)).change);
  ASSERT_EQ(state.expire(at(60)).size(), 1u);  // ended at T+60
  EXPECT_EQ(state.record_count(), 1u);
  EXPECT_EQ(state.forget(at(160)), 0u);  // exactly forget_after ago: still remembered
  EXPECT_TRUE(state.find(p("192.0.2.7")));
  EXPECT_EQ(state.forget(at(161)), 1u);
  EXPECT_FALSE(state.find(p("192.0.2.7")));
  EXPECT_EQ(state.record_count(), 0u);
  EXPECT_TRUE(state.has_changes());
  EXPECT_EQ(forgotten(state), (std::vector<IpPrefix>{p("192.0.2.7")}));
  EXPECT_TRUE(forgotten(state).empty());
}

TEST(FleetStateForget, AnActiveBanIsNeverForgotten) {
  FleetState state(policy());
  state.apply(ban("web-01", "192.0.2.7", 0, -1), at(0));  // permanent
  EXPECT_EQ(state.forget(at(10'000'000)), 0u);
  EXPECT_EQ(state.record_count(), 1u);
}

TEST(FleetStateForget, ForgetAfterCountsFromTheLastChange) {
  FleetState state(policy());
  state.apply(ban("web-01", "192.0.2.7", 0, 60), at(0));
  state.expire(at(60));
  // Banned again at T+120 (escalated to 120 s), ended at T+240.
  ASSERT_TRUE(state.apply(ban("web-01", "192.0.2.7", 120, 60), at(120)).change);
  EXPECT_EQ(state.forget(at(161)), 0u);
  ASSERT_EQ(state.expire(at(240)).size(), 1u);
  EXPECT_EQ(state.forget(at(340)), 0u);
  EXPECT_EQ(state.forget(at(341)), 1u);
}

TEST(FleetStateForget, AReportInsideReportWindowKeepsTheRecord) {
  FleetState state(policy(2));  // one host's report alone bans nothing
  state.apply(ban("web-01", "192.0.2.7", 0, 60), at(0));
  EXPECT_EQ(state.record_count(), 1u);
  EXPECT_EQ(state.forget(at(101)), 0u);   // forget_after passed, but the report still counts
  EXPECT_EQ(state.forget(at(3600)), 0u);  // its last second inside the window
  EXPECT_EQ(state.forget(at(3601)), 1u);
}

TEST(FleetStateForget, AForgottenAddressStartsOverAtItsFirstBan) {
  FleetState state(policy());
  state.apply(ban("web-01", "192.0.2.7", 0, 60), at(0));
  state.expire(at(60));
  state.forget(at(161));
  auto result = state.apply(ban("web-01", "192.0.2.7", 200, 60), at(200));
  ASSERT_TRUE(result.change);
  EXPECT_EQ(result.change->ban_count, 1u);
  EXPECT_EQ(result.change->expires_at, at(260));  // 60 s as reported, not escalated to 120 s
}

TEST(FleetStateForget, AStaleExpiryOfAForgottenRecordDoesNotEndTheBanThatReusedItsIndex) {
  FleetState state(policy());
  state.apply(ban("web-01", "192.0.2.7", 0, 600), at(0));  // its expiry (T+600) stays queued
  ASSERT_TRUE(state.apply(operator_unban("192.0.2.7", 10), at(10)).change);
  EXPECT_EQ(state.forget(at(111)), 1u);
  // The next record takes the erased index; its ban ends at T+1120.
  ASSERT_TRUE(state.apply(ban("web-02", "198.51.100.9", 120, 1000), at(120)).change);
  EXPECT_TRUE(state.expire(at(600)).empty());
  EXPECT_EQ(state.active_count(), 1u);
  EXPECT_EQ(state.next_expiry(), at(1120));
  auto ended = state.expire(at(1120));
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].prefix, p("198.51.100.9"));
}

TEST(FleetStateForget, ChangesOfAForgottenRecordAreNotWrittenBack) {
  FleetState state(policy());
  state.apply(ban("web-01", "192.0.2.7", 0, 60), at(0));
  state.expire(at(60));
  // Not taken yet: the record is both changed and forgotten before the next commit.
  state.forget(at(161));
  std::vector<IpPrefix> written;
  state.take_changes([&](const FleetRecord& r) { written.push_back(r.decision.prefix); });
  EXPECT_TRUE(written.empty());
  EXPECT_EQ(forgotten(state), (std::vector<IpPrefix>{p("192.0.2.7")}));
}

TEST(FleetStateForget, RestoredRecordsAreForgottenOnTime) {
  FleetRecord with_time;
  with_time.decision.prefix = p("192.0.2.7");
  with_time.decision.sequence = 4;
  with_time.decision.banned_at = at(0);
  with_time.decision.expires_at = at(60);
  with_time.decision.ban_count = 1;
  with_time.changed_at = at(30);  // lifted early, at T+30
  FleetRecord without_time = with_time;
  without_time.decision.prefix = p("192.0.2.8");
  without_time.changed_at = {};  // written before changed_at was kept: the ban's end counts
  FleetState state(policy());
  state.restore(with_time);
  state.restore(without_time);
  EXPECT_EQ(state.forget(at(130)), 0u);
  EXPECT_EQ(state.forget(at(131)), 1u);
  EXPECT_FALSE(state.find(p("192.0.2.7")));
  EXPECT_EQ(state.forget(at(160)), 0u);
  EXPECT_EQ(state.forget(at(161)), 1u);
  EXPECT_EQ(state.record_count(), 0u);
}

TEST(FleetStateForget, ChangedAtIsTheInstantOfTheLastChange) {
  FleetState state(policy());
  state.apply(ban("web-01", "192.0.2.7", 0, 60), at(5));
  EXPECT_EQ(state.find(p("192.0.2.7"))->changed_at, at(5));
  state.expire(at(65));
  EXPECT_EQ(state.find(p("192.0.2.7"))->changed_at, at(65));
}

TEST(FleetStateForget, OneCallForgetsAtMostItsLimit) {
  FleetState state(policy());
  for (int i = 1; i <= 5; ++i) state.apply(ban("web-01", "192.0.2." + std::to_string(i), 0, 60), at(0));
  state.expire(at(60));
  EXPECT_EQ(state.forget(at(161), 2), 2u);
  EXPECT_EQ(state.record_count(), 3u);
  EXPECT_EQ(state.forget(at(161), 10), 3u);
}

TEST(FleetStateForget, AFullTableRefusesTheEventAndTakesItOnceRecordsAreForgotten) {
  FleetState state(policy());
  state.set_record_limit(1);
  state.apply(ban("web-01", "192.0.2.7", 0, 60), at(0));
  ApplyResult full = state.apply(ban("web-01", "192.0.2.8", 1, 60), at(1));
  ASSERT_TRUE(full.refused);
  EXPECT_EQ(full.refused_because, RejectReason::state_full);
  EXPECT_FALSE(full.change);
  EXPECT_NE(full.refused->find("full"), std::string::npos) << *full.refused;
  // A report on an address the table holds needs no room.
  EXPECT_FALSE(state.apply(ban("web-02", "192.0.2.7", 2, 60), at(2)).refused);
  ASSERT_EQ(state.expire(at(100)).size(), 1u);
  EXPECT_EQ(state.forget(at(201)), 1u);
  EXPECT_TRUE(state.apply(ban("web-01", "192.0.2.8", 300, 60), at(300)).change);
}

}  // namespace
