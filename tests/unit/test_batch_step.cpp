// The aggregator's batch step without sockets: requests go in as the bytes a client sends, with the
// sender a frame's metadata would name; the acks, queries, changes and new ids come out.

#include "aggregator/batch_step.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/codec.hpp"
#include "printers.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::Ack;
using fleetban::common::AckOutcome;
using fleetban::common::encode;
using fleetban::common::Event;
using fleetban::common::EventKind;
using fleetban::common::from_unix;
using fleetban::common::from_unix_ms;
using fleetban::common::IpPrefix;
using fleetban::common::Request;
using fleetban::server::PeerIdentity;
using fleetban::server::PeerRole;
using fleetban::server::Sender;

constexpr std::int64_t T = 1'795'650'000;
const auto kNow = from_unix(T);
const std::string kKey(64, 'a');

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

Event ban(const std::string& host, std::string_view ip) {
  Event e;
  e.id = fleetban::common::random_event_id();
  e.kind = EventKind::ban;
  e.prefix = p(ip);
  e.jail = "sshd";
  e.host_id = host;
  e.bantime = std::chrono::seconds(600);
  e.time = from_unix_ms(T * 1000);
  e.created = e.time;
  return e;
}

Sender host(const std::string& name, std::optional<std::string_view> address = std::nullopt) {
  Sender s{PeerIdentity{PeerRole::host, name, kKey}, std::nullopt};
  if (address) s.address = p(*address);
  return s;
}

Sender operator_key(const std::string& name) { return Sender{PeerIdentity{PeerRole::operator_, name, kKey}, {}}; }

// One aggregator's parts around a BatchStep, CURVE on: the keys of `admitted` names are admitted
// (alice as an operator, relay-eu1 as a relay, the others as hosts).
struct Subject {
  FleetState state{Policy{}};
  EventIdSet seen;
  Metrics metrics;
  std::set<std::string> admitted{"web-01", "web-02", "alice", "relay-eu1"};
  fleetban::server::Admission admission{
      false, [this](const PeerIdentity& peer) { return admitted.contains(peer.name); }, 1000,
      [this](PeerRole role, const std::string& name) { return admitted.contains(name) && role == role_of(name); }};
  static PeerRole role_of(const std::string& name) {
    if (name == "alice") return PeerRole::operator_;
    return name == "relay-eu1" ? PeerRole::relay : PeerRole::host;
  }
  BatchStep step{state, seen, admission, metrics};

  Batch send(const Event& event, const Sender& sender) {
    step.take(7, encode(Request{event}), sender);
    return step.finish(kNow);
  }
  std::uint64_t rejected(RejectReason reason) const {
    return metrics.rejected[static_cast<std::size_t>(reason)].load();
  }
};

TEST(BatchStep, AppliedEventIsAckedOnItsRouteAndItsDecisionAndIdComeOut) {
  Subject s;
  Event e = ban("web-01", "192.0.2.7");
  Batch batch = s.send(e, host("web-01"));
  ASSERT_EQ(batch.acks.size(), 1u);
  EXPECT_EQ(batch.acks[0].route, 7u);
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::applied);
  EXPECT_EQ(batch.acks[0].ack.event_id, e.id);
  ASSERT_EQ(batch.changes.size(), 1u);
  EXPECT_EQ(batch.changes[0].prefix, p("192.0.2.7"));
  EXPECT_TRUE(batch.changes[0].active);
  EXPECT_EQ(batch.new_ids, std::vector{e.id});
  EXPECT_EQ(s.step.reporters(), 1u);
}

TEST(BatchStep, SameEventAgainIsADuplicateWithNoChange) {
  Subject s;
  Event e = ban("web-01", "192.0.2.7");
  s.send(e, host("web-01"));
  Batch again = s.send(e, host("web-01"));
  ASSERT_EQ(again.acks.size(), 1u);
  EXPECT_EQ(again.acks[0].ack.outcome, AckOutcome::duplicate);
  EXPECT_TRUE(again.changes.empty());
  EXPECT_TRUE(again.new_ids.empty());
}

