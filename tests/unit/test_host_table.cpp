// The host table: a row per admitted key (also never seen), events counted per hour for a day,
// subscriber reports turned into lag, stale and behind, and bounded by the admitted keys.

#include "aggregator/host_table.hpp"

#include <gtest/gtest.h>

namespace {

using namespace fleetban::aggregator;
using fleetban::common::from_unix;
using fleetban::common::HostEntry;
using fleetban::common::HostKind;
using fleetban::common::HostReport;
using fleetban::server::PeerIdentity;
using fleetban::server::PeerRole;

constexpr std::int64_t T = 1'795'650'000;  // a whole hour: 498'791 * 3600 + 2'400
const auto kNow = from_unix(T);
const std::string kIncarnation = "incarnation-1";

PeerIdentity key(PeerRole role, const std::string& name) { return {role, name, std::string(64, 'a')}; }

HostTable fleet_table() {
  HostTable table;
  table.set_incarnation(kIncarnation);
  table.set_admitted({key(PeerRole::host, "web-01"), key(PeerRole::host, "web-02"), key(PeerRole::operator_, "alice")});
  return table;
}

HostReport report(const std::string& host, std::uint64_t sequence) {
  return HostReport{.host_id = host,
                    .sequence = sequence,
                    .incarnation = kIncarnation,
                    .spool_bytes = 10,
                    .spool_max_bytes = 100,
                    .version = "0.1.0"};
}

HostEntry entry(const std::vector<HostEntry>& entries, const std::string& name) {
  for (const auto& e : entries) {
    if (e.name == name) return e;
  }
  throw std::runtime_error("no row for " + name);
}

TEST(HostTable, EveryAdmittedKeyHasARowWithNullsUntilSeen) {
  HostTable table = fleet_table();
  auto entries = table.entries(kNow);
  ASSERT_EQ(entries.size(), 3u);
  // By kind, then name.
  EXPECT_EQ(entries[0].name, "web-01");
  EXPECT_EQ(entries[1].name, "web-02");
  EXPECT_EQ(entries[2].name, "alice");
  EXPECT_EQ(entries[2].kind, HostKind::operator_);
  const HostEntry& web01 = entries[0];
  EXPECT_FALSE(web01.last_event_at);
  EXPECT_FALSE(web01.subscriber_seen_at);
  EXPECT_FALSE(web01.subscriber_sequence);
  EXPECT_FALSE(web01.lag);
  EXPECT_EQ(web01.events_24h, 0u);
  // A host whose subscriber never reported in is missing from the fleet; an operator has none.
  EXPECT_TRUE(web01.stale);
  EXPECT_FALSE(entries[2].stale);
}

TEST(HostTable, ACaughtUpSubscriberHasLagZeroAndIsNeitherStaleNorBehind) {
  HostTable table = fleet_table();
  EXPECT_FALSE(table.note_report(HostKind::host, report("web-01", 42), 42, kNow));
  const HostEntry e = entry(table.entries(kNow), "web-01");
  EXPECT_EQ(e.subscriber_seen_at, kNow);
  EXPECT_EQ(e.subscriber_sequence, 42u);
  EXPECT_EQ(e.lag, 0u);
  EXPECT_EQ(e.spool_bytes, 10u);
  EXPECT_EQ(e.spool_max_bytes, 100u);
  EXPECT_EQ(e.backend_error, "");
  EXPECT_EQ(e.version, "0.1.0");
  EXPECT_FALSE(e.stale);
  EXPECT_FALSE(e.behind);
}

TEST(HostTable, SilentForThirtySecondsIsStale) {
  HostTable table = fleet_table();
  table.note_report(HostKind::host, report("web-01", 1), 1, kNow);
  EXPECT_FALSE(entry(table.entries(kNow + HostTable::kStaleAfter), "web-01").stale);
  EXPECT_TRUE(entry(table.entries(kNow + HostTable::kStaleAfter + std::chrono::seconds(1)), "web-01").stale);
}

TEST(HostTable, BehindOnlyOnceEveryReportForTenSecondsShowedALag) {
  HostTable table = fleet_table();
  table.note_report(HostKind::host, report("web-01", 5), 8, kNow);
  EXPECT_EQ(entry(table.entries(kNow), "web-01").lag, 3u);
  EXPECT_FALSE(entry(table.entries(kNow), "web-01").behind);  // a burst in flight, so far
  table.note_report(HostKind::host, report("web-01", 7), 9, kNow + std::chrono::seconds(5));
  table.note_report(HostKind::host, report("web-01", 8), 10, kNow + std::chrono::seconds(10));
  EXPECT_TRUE(entry(table.entries(kNow + std::chrono::seconds(10)), "web-01").behind);
  // Caught up: no longer behind, and the next lag starts a new count.
  table.note_report(HostKind::host, report("web-01", 10), 10, kNow + std::chrono::seconds(15));
  table.note_report(HostKind::host, report("web-01", 10), 11, kNow + std::chrono::seconds(20));
  EXPECT_FALSE(entry(table.entries(kNow + std::chrono::seconds(20)), "web-01").behind);
}

TEST(HostTable, ASequenceAheadOfTheFleetIsRefused) {
  HostTable table = fleet_table();
  auto why = table.note_report(HostKind::host, report("web-01", 1'000'000), 42, kNow);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("ahead"), std::string::npos) << *why;
  EXPECT_FALSE(entry(table.entries(kNow), "web-01").subscriber_seen_at);
}

