// Admission alone: who may say what, and each key's share. (The batch step's tests cover it in
// the flow; these pin its rules one by one.)

#include "server/admission.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using fleetban::server::Admission;
using fleetban::server::PeerIdentity;
using fleetban::server::PeerRole;
using fleetban::server::RejectReason;
using fleetban::server::Sender;

const std::string kKeyA(64, 'a');
const std::string kKeyB(64, 'b');

Sender sender(PeerRole role, const std::string& name, const std::string& key = kKeyA) {
  return Sender{PeerIdentity{role, name, key}, std::nullopt};
}

fleetban::common::Event event_from(const std::string& host_id, bool operator_action = false) {
  fleetban::common::Event e;
  e.host_id = host_id;
  e.operator_action = operator_action;
  return e;
}

// Admits these keys; and, for what a relay may vouch for, the hosts web-01 and web-02 and the
// operator alice.
Admission admitting(std::vector<std::string> keys, unsigned events_per_second = 100) {
  return Admission(
      false, [keys](const PeerIdentity& peer) { return std::find(keys.begin(), keys.end(), peer.key) != keys.end(); },
      events_per_second,
      [](PeerRole role, const std::string& name) {
        return (role == PeerRole::host && (name == "web-01" || name == "web-02")) ||
               (role == PeerRole::operator_ && name == "alice");
      });
}

TEST(Admission, AHostSpeaksForItselfOnly) {
  auto admission = admitting({kKeyA});
  auto own = event_from("web-01");
  EXPECT_FALSE(admission.admit_event(sender(PeerRole::host, "web-01"), own));
  auto other = event_from("web-02");
  auto refusal = admission.admit_event(sender(PeerRole::host, "web-01"), other);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->reason, RejectReason::identity);
}

TEST(Admission, AnOperatorsEventBecomesAnOperatorActionUnderItsKeyName) {
  auto admission = admitting({kKeyA});
  auto e = event_from("pretending-to-be-web-01");
  EXPECT_FALSE(admission.admit_event(sender(PeerRole::operator_, "alice"), e));
  EXPECT_TRUE(e.operator_action);
  EXPECT_EQ(e.host_id, "alice");
}

TEST(Admission, OnlyAnOperatorKeyMayClaimAnOperatorAction) {
  auto admission = admitting({kKeyA});
  auto e = event_from("web-01", true);
  auto refusal = admission.admit_event(sender(PeerRole::host, "web-01"), e);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->reason, RejectReason::not_operator);
}

TEST(Admission, AKeyNoLongerAuthorizedIsRefusedForEventsAndQueries) {
  auto admission = admitting({kKeyB});
  auto e = event_from("web-01");
  auto refusal = admission.admit_event(sender(PeerRole::host, "web-01", kKeyA), e);
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->why.find("no longer authorized"), std::string::npos);
  EXPECT_TRUE(admission.admit_query(sender(PeerRole::host, "web-01", kKeyA)));
  EXPECT_FALSE(admission.admit_query(sender(PeerRole::host, "web-01", kKeyB)));
  EXPECT_TRUE(admission.admit_query(Sender{}));  // no identity at all
}

TEST(Admission, QuerySharesAreCountedPerKey) {
  auto admission = admitting({kKeyA, kKeyB});
  auto now = Admission::Clock::now();
  unsigned allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += admission.query_within_share(sender(PeerRole::host, "web-01"), now) ? 1 : 0;
  EXPECT_EQ(allowed, Admission::kQueriesPerKeyPerSecond);
  EXPECT_TRUE(admission.query_within_share(sender(PeerRole::host, "web-02", kKeyB), now));
  EXPECT_TRUE(admission.query_within_share(sender(PeerRole::host, "web-01"), now + std::chrono::seconds(1)));
}

TEST(Admission, EventSharesFollowTheRateAndItsReload) {
  auto admission = admitting({kKeyA}, 3);
  auto now = Admission::Clock::now();
  unsigned allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += admission.event_within_share("web-01", now) ? 1 : 0;
  EXPECT_EQ(allowed, 3u);
  admission.set_event_rate(10);
  EXPECT_TRUE(admission.event_within_share("web-01", now + std::chrono::seconds(1)));
}