TEST(BatchStep, AHostKeySpeaksOnlyForItself) {
  Subject s;
  Batch batch = s.send(ban("web-02", "192.0.2.7"), host("web-01"));
  ASSERT_EQ(batch.acks.size(), 1u);
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::refused);
  EXPECT_NE(batch.acks[0].ack.reason.find("does not match key web-01"), std::string::npos);
  EXPECT_TRUE(batch.changes.empty());
  EXPECT_EQ(s.rejected(RejectReason::identity), 1u);
}

TEST(BatchStep, ARemovedKeyIsRefusedOnItsOldConnection) {
  Subject s;
  s.admitted.erase("web-01");
  Batch batch = s.send(ban("web-01", "192.0.2.7"), host("web-01"));
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::refused);
  EXPECT_NE(batch.acks[0].ack.reason.find("no longer authorized"), std::string::npos);
}

TEST(BatchStep, NoIdentityIsRefusedWhenKeysAreChecked) {
  Subject s;
  Batch batch = s.send(ban("web-01", "192.0.2.7"), Sender{});
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::refused);
  EXPECT_EQ(batch.acks[0].ack.reason, "unauthenticated");
}

TEST(BatchStep, AnOperatorsEventIsAnOperatorActionUnderItsKeysName) {
  Subject s;
  Event e = ban("whatever-it-says", "192.0.2.7");
  Batch batch = s.send(e, operator_key("alice"));
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::applied);
  ASSERT_EQ(batch.changes.size(), 1u);
  EXPECT_EQ(batch.changes[0].reporters, std::vector<std::string>{"alice"});
}

TEST(BatchStep, AHostClaimingAnOperatorActionIsRefused) {
  Subject s;
  Event e = ban("web-01", "192.0.2.7");
  e.operator_action = true;
  Batch batch = s.send(e, host("web-01"));
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::refused);
  EXPECT_EQ(s.rejected(RejectReason::not_operator), 1u);
}

TEST(BatchStep, AReporterOverItsRateIsThrottledAndNotRemembered) {
  Subject s;
  s.admission.set_event_rate(2);
  std::vector<Event> events{ban("web-01", "192.0.2.1"), ban("web-01", "192.0.2.2"), ban("web-01", "192.0.2.3")};
  for (std::size_t i = 0; i < events.size(); ++i) s.step.take(i, encode(Request{events[i]}), host("web-01"));
  Batch batch = s.step.finish(kNow);
  ASSERT_EQ(batch.acks.size(), 3u);
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::applied);
  EXPECT_EQ(batch.acks[1].ack.outcome, AckOutcome::applied);
  EXPECT_EQ(batch.acks[2].ack.outcome, AckOutcome::throttled);
  EXPECT_EQ(batch.acks[2].route, 2u);
  EXPECT_EQ(batch.new_ids.size(), 2u);  // the throttled one is retried later, not a duplicate then
}

TEST(BatchStep, UndecodableBytesAreCountedAndGetNoAck) {
  Subject s;
  s.step.take(1, "\xff\xff not protobuf", host("web-01"));
  Batch batch = s.step.finish(kNow);
  EXPECT_TRUE(batch.acks.empty());
  EXPECT_EQ(s.rejected(RejectReason::malformed), 1u);
}

TEST(BatchStep, AnInvalidEventIsRefusedByItsIdSoItsClientStopsResending) {
  Subject s;
  Event e = ban("web-01", "192.0.2.7");
  e.time = from_unix_ms(100'000);  // 1970: the codec refuses it
  s.step.take(3, encode(Request{e}), host("web-01"));
  Batch batch = s.step.finish(kNow);
  ASSERT_EQ(batch.acks.size(), 1u);
  EXPECT_EQ(batch.acks[0].route, 3u);
  EXPECT_EQ(batch.acks[0].ack.event_id, e.id);
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::refused);
  EXPECT_FALSE(s.seen.contains(e.id));
}

