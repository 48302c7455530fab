// The aggregator's SQLite store, against a real database file in a temp dir.

#include "aggregator/store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>

#include "common/errors.hpp"
#include "printers.hpp"
#include "temp_dir.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::EventId;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using fleetban::common::RuntimeError;
using fleetban::testing::TempDir;
using std::chrono::seconds;

constexpr std::int64_t T = 1'795'650'000;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

EventId id(std::uint8_t fill) {
  EventId id{};
  id.fill(fill);
  return id;
}

FleetRecord active_record() {
  FleetRecord r;
  r.decision.sequence = 7;
  r.decision.prefix = p("192.0.2.7");
  r.decision.active = true;
  r.decision.banned_at = from_unix(T);
  r.decision.expires_at = from_unix(T + 600);
  r.decision.reporters = {"web-01", "web-02"};
  r.decision.jails = {"sshd"};
  r.decision.ban_count = 2;
  r.decision.reason = "because";
  r.last_duration = seconds(600);
  return r;
}

FleetRecord pending_record() {
  FleetRecord r;
  r.decision.sequence = 0;
  r.decision.prefix = p("2001:db8::/64");
  r.reports = {Report{"web-03", "nginx", from_unix(T + 5), seconds(-1)},
               Report{"web-04", "sshd", from_unix(T + 6), seconds(0)}};
  return r;
}

// What Store::load() reads, with the records it hands over one at a time collected.
struct Loaded : StoredState {
  std::vector<FleetRecord> records;
};

Loaded load(Store& store) {
  Loaded loaded;
  static_cast<StoredState&>(loaded) = store.load([&](const FleetRecord& r) { loaded.records.push_back(r); });
  return loaded;
}

// Opening and reading `file` fails with a RuntimeError that names the file.
void expect_runtime_error_naming(const std::filesystem::path& file) {
  try {
    Store store(file);
    load(store);
    FAIL() << "opened " << file;
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

const FleetRecord* find(const Loaded& state, const IpPrefix& prefix) {
  auto it = std::find_if(state.records.begin(), state.records.end(),
                         [&](const FleetRecord& r) { return r.decision.prefix == prefix; });
  return it == state.records.end() ? nullptr : &*it;
}

TEST(Store, NewDatabaseIsEmptyWithAnIncarnation) {
  TempDir dir;
  Store store(dir / "state.db");
  Loaded state = load(store);
  EXPECT_EQ(state.sequence, 0u);
  EXPECT_TRUE(state.records.empty());
  EXPECT_TRUE(state.seen_events.empty());
  EXPECT_FALSE(state.incarnation.empty());
  EXPECT_TRUE(std::filesystem::exists(dir / "state.db"));
}

TEST(Store, CreatesMissingParentDirectories) {
  TempDir dir;
  auto file = dir / "var/lib/fleetban/state.db";
  Store store(file);
  load(store);
  EXPECT_TRUE(std::filesystem::exists(file));
}

TEST(Store, RecordsSeenIdsAndSequenceSurviveCloseAndReopen) {
  TempDir dir;
  auto file = dir / "state.db";
  {
    Store store(file);
    load(store);
    store.begin();
    store.put(active_record());
    store.put(pending_record());
    store.mark_seen(id(1), from_unix(T));
    store.mark_seen(id(2), from_unix(T + 1));
    store.set_sequence(7);
    store.commit();
  }
  Store store(file);
  Loaded state = load(store);
  EXPECT_EQ(state.sequence, 7u);
  ASSERT_EQ(state.records.size(), 2u);

  const FleetRecord* active = find(state, p("192.0.2.7"));
  ASSERT_NE(active, nullptr);
  FleetRecord want = active_record();
  EXPECT_EQ(active->decision.sequence, want.decision.sequence);
  EXPECT_TRUE(active->decision.active);
  EXPECT_EQ(active->decision.banned_at, want.decision.banned_at);
  EXPECT_EQ(active->decision.expires_at, want.decision.expires_at);
  EXPECT_EQ(active->decision.reporters, want.decision.reporters);
  EXPECT_EQ(active->decision.jails, want.decision.jails);
  EXPECT_EQ(active->decision.ban_count, want.decision.ban_count);
  EXPECT_EQ(active->decision.reason, want.decision.reason);
  EXPECT_EQ(active->last_duration, seconds(600));
  EXPECT_TRUE(active->reports.empty());

  const FleetRecord* pending = find(state, p("2001:db8::/64"));
  ASSERT_NE(pending, nullptr);
  EXPECT_FALSE(pending->decision.active);
  EXPECT_EQ(pending->reports, pending_record().reports);

  std::vector<EventId> seen = state.seen_events;
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<EventId>{id(1), id(2)}));
}

TEST(Store, PermanentDecisionStaysPermanent) {
  TempDir dir;
  auto file = dir / "state.db";
  {
    Store store(file);
    load(store);
    FleetRecord r = active_record();
    r.decision.expires_at.reset();
    store.begin();
    store.put(r);
    store.commit();
  }
  Store store(file);
  auto state = load(store);
  ASSERT_EQ(state.records.size(), 1u);
  EXPECT_TRUE(state.records[0].decision.permanent());
}

