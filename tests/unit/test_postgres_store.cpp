// The aggregator's PostgreSQL store (aggregator/postgres_store) and its history reader, against a
// real PostgreSQL server started for each test (tests/postgres/postgres_server.hpp): the same
// contract as SQLite's Store (records, applied ids, sequence, incarnation, last events, history),
// rollback, reload, the fencing epoch, and the errors an operator sees.

#include "aggregator/postgres_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <set>
#include <stdexcept>

#include "aggregator/history_reader.hpp"
#include "aggregator/pg_connection.hpp"
#include "aggregator/postgres_history.hpp"
#include "common/errors.hpp"
#include "printers.hpp"
#include "require_postgres.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::EventId;
using fleetban::common::from_unix;
using fleetban::common::HistoryEntry;
using fleetban::common::HistoryKind;
using fleetban::common::IpPrefix;
using fleetban::common::RuntimeError;
using fleetban::testing::PostgresServer;
using std::chrono::seconds;

constexpr std::int64_t T = 1'795'650'000;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

EventId id(std::uint8_t fill) {
  EventId id{};
  id.fill(fill);
  return id;
}

FleetRecord record(std::string_view prefix, bool active, std::uint64_t sequence) {
  FleetRecord r;
  r.decision.sequence = sequence;
  r.decision.prefix = p(prefix);
  r.decision.active = active;
  r.decision.banned_at = from_unix(T);
  r.decision.expires_at = from_unix(T + 600);
  r.decision.reporters = {"web-01", "web-02"};
  r.decision.jails = {"sshd"};
  r.decision.ban_count = 2;
  r.decision.reason = "because";
  r.last_duration = seconds(600);
  if (!active) r.reports = {Report{"web-03", "nginx", from_unix(T + 5), seconds(-1)}};
  return r;
}

struct Loaded : StoredState {
  std::vector<FleetRecord> records;
  const FleetRecord* find(const IpPrefix& prefix) const {
    auto it =
        std::find_if(records.begin(), records.end(), [&](const FleetRecord& r) { return r.decision.prefix == prefix; });
    return it == records.end() ? nullptr : &*it;
  }
};

Loaded load(StateStore& store) {
  Loaded loaded;
  static_cast<StoredState&>(loaded) = store.load([&](const FleetRecord& r) { loaded.records.push_back(r); });
  return loaded;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FLEETBAN_REQUIRE_POSTGRES();
    server_ = std::make_unique<PostgresServer>();
  }
  std::string url() const { return server_->url(); }
  std::unique_ptr<PostgresServer> server_;
};

TEST_F(PostgresStoreTest, NewDatabaseIsEmptyWithAnIncarnationKeptOnReopen) {
  std::string incarnation;
  {
    PostgresStore store(url());
    Loaded state = load(store);
    EXPECT_EQ(state.sequence, 0u);
    EXPECT_TRUE(state.records.empty());
    EXPECT_TRUE(state.seen_events.empty());
    EXPECT_EQ(state.incarnation.size(), 16u);
    incarnation = state.incarnation;
  }
  PostgresStore again(url());
  EXPECT_EQ(load(again).incarnation, incarnation);
  // Another database is another state, with an incarnation of its own.
  server_->create_database("other");
  PostgresStore other(server_->url("other"));
  EXPECT_NE(load(other).incarnation, incarnation);
}