TEST(HostTable, ASubscriberOfAnotherIncarnationLagsByTheWholeSequence) {
  HostTable table = fleet_table();
  HostReport old = report("web-01", 900);
  old.incarnation = "before-the-new-database";
  EXPECT_FALSE(table.note_report(HostKind::host, old, 42, kNow));
  EXPECT_EQ(entry(table.entries(kNow), "web-01").lag, 42u);
}

TEST(HostTable, EventsAreCountedForTheLastDayOnly) {
  HostTable table = fleet_table();
  table.note_event(HostKind::host, "web-01", kNow);
  table.note_event(HostKind::host, "web-01", kNow + std::chrono::hours(2));
  table.note_event(HostKind::host, "web-01", kNow + std::chrono::hours(2));
  auto later = kNow + std::chrono::hours(2);
  EXPECT_EQ(entry(table.entries(later), "web-01").events_24h, 3u);
  EXPECT_EQ(entry(table.entries(later), "web-01").last_event_at, later);
  // A day after the first, it has left the window; a day after the last, all have.
  EXPECT_EQ(entry(table.entries(kNow + std::chrono::hours(25)), "web-01").events_24h, 2u);
  EXPECT_EQ(entry(table.entries(kNow + std::chrono::hours(27)), "web-01").events_24h, 0u);
  // A new event two days on starts from an empty day.
  table.note_event(HostKind::host, "web-01", kNow + std::chrono::hours(50));
  EXPECT_EQ(entry(table.entries(kNow + std::chrono::hours(50)), "web-01").events_24h, 1u);
  EXPECT_EQ(entry(table.entries(kNow), "web-02").events_24h, 0u);
}

TEST(HostTable, OnlyAdmittedKeysHaveRowsAndARemovedKeysRowGoesAtReload) {
  HostTable table = fleet_table();
  table.note_event(HostKind::host, "stranger", kNow);
  table.note_report(HostKind::host, report("stranger", 1), 1, kNow);
  // An operator's event is the operator's row, not a host's of the same name.
  table.note_event(HostKind::host, "alice", kNow);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_FALSE(entry(table.entries(kNow), "alice").last_event_at);
  table.note_event(HostKind::host, "web-02", kNow);
  table.set_admitted({key(PeerRole::host, "web-01"), key(PeerRole::host, "web-03")});
  auto entries = table.entries(kNow);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "web-01");
  EXPECT_EQ(entries[1].name, "web-03");
  std::vector<std::string> written;
  table.take_changed_events([&](const std::string& k, fleetban::common::UnixSeconds) { written.push_back(k); });
  EXPECT_TRUE(written.empty());  // web-02's change went with its row
}

TEST(HostTable, WithoutKeysRowsComeAsNamesDoUpToACap) {
  HostTable table;
  for (std::size_t i = 0; i < HostTable::kMaxUnlistedRows + 10; ++i) {
    table.note_event(HostKind::host, "host-" + std::to_string(i), kNow);
  }
  EXPECT_EQ(table.size(), HostTable::kMaxUnlistedRows);
}

TEST(HostTable, LastEventTimesAreWrittenOnceAndRestored) {
  HostTable table = fleet_table();
  table.note_event(HostKind::host, "web-01", kNow);
  table.note_event(HostKind::operator_, "alice", kNow + std::chrono::seconds(3));
  std::map<std::string, fleetban::common::UnixSeconds> written;
  table.take_changed_events([&](const std::string& k, fleetban::common::UnixSeconds at) { written[k] = at; });
  EXPECT_EQ(written, (std::map<std::string, fleetban::common::UnixSeconds>{
                         {"host:web-01", kNow}, {"operator:alice", kNow + std::chrono::seconds(3)}}));
  std::size_t again = 0;
  table.take_changed_events([&](const std::string&, fleetban::common::UnixSeconds) { ++again; });
  EXPECT_EQ(again, 0u);

  HostTable restarted = fleet_table();
  for (const auto& [k, at] : written) restarted.restore_last_event(k, at);
  restarted.restore_last_event("host:removed-since", kNow);
  restarted.restore_last_event("garbage", kNow);
  EXPECT_EQ(entry(restarted.entries(kNow), "web-01").last_event_at, kNow);
  EXPECT_EQ(entry(restarted.entries(kNow), "alice").last_event_at, kNow + std::chrono::seconds(3));
  EXPECT_EQ(restarted.size(), 3u);
}

}  // namespace