TEST(Store, PutReplacesTheRecordOfTheSamePrefix) {
  TempDir dir;
  Store store(dir / "state.db");
  load(store);
  FleetRecord r = active_record();
  store.begin();
  store.put(r);
  store.commit();
  r.decision.active = false;
  r.decision.sequence = 8;
  store.begin();
  store.put(r);
  store.commit();
  auto state = load(store);
  ASSERT_EQ(state.records.size(), 1u);
  EXPECT_FALSE(state.records[0].decision.active);
  EXPECT_EQ(state.records[0].decision.sequence, 8u);
}

TEST(Store, SameAddressBytesWithDifferentLengthsAreDifferentRecords) {
  TempDir dir;
  Store store(dir / "state.db");
  load(store);
  FleetRecord net = active_record();
  net.decision.prefix = p("192.0.2.0/24");
  FleetRecord address = active_record();
  address.decision.prefix = p("192.0.2.0");
  store.begin();
  store.put(net);
  store.put(address);
  store.commit();
  EXPECT_EQ(load(store).records.size(), 2u);
}

TEST(Store, MarkingAnIdTwiceKeepsOneCopy) {
  TempDir dir;
  Store store(dir / "state.db");
  load(store);
  store.begin();
  store.mark_seen(id(1), from_unix(T));
  store.mark_seen(id(1), from_unix(T + 10));
  store.commit();
  EXPECT_EQ(load(store).seen_events.size(), 1u);
}

TEST(Store, RolledBackWritesAreGone) {
  TempDir dir;
  auto file = dir / "state.db";
  {
    Store store(file);
    load(store);
    store.begin();
    store.put(active_record());
    store.mark_seen(id(1), from_unix(T));
    store.set_sequence(7);
    store.rollback();
  }
  Store store(file);
  auto state = load(store);
  EXPECT_EQ(state.sequence, 0u);
  EXPECT_TRUE(state.records.empty());
  EXPECT_TRUE(state.seen_events.empty());
}

TEST(Store, IncarnationIsMadeOnceAndKeptOnReopen) {
  TempDir dir;
  auto file = dir / "state.db";
  std::string first;
  {
    Store store(file);
    first = load(store).incarnation;
    EXPECT_EQ(load(store).incarnation, first);
  }
  Store store(file);
  EXPECT_EQ(load(store).incarnation, first);
  EXPECT_GE(first.size(), 8u);
}

TEST(Store, NewDatabaseHasANewIncarnation) {
  TempDir dir;
  Store a(dir / "a.db");
  Store b(dir / "b.db");
  EXPECT_NE(load(a).incarnation, load(b).incarnation);
}

TEST(Store, ForgetEventsBeforeDropsOnlyOlderIds) {
  TempDir dir;
  auto file = dir / "state.db";
  {
    Store store(file);
    load(store);
    store.begin();
    store.mark_seen(id(1), from_unix(T - 100));
    store.mark_seen(id(2), from_unix(T - 1));
    store.mark_seen(id(3), from_unix(T));
    store.mark_seen(id(4), from_unix(T + 100));
    store.commit();
    store.forget_events_before(from_unix(T));
  }
  Store store(file);
  std::vector<EventId> seen = load(store).seen_events;
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<EventId>{id(3), id(4)}));
}

TEST(Store, DirectoryThatCannotBeCreatedIsARuntimeError) {
  TempDir dir;
  auto blocker = dir.write("not-a-dir", "a file where a directory should be");
  auto file = blocker / "sub" / "state.db";
  expect_runtime_error_naming(file);
}

TEST(Store, FileThatIsNotADatabaseIsARuntimeError) {
  TempDir dir;
  auto file = dir.write("state.db", std::string(8192, 'x'));
  expect_runtime_error_naming(file);
}

TEST(Store, DirectoryAsTheDatabaseFileIsARuntimeError) {
  TempDir dir;
  std::filesystem::create_directories(dir / "state.db");
  EXPECT_THROW(
      {
        Store store(dir / "state.db");
        load(store);
      },
      RuntimeError);
}