TEST_F(PostgresStoreTest, RecordsIdsSequenceAndLastEventsSurviveReopen) {
  {
    PostgresStore store(url());
    load(store);
    store.begin();
    store.put(record("192.0.2.7", true, 7));
    store.put(record("2001:db8::/64", false, 0));
    store.put(record("198.51.100.0/24", true, 5));
    store.erase(p("198.51.100.0/24"));  // put then erased in the same transaction: gone
    store.mark_seen(id(1), from_unix(T));
    store.mark_seen(id(2), from_unix(T + 1));
    store.mark_seen(id(3), from_unix(T + 1));
    store.put_last_event("host:web-01", from_unix(T + 2));
    store.set_sequence(7);
    store.commit();
  }
  PostgresStore store(url());
  Loaded state = load(store);
  EXPECT_EQ(state.sequence, 7u);
  ASSERT_EQ(state.records.size(), 2u);
  const FleetRecord* active = state.find(p("192.0.2.7"));
  ASSERT_NE(active, nullptr);
  EXPECT_TRUE(active->decision.active);
  EXPECT_EQ(active->decision.sequence, 7u);
  EXPECT_EQ(active->decision.reporters, (std::vector<std::string>{"web-01", "web-02"}));
  EXPECT_EQ(active->decision.expires_at, from_unix(T + 600));
  EXPECT_EQ(active->last_duration, seconds(600));
  const FleetRecord* pending = state.find(p("2001:db8::/64"));
  ASSERT_NE(pending, nullptr);
  EXPECT_FALSE(pending->decision.active);
  EXPECT_EQ(pending->reports, record("2001:db8::/64", false, 0).reports);
  EXPECT_EQ(state.find(p("198.51.100.0/24")), nullptr);
  EXPECT_EQ(state.seen_events, (std::vector<EventId>{id(1), id(2), id(3)}));
  ASSERT_EQ(state.last_events.count("host:web-01"), 1u);
  EXPECT_EQ(state.last_events.at("host:web-01"), from_unix(T + 2));
}

