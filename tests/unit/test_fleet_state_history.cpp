// The history rows FleetState hands out with its changes: one per report, refusal and decision
// change, and for each fleet ban the reason for its length (reported bantime, default, clamp,
// escalation step, permanent, min_reporters), decided where the length is.

#include <gtest/gtest.h>

#include "aggregator/fleet_state.hpp"
#include "printers.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::Event;
using fleetban::common::EventKind;
using fleetban::common::from_unix;
using fleetban::common::from_unix_ms;
using fleetban::common::HistoryEntry;
using fleetban::common::HistoryKind;
using fleetban::common::IpPrefix;
using std::chrono::seconds;

constexpr std::int64_t T = 1'795'650'000;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

Event report(const std::string& host, std::string_view ip, std::int64_t time, std::int64_t bantime,
             EventKind kind = EventKind::ban) {
  Event e;
  e.id = fleetban::common::random_event_id();
  e.kind = kind;
  e.prefix = p(ip);
  e.jail = "sshd";
  e.host_id = host;
  e.bantime = seconds(bantime);
  e.time = from_unix_ms(time * 1000);
  e.created = e.time;
  return e;
}

Policy policy(unsigned min_reporters) {
  Policy policy;
  policy.min_reporters = min_reporters;
  policy.report_window = seconds(3600);
  policy.default_bantime = seconds(1800);
  policy.max_bantime = seconds(86400);
  policy.escalation = 2.0;
  policy.allowlist = {p("198.51.100.0/24")};
  return policy;
}

std::vector<std::pair<IpPrefix, HistoryEntry>> taken(FleetState& state) {
  std::vector<std::pair<IpPrefix, HistoryEntry>> rows;
  state.take_history([&](const IpPrefix& prefix, const HistoryEntry& e) { rows.emplace_back(prefix, e); });
  return rows;
}

TEST(FleetStateHistory, AReportBelowMinReportersThenTheBanThatItMakes) {
  FleetState state(policy(2));
  state.apply(report("web-01", "192.0.2.7", T, 600), from_unix(T));
  state.apply(report("web-02", "192.0.2.7", T + 5, 3600), from_unix(T + 5));
  auto rows = taken(state);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].first, p("192.0.2.7"));
  EXPECT_EQ(rows[0].second, (HistoryEntry{from_unix(T), HistoryKind::ban, false, "web-01", "sshd",
                                          "reported (bantime 600 s): 1 of min_reporters 2"}));
  EXPECT_EQ(rows[1].second, (HistoryEntry{from_unix(T + 5), HistoryKind::ban, true, "web-02", "sshd",
                                          "3600 s: the bantime web-02 (sshd) reported; "
                                          "min_reporters 2 reached with 2 reporters"}));
  EXPECT_FALSE(state.has_history());
}

TEST(FleetStateHistory, TheLengthReasonNamesTheDefaultTheClampAndPermanent) {
  FleetState state(policy(1));
  state.apply(report("web-01", "192.0.2.1", T, 0), from_unix(T));
  state.apply(report("web-01", "192.0.2.2", T, 999'999), from_unix(T));
  state.apply(report("web-01", "192.0.2.3", T, -1), from_unix(T));
  auto rows = taken(state);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].second.reason, "1800 s: default_bantime (web-01 reported no bantime)");
  EXPECT_EQ(rows[1].second.reason, "86400 s: max_bantime (web-01 reported 999999 s)");
  EXPECT_EQ(rows[2].second.reason, "permanent: web-01 (sshd) reported a permanent ban");
}

TEST(FleetStateHistory, AnExpiryThenTheEscalatedBanOfARepeatOffender) {
  FleetState state(policy(1));
  state.apply(report("web-01", "192.0.2.7", T, 600), from_unix(T));
  state.expire(from_unix(T + 600));
  state.apply(report("web-01", "192.0.2.7", T + 700, 600), from_unix(T + 700));
  auto rows = taken(state);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].second,
            (HistoryEntry{from_unix(T + 600), HistoryKind::expired, true, "", "", "its 600 s were up"}));
  EXPECT_EQ(rows[2].second.reason, "1200 s: ban 2, escalation 2 x the last ban's 600 s");
  EXPECT_TRUE(rows[2].second.fleet);
}

TEST(FleetStateHistory, RefusalsHostUnbansExpiriesAndOperatorActions) {
  FleetState state(policy(1));
  state.apply(report("web-01", "198.51.100.7", T, 600), from_unix(T));
  state.apply(report("web-01", "192.0.2.7", T, 600), from_unix(T));
  state.apply(report("web-02", "192.0.2.7", T, 600), from_unix(T));  // covered already
  Event local_expiry = report("web-02", "192.0.2.7", T, 600, EventKind::unban);
  local_expiry.created = from_unix_ms((T + 600) * 1000);
  state.apply(local_expiry, from_unix(T + 1));
  Event lift = report("alice", "192.0.2.7", T + 2, 0, EventKind::unban);
  lift.operator_action = true;
  lift.jail = "manual";
  state.apply(lift, from_unix(T + 2));
  auto rows = taken(state);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].first, p("198.51.100.7"));
  EXPECT_EQ(rows[0].second.kind, HistoryKind::refused);
  EXPECT_EQ(rows[0].second.reason, "allowlisted (198.51.100.0/24)");
  EXPECT_EQ(rows[2].second.kind, HistoryKind::ban);
  EXPECT_TRUE(rows[2].second.fleet);  // web-02 credited
  EXPECT_EQ(rows[3].second, (HistoryEntry{from_unix(T + 1), HistoryKind::expired, false, "web-02", "sshd",
                                          "the host's 600 s ban ran out"}));
  EXPECT_EQ(rows[4].second,
            (HistoryEntry{from_unix(T + 2), HistoryKind::unban, true, "alice", "manual", "operator: lifted"}));
}

}  // namespace
