// The batch step's part in reporting in: a report goes through Admission like a query (its key's
// name only, its key's rate), lands in the host table measured against the fleet's sequence, and
// every admitted event is counted for its key; a hosts request is answered after the batch.

#include <gtest/gtest.h>

#include "aggregator/batch_step.hpp"
#include "common/codec.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::encode;
using fleetban::common::HostEntry;
using fleetban::common::HostKind;
using fleetban::common::HostReport;
using fleetban::common::HostsRequest;
using fleetban::common::Request;
using fleetban::server::PeerIdentity;
using fleetban::server::PeerRole;
using fleetban::server::Sender;

const auto kNow = fleetban::common::now_seconds();

// Each name its own key (the rate limit counts by key).
Sender host(const std::string& name) {
  return Sender{PeerIdentity{PeerRole::host, name, std::string(64, name.back())}, {}};
}

struct Subject {
  FleetState state{Policy{}};
  EventIdSet seen;
  Metrics metrics;
  fleetban::server::Admission admission{false, [](const PeerIdentity&) { return true; }, 1000};
  HostTable hosts;
  BatchStep step{state, seen, admission, metrics, &hosts};

  Subject() {
    hosts.set_incarnation("inc");
    hosts.set_admitted({PeerIdentity{PeerRole::host, "web-01", std::string(64, 'a')},
                        PeerIdentity{PeerRole::host, "web-02", std::string(64, 'b')}});
  }
  void report(const Sender& sender, const std::string& host_id, std::uint64_t sequence = 0) {
    step.take(1, encode(Request{HostReport{.host_id = host_id, .sequence = sequence, .incarnation = "inc"}}), sender);
  }
  HostEntry row(const std::string& name) {
    for (auto& e : hosts.entries(kNow)) {
      if (e.name == name) return e;
    }
    throw std::runtime_error("no row " + name);
  }
  std::uint64_t rejected(RejectReason reason) const { return metrics.rejected[static_cast<std::size_t>(reason)]; }
};

TEST(BatchStepReports, AReportLandsInTheHostTableWithoutAReply) {
  Subject s;
  s.report(host("web-01"), "web-01");
  Batch batch = s.step.finish(kNow);
  EXPECT_TRUE(batch.acks.empty());
  EXPECT_TRUE(batch.queries.empty());
  EXPECT_EQ(s.row("web-01").lag, 0u);
  EXPECT_TRUE(s.row("web-01").subscriber_seen_at);
}

TEST(BatchStepReports, AHostCannotReportForAnotherName) {
  Subject s;
  s.report(host("web-01"), "web-02");
  s.step.finish(kNow);
  EXPECT_FALSE(s.row("web-02").subscriber_seen_at);
  EXPECT_FALSE(s.row("web-01").subscriber_seen_at);
  EXPECT_EQ(s.rejected(RejectReason::identity), 1u);
}

TEST(BatchStepReports, AReportAheadOfTheFleetIsRefused) {
  Subject s;
  s.report(host("web-01"), "web-01", 5);
  s.step.finish(kNow);
  EXPECT_FALSE(s.row("web-01").subscriber_seen_at);
  EXPECT_EQ(s.rejected(RejectReason::malformed), 1u);
}

TEST(BatchStepReports, AFloodOfReportsIsRateLimitedPerKey) {
  Subject s;
  for (int i = 0; i < 200; ++i) s.report(host("web-01"), "web-01");
  s.report(host("web-02"), "web-02");  // another key's share is its own
  s.step.finish(kNow);
  EXPECT_GE(s.rejected(RejectReason::rate_limited), 200u - 2 * fleetban::server::Admission::kQueriesPerKeyPerSecond);
  EXPECT_TRUE(s.row("web-02").subscriber_seen_at);
  EXPECT_EQ(s.hosts.size(), 2u);
}

TEST(BatchStepReports, AHostsRequestIsAQuery) {
  Subject s;
  s.step.take(3, encode(Request{HostsRequest{"q-1"}}), host("web-01"));
  Batch batch = s.step.finish(kNow);
  ASSERT_EQ(batch.queries.size(), 1u);
  EXPECT_EQ(std::get<HostsRequest>(batch.queries[0].request).request_id, "q-1");
}

}  // namespace