TEST(BatchStep, PolicyRefusalIsNotRememberedAsApplied) {
  Subject s;
  Event e = ban("web-01", "127.0.0.1");  // loopback: never banned
  Batch batch = s.send(e, host("web-01"));
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::refused);
  EXPECT_EQ(s.rejected(RejectReason::own_link), 1u);
  EXPECT_FALSE(s.seen.contains(e.id));
  EXPECT_TRUE(batch.new_ids.empty());
}

TEST(BatchStep, QueriesComeOutInOrderWithTheirRoutes) {
  Subject s;
  s.step.take(4, encode(Request{fleetban::common::SnapshotRequest{"r1", "receipt"}}), host("web-01"));
  s.step.take(5, encode(Request{fleetban::common::StatusRequest{"r2"}}), host("web-02"));
  Batch batch = s.step.finish(kNow);
  ASSERT_EQ(batch.queries.size(), 2u);
  EXPECT_EQ(batch.queries[0].route, 4u);
  auto* snapshot = std::get_if<fleetban::common::SnapshotRequest>(&batch.queries[0].request);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->receipt, "receipt");
  EXPECT_EQ(batch.queries[1].route, 5u);
  EXPECT_TRUE(std::holds_alternative<fleetban::common::StatusRequest>(batch.queries[1].request));
}

TEST(BatchStep, AQueryFromARemovedKeyIsDropped) {
  Subject s;
  s.admitted.erase("web-02");
  s.step.take(1, encode(Request{fleetban::common::StatusRequest{"r"}}), host("web-02"));
  EXPECT_TRUE(s.step.finish(kNow).queries.empty());
  EXPECT_EQ(s.rejected(RejectReason::identity), 1u);
}

TEST(BatchStep, AKeyGetsItsShareOfQueriesAndNoMore) {
  Subject s;
  const unsigned share = fleetban::server::Admission::kQueriesPerKeyPerSecond;
  for (unsigned i = 0; i < share + 5; ++i) {
    s.step.take(i, encode(Request{fleetban::common::StatusRequest{"r"}}), host("web-01"));
  }
  s.step.take(999, encode(Request{fleetban::common::StatusRequest{"other"}}),
              Sender{PeerIdentity{PeerRole::host, "web-02", std::string(64, 'b')}, {}});
  Batch batch = s.step.finish(kNow);
  EXPECT_EQ(batch.queries.size(), share + 1);  // web-01's share, and web-02 is not held up by it
  EXPECT_EQ(batch.queries.back().route, 999u);
  EXPECT_EQ(s.rejected(RejectReason::rate_limited), 5u);
}