TEST(Admission, ARelayVouchesForTheHostsAndOperatorsAdmittedHereUnderTheirRole) {
  auto admission = admitting({kKeyA});
  auto relay = sender(PeerRole::relay, "relay-eu1");
  auto host = event_from("web-02");
  EXPECT_FALSE(admission.admit_event(relay, host));
  EXPECT_EQ(host.host_id, "web-02");
  EXPECT_FALSE(host.operator_action);
  auto by_hand = event_from("alice", true);
  EXPECT_FALSE(admission.admit_event(relay, by_hand));
  EXPECT_TRUE(by_hand.operator_action);
  EXPECT_FALSE(admission.admit_report(relay, "web-01"));
}

TEST(Admission, ARelayCannotVouchForANameNotAdmittedHereOrUnderAnotherRole) {
  auto admission = admitting({kKeyA});
  auto relay = sender(PeerRole::relay, "relay-eu1");
  for (auto [name, operator_action] : std::vector<std::pair<std::string, bool>>{
           {"web-99", false},    // nobody here
           {"web-01", true},     // a host's name claiming an operator's action
           {"alice", false},     // an operator's name as a host
           {"relay-eu1", false}  // itself
       }) {
    auto e = event_from(name, operator_action);
    auto refusal = admission.admit_event(relay, e);
    ASSERT_TRUE(refusal) << name;
    EXPECT_EQ(refusal->reason, RejectReason::identity);
    EXPECT_NE(refusal->why.find("may not vouch for"), std::string::npos) << refusal->why;
  }
  EXPECT_TRUE(admission.admit_report(relay, "web-99"));
  EXPECT_TRUE(admission.admit_report(relay, "alice"));
  // A relay key removed since its connection was made vouches for nobody.
  auto removed = event_from("web-01");
  EXPECT_TRUE(admission.admit_event(sender(PeerRole::relay, "relay-eu1", kKeyB), removed));
}

TEST(Admission, OnlyARelayKeySpeaksForOthers) {
  auto admission = admitting({kKeyA});
  EXPECT_TRUE(admission.admit_report(sender(PeerRole::host, "web-01"), "web-02"));
  EXPECT_FALSE(admission.admit_report(sender(PeerRole::host, "web-01"), "web-01"));
  // Without a name check (the default), a relay vouches for nobody.
  Admission no_names(
      false, [](const PeerIdentity&) { return true; }, 100);
  auto e = event_from("web-01");
  EXPECT_TRUE(no_names.admit_event(sender(PeerRole::relay, "relay-eu1"), e));
}

TEST(Admission, ARelaysForwardedReportsCountPerHostTheyName) {
  auto admission = admitting({kKeyA});
  auto relay = sender(PeerRole::relay, "relay-eu1");
  auto now = Admission::Clock::now();
  unsigned web01 = 0;
  for (unsigned i = 0; i < 2 * Admission::kQueriesPerKeyPerSecond; ++i) {
    web01 += admission.query_within_share(relay, now, "web-01") ? 1 : 0;
  }
  EXPECT_EQ(web01, Admission::kQueriesPerKeyPerSecond);
  EXPECT_TRUE(admission.query_within_share(relay, now, "web-02"));
  EXPECT_TRUE(admission.query_within_share(relay, now));  // its own requests: its key's share
  // A name not admitted here gets no bucket of its own: it draws on the relay key's share.
  unsigned unknown = 0;
  for (unsigned i = 0; i < 2 * Admission::kQueriesPerKeyPerSecond; ++i) {
    unknown += admission.query_within_share(relay, now, "web-" + std::to_string(100 + i)) ? 1 : 0;
  }
  EXPECT_EQ(unknown, Admission::kQueriesPerKeyPerSecond - 1);
}

