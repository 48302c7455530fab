// The history table (aggregator/history_store) and its reader (aggregator/history_reader), on a
// real SQLite file: rows written with the loop's transaction, read newest first with the decision
// beside them, and bounded by age, by the row cap (oldest first) and per address.

#include <gtest/gtest.h>

#include "aggregator/history_reader.hpp"
#include "aggregator/store.hpp"
#include "printers.hpp"
#include "temp_dir.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::from_unix;
using fleetban::common::HistoryEntry;
using fleetban::common::HistoryKind;
using fleetban::common::IpPrefix;
using fleetban::testing::TempDir;

constexpr std::int64_t T = 1'795'650'000;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

HistoryEntry row(std::int64_t at, std::string reason, HistoryKind kind = HistoryKind::ban) {
  return {from_unix(at), kind, false, "web-01", "sshd", std::move(reason)};
}

// Writes rows in one transaction, as the loop does.
void commit(Store& store, const std::vector<std::pair<IpPrefix, HistoryEntry>>& rows,
            fleetban::common::UnixSeconds prune_before = from_unix(0)) {
  store.begin();
  for (const auto& [prefix, entry] : rows) store.history().add(prefix, entry);
  store.history().prune(prune_before);
  store.commit();
}

std::vector<std::string> reasons(HistoryReader& reader, std::string_view ip) {
  auto read = reader.read(p(ip));
  EXPECT_TRUE(read) << read.error();
  std::vector<std::string> out;
  if (read) {
    for (const auto& e : read->entries) out.push_back(e.reason);
  }
  return out;
}

TEST(HistoryStore, RowsComeBackNewestFirstWithTheDecisionAndSurviveAReopen) {
  TempDir dir;
  {
    Store store(dir / "state.db");
    FleetRecord record;
    record.decision.prefix = p("192.0.2.7");
    record.decision.active = true;
    record.decision.banned_at = from_unix(T);
    record.decision.expires_at = from_unix(T + 600);
    record.decision.reporters = {"web-01"};
    record.decision.jails = {"sshd"};
    record.decision.ban_count = 3;
    store.begin();
    store.put(record);
    store.commit();
    // 20 rows: one multi-row INSERT and four single ones.
    std::vector<std::pair<IpPrefix, HistoryEntry>> rows;
    for (int i = 0; i < 20; ++i) rows.emplace_back(p("192.0.2.7"), row(T + i, "row " + std::to_string(i)));
    rows.emplace_back(p("2001:db8::/64"), row(T, "another address", HistoryKind::refused));
    commit(store, rows);
    EXPECT_EQ(store.history().rows(), 21u);
  }
  Store reopened(dir / "state.db");
  EXPECT_EQ(reopened.history().rows(), 21u);
  SqliteHistoryReader reader(dir / "state.db");
  auto read = reader.read(p("192.0.2.7"), 5);
  ASSERT_TRUE(read) << read.error();
  ASSERT_TRUE(read->decision);
  EXPECT_EQ(read->decision->expires_at, from_unix(T + 600));
  EXPECT_EQ(read->ban_count, 3u);
  EXPECT_EQ(read->total, 20u);
  ASSERT_EQ(read->entries.size(), 5u);
  EXPECT_EQ(read->entries[0], row(T + 19, "row 19"));
  EXPECT_EQ(read->entries[4].reason, "row 15");
  auto other = reader.read(p("2001:db8::/64"));
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->decision);
  ASSERT_EQ(other->entries.size(), 1u);
  EXPECT_EQ(other->entries[0].kind, HistoryKind::refused);
  EXPECT_EQ(reader.read(p("2001:db8::"))->entries.size(), 0u);  // exactly the prefix asked
}

TEST(HistoryStore, ARolledBackTransactionLeavesNoRows) {
  TempDir dir;
  Store store(dir / "state.db");
  store.begin();
  store.history().add(p("192.0.2.7"), row(T, "lost"));
  store.rollback();
  commit(store, {{p("192.0.2.7"), row(T + 1, "kept")}});
  SqliteHistoryReader reader(dir / "state.db");
  EXPECT_EQ(reasons(reader, "192.0.2.7"), std::vector<std::string>{"kept"});
  EXPECT_EQ(store.history().rows(), 1u);
}

TEST(HistoryStore, RowsOlderThanTheCutOffGo) {
  TempDir dir;
  Store store(dir / "state.db");
  commit(store, {{p("192.0.2.7"), row(T, "old")}, {p("192.0.2.8"), row(T + 10, "new")}});
  commit(store, {}, from_unix(T + 5));
  SqliteHistoryReader reader(dir / "state.db");
  EXPECT_TRUE(reasons(reader, "192.0.2.7").empty());
  EXPECT_EQ(reasons(reader, "192.0.2.8"), std::vector<std::string>{"new"});
  EXPECT_EQ(store.history().rows(), 1u);
}

TEST(HistoryStore, TheRowCapDropsTheOldestRowsFirst) {
  TempDir dir;
  Store store(dir / "state.db", 10);
  std::vector<std::pair<IpPrefix, HistoryEntry>> rows;
  for (int i = 0; i < 15; ++i) {
    rows.emplace_back(p("192.0.2." + std::to_string(i)), row(T + i, "row " + std::to_string(i)));
  }
  commit(store, rows);
  EXPECT_EQ(store.history().rows(), 10u);
  SqliteHistoryReader reader(dir / "state.db");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(reasons(reader, "192.0.2." + std::to_string(i)).empty()) << i;
  for (int i = 5; i < 15; ++i) EXPECT_EQ(reasons(reader, "192.0.2." + std::to_string(i)).size(), 1u) << i;
}

TEST(HistoryStore, AFloodedAddressKeepsItsNewestRowsAndTheOthersKeepTheirs) {
  TempDir dir;
  Store store(dir / "state.db");
  commit(store, {{p("192.0.2.1"), row(T, "the other address")}});
  for (int turn = 0; turn < 10; ++turn) {
    std::vector<std::pair<IpPrefix, HistoryEntry>> rows;
    for (int i = 0; i < 100; ++i)
      rows.emplace_back(p("192.0.2.2"), row(T + turn * 100 + i, std::to_string(turn * 100 + i)));
    commit(store, rows);
  }
  SqliteHistoryReader reader(dir / "state.db");
  auto flooded = reader.read(p("192.0.2.2"));
  ASSERT_TRUE(flooded);
  EXPECT_GE(flooded->total, HistoryTable::kRowsPerAddress);
  EXPECT_LT(flooded->total, HistoryTable::kRowsPerAddress + HistoryTable::kTrimEvery);
  EXPECT_EQ(flooded->entries.front().reason, "999");  // the newest stay
  EXPECT_EQ(reasons(reader, "192.0.2.1"), std::vector<std::string>{"the other address"});
  EXPECT_EQ(store.history().rows(), flooded->total + 1);
}

TEST(HistoryStore, ALongReasonIsCut) {
  TempDir dir;
  Store store(dir / "state.db");
  commit(store, {{p("192.0.2.7"), row(T, std::string(2000, 'x'))}});
  SqliteHistoryReader reader(dir / "state.db");
  auto read = reasons(reader, "192.0.2.7");
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].size(), fleetban::common::kMaxHistoryReasonBytes);
}

}  // namespace