// A snapshot costs a host's key the bans it would walk (Admission::kSnapshotDecisionsPerKeyPerSecond):
// with 150,000 active, its second request in the same second is dropped; an operator's are not.
TEST(BatchStep, ASnapshotCostsAHostKeyTheBansItWouldWalk) {
  Subject s;
  for (int i = 0; i < 150'000; ++i)
    s.state.apply(ban("web-02", fmt::format("2001:db8::{:x}:{:x}", i >> 16, i & 0xffff)), kNow);
  ASSERT_EQ(s.state.active_count(), 150'000u);
  s.step.take(1, encode(Request{fleetban::common::SnapshotRequest{"r1", ""}}), host("web-01"));
  s.step.take(2, encode(Request{fleetban::common::SnapshotRequest{"r2", ""}}), host("web-01"));
  s.step.take(3, encode(Request{fleetban::common::SnapshotRequest{"r3", ""}}), operator_key("alice"));
  s.step.take(4, encode(Request{fleetban::common::SnapshotRequest{"r4", ""}}), operator_key("alice"));
  Batch batch = s.step.finish(kNow);
  std::vector<Route> routes;
  for (const auto& query : batch.queries) routes.push_back(query.route);
  EXPECT_EQ(routes, (std::vector<Route>{1, 3, 4}));
  EXPECT_EQ(s.rejected(RejectReason::rate_limited), 1u);
}

TEST(BatchStep, AMembersAddressIsNeverBanned) {
  Subject s;
  s.send(ban("web-01", "192.0.2.1"), host("web-01", "198.51.100.20"));
  Batch batch = s.send(ban("web-02", "198.51.100.20"), host("web-02"));
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::refused);
  EXPECT_TRUE(batch.changes.empty());
  EXPECT_EQ(s.rejected(RejectReason::own_link), 1u);
}

TEST(BatchStep, EndedDecisionsGoFirstInTheNextBatch) {
  Subject s;
  fleetban::common::Decision ended;
  ended.sequence = 41;
  ended.prefix = p("192.0.2.9");
  s.step.add_ended({ended});
  Batch batch = s.send(ban("web-01", "192.0.2.7"), host("web-01"));
  ASSERT_EQ(batch.changes.size(), 2u);
  EXPECT_EQ(batch.changes[0].prefix, p("192.0.2.9"));
  EXPECT_EQ(batch.changes[1].prefix, p("192.0.2.7"));
}

TEST(BatchStep, ExpiredBansEndInTheBatchThatPassesTheirTime) {
  Subject s;
  s.send(ban("web-01", "192.0.2.7"), host("web-01"));
  Batch later = s.step.finish(kNow + std::chrono::seconds(600));
  ASSERT_EQ(later.changes.size(), 1u);
  EXPECT_FALSE(later.changes[0].active);
}

TEST(BatchStep, WithoutCurveEveryEventIsTakenAsItsMessageSays) {
  Subject s;
  fleetban::server::Admission insecure{true, [](const PeerIdentity&) { return false; }, 1000};
  BatchStep step{s.state, s.seen, insecure, s.metrics};
  step.take(1, encode(Request{ban("web-09", "192.0.2.7")}), Sender{});
  Batch batch = step.finish(kNow);
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::applied);
  EXPECT_EQ(batch.changes[0].reporters, std::vector<std::string>{"web-09"});
}

TEST(BatchStep, ARelaysEventsAndReportsCountForTheNamesItVouchesForAndOnlyThose) {
  Subject s;
  HostTable hosts;
  hosts.set_admitted({{PeerRole::host, "web-01", kKey}, {PeerRole::relay, "relay-eu1", kKey}});
  BatchStep step{s.state, s.seen, s.admission, s.metrics, &hosts};
  Sender relay{PeerIdentity{PeerRole::relay, "relay-eu1", kKey}, std::nullopt};
  step.take(7, encode(Request{ban("web-01", "192.0.2.7")}), relay);
  step.take(8, encode(Request{ban("web-99", "192.0.2.8")}), relay);
  fleetban::common::HostReport report;
  report.host_id = "web-01";
  step.take(9, encode(Request{report}), relay);
  Batch batch = step.finish(kNow);

  ASSERT_EQ(batch.acks.size(), 2u);
  EXPECT_EQ(batch.acks[0].ack.outcome, AckOutcome::applied);
  EXPECT_EQ(batch.acks[1].ack.outcome, AckOutcome::refused);
  EXPECT_NE(batch.acks[1].ack.reason.find("may not vouch for host web-99"), std::string::npos)
      << batch.acks[1].ack.reason;
  ASSERT_EQ(batch.changes.size(), 1u);
  EXPECT_EQ(batch.changes[0].reporters, std::vector<std::string>{"web-01"});
  EXPECT_EQ(s.rejected(RejectReason::identity), 1u);
  // The host's row has its event and its subscriber's report; the relay's row neither.
  for (const auto& entry : hosts.entries(kNow)) {
    bool is_host = entry.name == "web-01";
    EXPECT_EQ(entry.last_event_at.has_value(), is_host) << entry.name;
    EXPECT_EQ(entry.subscriber_seen_at.has_value(), is_host) << entry.name;
  }
}

}  // namespace