// The whole check the aggregator and a relay run on a query: a removed key first, then the share;
// a relay's forwarded report drawn from the share of the host it names; each refusal's log line.
TEST(Admission, AQueryIsAdmittedThenCountedAndEachRefusalSaysWhich) {
  using fleetban::common::HostReport;
  using fleetban::common::Request;
  using fleetban::common::StatusRequest;
  auto admission = admitting({kKeyA});
  auto now = Admission::Clock::now();
  auto removed = admission.admit_query(sender(PeerRole::host, "web-01", kKeyB), Request{StatusRequest{}}, now);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->reason, RejectReason::identity);
  EXPECT_EQ(query_log_line(*removed, sender(PeerRole::host, "web-01", kKeyB)),
            "query_refused reason=\"key no longer authorized\"");
  std::optional<fleetban::server::Refusal> over;
  for (unsigned i = 0; i <= Admission::kQueriesPerKeyPerSecond && !over; ++i) {
    over = admission.admit_query(sender(PeerRole::host, "web-01"), Request{StatusRequest{}}, now);
    EXPECT_EQ(over.has_value(), i == Admission::kQueriesPerKeyPerSecond) << i;
  }
  ASSERT_TRUE(over);
  EXPECT_EQ(over->reason, RejectReason::rate_limited);
  EXPECT_EQ(query_log_line(*over, sender(PeerRole::host, "web-01")),
            "query_dropped key=web-01 reason=\"over 20 queries and reports a second\"");
  // The relay's key shares kKeyA with web-01 here, whose share is spent: web-02's report still
  // passes on web-02's own share, and the relay's own query does not.
  auto relay = sender(PeerRole::relay, "relay-eu1");
  HostReport report;
  report.host_id = "web-02";
  EXPECT_FALSE(admission.admit_query(relay, Request{report}, now));
  EXPECT_TRUE(admission.admit_query(relay, Request{StatusRequest{}}, now));
}

// A snapshot walks the whole state on the loop's thread: a host's or relay's key pays for the
// decisions it walks, an operator's does not, and status requests keep their own share.
TEST(Admission, ASnapshotIsPaidForByTheDecisionsItWalksExceptAnOperators) {
  using fleetban::common::Request;
  using fleetban::common::SnapshotRequest;
  using fleetban::common::StatusRequest;
  using std::chrono::milliseconds;
  auto admission = admitting({kKeyA, kKeyB});
  const auto now = Admission::Clock::now();
  const std::size_t million = 1'000'000;
  // A full bucket holds one second's worth: the first snapshot leaves the rest of it in debt.
  const std::size_t rate = Admission::kSnapshotDecisionsPerKeyPerSecond;
  const auto repaid = milliseconds(1000 * (million - rate) / rate);
  auto host = sender(PeerRole::host, "web-01");
  EXPECT_FALSE(admission.admit_query(host, Request{SnapshotRequest{}}, now, million));
  auto again = admission.admit_query(host, Request{SnapshotRequest{}}, now + milliseconds(100), million);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->reason, RejectReason::rate_limited);
  EXPECT_EQ(query_log_line(*again, host),
            "query_dropped key=web-01 reason=\"over 100000 snapshot decisions a second\"");
  EXPECT_FALSE(admission.admit_query(host, Request{StatusRequest{}}, now + milliseconds(200), million));
  EXPECT_TRUE(admission.admit_query(host, Request{SnapshotRequest{}}, now + repaid - milliseconds(100), million));
  EXPECT_FALSE(admission.admit_query(host, Request{SnapshotRequest{}}, now + repaid + milliseconds(100), million));
  // Another key has its own share; so does a relay's.
  EXPECT_FALSE(
      admission.admit_query(sender(PeerRole::host, "web-02", kKeyB), Request{SnapshotRequest{}}, now, million));
  // Small states: the 20 queries a second are the bound.
  auto small = admitting({kKeyA});
  int served = 0;
  for (int i = 0; i < 25; ++i) served += small.admit_query(host, Request{SnapshotRequest{}}, now, 1000) ? 0 : 1;
  EXPECT_EQ(served, static_cast<int>(Admission::kQueriesPerKeyPerSecond));
  // An operator lists a million bans three times in a row.
  auto operators = admitting({kKeyA});
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(operators.admit_query(sender(PeerRole::operator_, "alice"), Request{SnapshotRequest{}},
                                       now + milliseconds(100 * i), million))
        << i;
  }
  // A relay's key pays too.
  auto relays = admitting({kKeyA});
  EXPECT_FALSE(relays.admit_query(sender(PeerRole::relay, "relay-eu1"), Request{SnapshotRequest{}}, now, million));
  EXPECT_TRUE(relays.admit_query(sender(PeerRole::relay, "relay-eu1"), Request{SnapshotRequest{}},
                                 now + milliseconds(100), million));
}

TEST(Admission, WithoutCurveNothingIsChecked) {
  Admission admission(
      true, [](const PeerIdentity&) { return false; }, 100);
  auto e = event_from("web-01", true);
  EXPECT_FALSE(admission.admit_event(Sender{}, e));
  EXPECT_FALSE(admission.admit_query(Sender{}));
  EXPECT_TRUE(admission.query_within_share(Sender{}, Admission::Clock::now()));
}

}  // namespace