TEST(Store, CorruptRecordIsARuntimeErrorOnLoad) {
  TempDir dir;
  auto file = dir / "state.db";
  {
    Store store(file);
    load(store);
    FleetRecord r = active_record();
    store.begin();
    store.put(r);
    store.commit();
  }
  {
    // Break the stored record from outside, as a disk fault or a stray tool would.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE records SET record = x'ffffffff'", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  Store store(file);
  EXPECT_THROW(load(store), RuntimeError);
}

// What a new database file holds once `record` was written to it, closed and opened again.
Loaded written_and_reopened(const std::filesystem::path& file, const FleetRecord& record) {
  {
    Store store(file);
    load(store);
    store.begin();
    store.put(record);
    store.commit();
  }
  Store store(file);
  return load(store);
}

TEST(Store, DecisionTotalsSurviveCloseAndReopen) {
  TempDir dir;
  FleetRecord r = active_record();
  r.decision.reporter_count = 1030;
  r.decision.jail_count = 1100;
  auto loaded = written_and_reopened(dir / "state.db", r);
  ASSERT_EQ(loaded.records.size(), 1u);
  EXPECT_EQ(loaded.records[0].decision.reporter_count, 1030u);
  EXPECT_EQ(loaded.records[0].decision.jail_count, 1100u);
}

// A database written before decisions were capped at 64 names (one with 1,100 jails made the
// aggregator refuse to start) loads, with the first names and the totals.
TEST(Store, RecordWithMoreNamesThanADecoderTakesLoadsCapped) {
  TempDir dir;
  FleetRecord r = active_record();
  r.decision.jails.clear();
  for (int i = 0; i < 1100; ++i) r.decision.jails.push_back("jail-" + std::to_string(i));
  for (int i = 0; i < 300; ++i)
    r.reports.push_back(Report{"h" + std::to_string(i), "sshd", from_unix(T + i), seconds(0)});
  Loaded loaded;
  ASSERT_NO_THROW(loaded = written_and_reopened(dir / "state.db", r));
  ASSERT_EQ(loaded.records.size(), 1u);
  const auto& d = loaded.records[0].decision;
  ASSERT_EQ(d.jails.size(), fleetban::common::kMaxDecisionNames);
  EXPECT_EQ(d.jails.front(), "jail-0");
  EXPECT_EQ(d.jail_count, 1100u);
  EXPECT_EQ(d.reporters, r.decision.reporters);
  ASSERT_EQ(loaded.records[0].reports.size(), kMaxReportsPerRecord);
  EXPECT_EQ(loaded.records[0].reports.back().host_id, "h299");  // the newest are kept
}

TEST(Store, CommitWithoutBeginIsARuntimeError) {
  TempDir dir;
  Store store(dir / "state.db");
  load(store);
  EXPECT_THROW(store.commit(), RuntimeError);
}

// Restores the process umask when the test ends.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : previous_(umask(mask)) {}
  ~ScopedUmask() { umask(previous_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t previous_;
};

mode_t mode_of(const std::filesystem::path& file) {
  struct stat st {};
  EXPECT_EQ(stat(file.c_str(), &st), 0) << file;
  return st.st_mode & 07777;
}

TEST(Store, DatabaseWalAndShmAreNotReadableByOthersWhateverTheUmask) {
  ScopedUmask loose(022);
  TempDir dir;
  auto file = dir / "state.db";
  Store store(file);
  load(store);
  store.begin();
  store.put(active_record());
  store.commit();  // WAL mode: the -wal and -shm files exist from here
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::path path = file.string() + suffix;
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_EQ(mode_of(path) & 0077, 0u) << path << " has mode " << std::oct << mode_of(path);
  }
}

TEST(Store, ExistingWorldReadableDatabaseLosesOnlyTheOthersBits) {
  TempDir dir;
  auto file = dir / "state.db";
  {
    Store store(file);
    load(store);
  }
  std::filesystem::permissions(file, static_cast<std::filesystem::perms>(0644));
  Store store(file);
  load(store);
  EXPECT_EQ(mode_of(file), 0640u);
}

}  // namespace

namespace {

TEST(Store, EraseDeletesTheRecordInsideTheTransaction) {
  TempDir dir;
  auto file = dir / "state.db";
  {
    Store store(file);
    load(store);
    store.begin();
    store.put(active_record());
    store.put(pending_record());
    store.commit();
    store.begin();
    store.erase(p("192.0.2.7"));
    store.erase(p("198.51.100.1"));  // not there: nothing happens
    store.commit();
  }
  Store store(file);
  Loaded state = load(store);
  ASSERT_EQ(state.records.size(), 1u);
  EXPECT_EQ(state.records[0].decision.prefix, p("2001:db8::/64"));
}

TEST(Store, ChangedAtSurvivesReopen) {
  TempDir dir;
  auto file = dir / "state.db";
  FleetRecord record = active_record();
  record.changed_at = from_unix(T + 42);
  {
    Store store(file);
    load(store);
    store.begin();
    store.put(record);
    store.commit();
  }
  Store store(file);
  EXPECT_EQ(load(store).records.at(0).changed_at, from_unix(T + 42));
}

TEST(Store, TakeEventsBeforeReturnsAndDeletesOnlyOlderIds) {
  TempDir dir;
  auto file = dir / "state.db";
  {
    Store store(file);
    load(store);
    store.begin();
    store.mark_seen(id(1), from_unix(T - 100));
    store.mark_seen(id(2), from_unix(T - 1));
    store.mark_seen(id(3), from_unix(T));
    store.commit();
    store.begin();
    std::vector<EventId> taken = store.take_events_before(from_unix(T));
    std::sort(taken.begin(), taken.end());
    EXPECT_EQ(taken, (std::vector<EventId>{id(1), id(2)}));
    store.commit();
    store.begin();
    EXPECT_TRUE(store.take_events_before(from_unix(T)).empty());
    store.commit();
  }
  Store store(file);
  EXPECT_EQ(load(store).seen_events, (std::vector<EventId>{id(3)}));
}

}  // namespace