TEST_F(PostgresStoreTest, PutReplacesEraseDeletesAndManyRowsGoInOneCommit) {
  PostgresStore store(url());
  load(store);
  // Far more rows than a multi-row VALUES list could take in one statement (65,535 parameters).
  const std::size_t n = 40'017;
  store.begin();
  for (std::size_t i = 0; i < n; ++i) {
    store.put(record("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), true, i + 1));
    store.mark_seen(id(static_cast<std::uint8_t>(i)), from_unix(T + static_cast<std::int64_t>(i)));
  }
  store.set_sequence(n);
  store.commit();
  {
    // Read back through the load's cursor: each record once.
    PostgresStore reopened(url());
    Loaded all = load(reopened);
    ASSERT_EQ(all.records.size(), n);
    std::set<std::uint64_t> sequences;
    for (const auto& r : all.records) sequences.insert(r.decision.sequence);
    EXPECT_EQ(sequences.size(), n);
    EXPECT_EQ(*sequences.begin(), 1u);
    EXPECT_EQ(*sequences.rbegin(), n);
    EXPECT_EQ(all.seen_events.size(), 256u);
  }
  store.begin();
  store.put(record("10.0.0.0", false, 99'999));  // replaced
  for (std::size_t i = 1; i < n - 1; ++i)
    store.erase(p("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256)));
  store.commit();
  PostgresStore reopened(url());
  Loaded state = load(reopened);
  ASSERT_EQ(state.records.size(), 2u);
  ASSERT_NE(state.find(p("10.0.0.0")), nullptr);
  EXPECT_EQ(state.find(p("10.0.0.0"))->decision.sequence, 99'999u);
  EXPECT_FALSE(state.find(p("10.0.0.0"))->decision.active);
  EXPECT_EQ(state.seen_events.size(), 256u);  // ids repeat every 256: kept once each
  EXPECT_EQ(state.sequence, n);
}

TEST_F(PostgresStoreTest, RolledBackAndFailedCommitsLeaveNothing) {
  PostgresStore store(url());
  load(store);
  store.begin();
  store.put(record("192.0.2.7", true, 1));
  store.mark_seen(id(1), from_unix(T));
  store.set_sequence(1);
  store.rollback();
  // A commit the database refuses (the ids' table is gone) throws and leaves nothing behind.
  server_->query("ALTER TABLE seen_event_batches RENAME TO seen_elsewhere");
  store.begin();
  store.put(record("192.0.2.8", true, 2));
  store.mark_seen(id(2), from_unix(T));
  store.set_sequence(2);
  EXPECT_THROW(store.commit(), RuntimeError);
  server_->query("ALTER TABLE seen_elsewhere RENAME TO seen_event_batches");
  Loaded state = load(store);
  EXPECT_TRUE(state.records.empty());
  EXPECT_TRUE(state.seen_events.empty());
  EXPECT_EQ(state.sequence, 0u);
  // And the store carries on after it.
  store.begin();
  store.put(record("192.0.2.9", true, 3));
  store.set_sequence(3);
  store.commit();
  EXPECT_EQ(load(store).sequence, 3u);
}

TEST_F(PostgresStoreTest, TakeEventsBeforeReturnsAndDeletesOnlyOlderIds) {
  PostgresStore store(url());
  load(store);
  store.begin();
  store.mark_seen(id(1), from_unix(T));
  store.mark_seen(id(2), from_unix(T + 10));
  store.mark_seen(id(3), from_unix(T + 20));
  store.commit();
  store.begin();
  auto taken = store.take_events_before(from_unix(T + 15));
  store.commit();
  std::sort(taken.begin(), taken.end());
  EXPECT_EQ(taken, (std::vector<EventId>{id(1), id(2)}));
  EXPECT_EQ(load(store).seen_events, (std::vector<EventId>{id(3)}));
  store.forget_events_before(from_unix(T + 21));
  EXPECT_TRUE(load(store).seen_events.empty());
}

TEST_F(PostgresStoreTest, HistoryIsWrittenWithTheTurnReadNewestFirstAndCapped) {
  PostgresStore store(url(), /*history_row_cap=*/30);
  load(store);
  store.begin();
  store.put(record("192.0.2.7", true, 1));
  for (int i = 0; i < 25; ++i) {
    store.add_history(p("192.0.2.7"), HistoryEntry{from_unix(T + i), HistoryKind::ban, false, "web-01", "sshd",
                                                   "row " + std::to_string(i)});
  }
  // Bytes that are not UTF-8 in a name are kept as they came, never a failed commit.
  store.add_history(p("2001:db8::/64"),
                    HistoryEntry{from_unix(T), HistoryKind::refused, false, "web-\xff", "sshd", "x"});
  store.prune_history(from_unix(0));
  store.set_sequence(1);
  store.commit();
  EXPECT_EQ(store.history().rows(), 26u);

  auto reader = open_history_reader(url());
  auto read = reader->read(p("192.0.2.7"), 3);
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->total, 25u);
  ASSERT_EQ(read->entries.size(), 3u);
  EXPECT_EQ(read->entries[0].reason, "row 24");
  EXPECT_EQ(read->entries[2].reason, "row 22");
  ASSERT_TRUE(read->decision.has_value());
  EXPECT_EQ(read->ban_count, 2u);
  auto other = reader->read(p("2001:db8::/64"));
  ASSERT_TRUE(other) << other.error();
  ASSERT_EQ(other->entries.size(), 1u);
  EXPECT_EQ(other->entries[0].host, "web-\xff");
  EXPECT_FALSE(other->decision.has_value());

  // Over the cap of 30 the oldest go; rows older than `before` go too; a rollback keeps the count.
  store.begin();
  for (int i = 0; i < 10; ++i) {
    store.add_history(p("192.0.2.8"),
                      HistoryEntry{from_unix(T + 100 + i), HistoryKind::ban, false, "web-01", "sshd", "new"});
  }
  store.prune_history(from_unix(T + 3));
  store.commit();
  EXPECT_EQ(store.history().rows(), 30u);
  read = reader->read(p("192.0.2.7"));
  ASSERT_TRUE(read) << read.error();
  // Rows 0-2 (and the other address's) are older than T + 3, then rows 3-4 are over the cap.
  EXPECT_EQ(read->total, 20u);
  EXPECT_EQ(read->entries.back().reason, "row 5");
  store.begin();
  store.add_history(p("192.0.2.8"),
                    HistoryEntry{from_unix(T + 200), HistoryKind::ban, false, "web-01", "sshd", "gone"});
  store.prune_history(from_unix(0));
  store.rollback();
  EXPECT_EQ(store.history().rows(), 30u);
  PostgresStore reopened(url(), 30);
  EXPECT_EQ(reopened.history().rows(), 30u);
}

TEST_F(PostgresStoreTest, ACommitUnderAnEpochThatMovedOnIsLeadershipLostAndWritesNothing) {
  PostgresStore store(url());
  load(store);
  server_->query("UPDATE lease SET epoch = 4");
  store.fence(4);
  store.begin();
  store.put(record("192.0.2.7", true, 1));
  store.set_sequence(1);
  store.commit();                                // still the epoch: committed
  server_->query("UPDATE lease SET epoch = 5");  // another member took the lease
  store.begin();
  store.put(record("192.0.2.8", true, 2));
  store.set_sequence(2);
  EXPECT_THROW(store.commit(), LeadershipLost);
  Loaded state = load(store);
  EXPECT_EQ(state.sequence, 1u);
  EXPECT_EQ(state.records.size(), 1u);
}

TEST_F(PostgresStoreTest, AnUnreachableServerIsARuntimeErrorNamingTheUrlWithoutItsPassword) {
  const std::string unreachable = "postgresql://fleetban:hunter2@127.0.0.1:1/fleetban";
  try {
    PostgresStore store(unreachable);
    FAIL() << "connected to " << unreachable;
  } catch (const RuntimeError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("postgresql://fleetban:***@127.0.0.1:1/fleetban"), std::string::npos) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }
  EXPECT_THROW(PostgresStore(server_->url("no_such_database")), RuntimeError);
}

// PgArray: the store sends every column of a commit as one binary array; what the server reads back
// must be exactly what was added, in order, at the edges too (empty values, any byte, extreme
// integers, no elements at all).
TEST_F(PostgresStoreTest, ArraysReachTheServerExactlyAndInOrder) {
  PgConnection db(url());
  PgArray bytes(PgArray::Of::bytes), integers(PgArray::Of::integers);
  const std::vector<std::string> values = {"", std::string("\0\xff\x00'\"\\", 6), std::string(70'000, 'x'), "last"};
  const std::vector<std::int64_t> numbers = {std::numeric_limits<std::int64_t>::min(), -1, 0,
                                             std::numeric_limits<std::int64_t>::max()};
  for (const auto& v : values) bytes.add(v);
  for (auto n : numbers) integers.add(n);
  EXPECT_EQ(bytes.size(), 4u);
  PgParams params;
  params.array(bytes);
  params.array(integers);
  auto rows = db.exec("SELECT b, i FROM unnest($1::bytea[], $2::bigint[]) WITH ORDINALITY AS t(b, i, n) ORDER BY n",
                      params, "cannot read arrays back");
  ASSERT_EQ(rows.rows(), 4);
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(rows.bytes(r, 0), values[static_cast<std::size_t>(r)]) << r;
    EXPECT_EQ(rows.integer(r, 1), numbers[static_cast<std::size_t>(r)]) << r;
  }
  PgParams none;
  none.array(PgArray(PgArray::Of::bytes));
  EXPECT_EQ(db.exec("SELECT cardinality($1::bytea[])", none, "cannot read an empty array").integer(0, 0), 0);
  EXPECT_THROW(bytes.add(std::int64_t{1}), std::logic_error);
  EXPECT_THROW(integers.add(std::string_view("x")), std::logic_error);
}

TEST(PostgresUrl, IsRecognisedRedactedAndChecked) {
  EXPECT_TRUE(is_postgres_url("postgresql://db.example/fleetban"));
  EXPECT_TRUE(is_postgres_url("postgres://db.example/fleetban"));
  EXPECT_FALSE(is_postgres_url("/var/lib/fleetban/state.db"));
  EXPECT_FALSE(is_postgres_url("postgresql.db"));
  EXPECT_EQ(redacted_url("postgresql://u:pw@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(redacted_url("postgresql://u@h/db?password=pw&sslmode=require"),
            "postgresql://u@h/db?password=***&sslmode=require");
  EXPECT_EQ(redacted_url("postgresql://h/db"), "postgresql://h/db");
  EXPECT_EQ(redacted_url("/var/lib/fleetban/state.db"), "/var/lib/fleetban/state.db");
  EXPECT_FALSE(postgres_url_error("postgresql://u:pw@h:5432/db?sslmode=require"));
  EXPECT_TRUE(postgres_url_error("postgresql://u@h/db?no_such_option=1"));
  EXPECT_TRUE(postgres_url_error("postgresql://u@h:54x2/db"));
  EXPECT_TRUE(postgres_url_error("postgresql://u@h/db?sslmode"));
}

}  // namespace
