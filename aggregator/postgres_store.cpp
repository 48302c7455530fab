#include "aggregator/postgres_store.hpp"

#include "aggregator/lease.hpp"
#include "aggregator/postgres_history.hpp"
#include "aggregator/stored_record.hpp"
#include "common/errors.hpp"

namespace fleetban::aggregator {

namespace {

// The same tables as SQLite's state.db (store.cpp), plus the HA group's lease (lease.cpp): one row
// with the fencing epoch, which every commit of the active member checks.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE IF NOT EXISTS records (prefix bytea PRIMARY KEY, record bytea NOT NULL);
CREATE TABLE IF NOT EXISTS seen_event_batches (seen_at bigint NOT NULL, ids bytea NOT NULL);
CREATE INDEX IF NOT EXISTS seen_event_batches_by_time ON seen_event_batches (seen_at);
CREATE TABLE IF NOT EXISTS lease (
  id integer PRIMARY KEY CHECK (id = 1), epoch bigint NOT NULL, holder text NOT NULL,
  since timestamptz NOT NULL, expires_at timestamptz NOT NULL);
INSERT INTO lease VALUES (1, 0, '', 'epoch', 'epoch') ON CONFLICT DO NOTHING;
)sql";

// Members starting together create the tables one at a time (CREATE ... IF NOT EXISTS races).
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7780778)";

// Runs `sql` with the keys of `rows` as $1 (an array of `keys`) and their values as $2 (bytes).
template <typename Map>
void write_pairs(PgConnection& db, const Map& rows, PgArray::Of keys, const char* sql, const char* what) {
  if (rows.empty()) return;
  PgArray first(keys), second(PgArray::Of::bytes);
  for (const auto& [key, value] : rows) {
    first.add(key);
    second.add(value);
  }
  PgParams params;
  params.array(first);
  params.array(second);
  db.exec(sql, params, what);
}

// A session that stays inside a transaction this long (its process stopped, its machine cut off)
// is ended by the server, so it never holds the lease's row lock for ever, nor past the lease's
// term (a taker would wait behind it).
const std::vector<std::string> kSessionSettings = {"SET idle_in_transaction_session_timeout = '" +
                                                   std::to_string(Lease::kTerm.count()) + "s'"};

// Calls fn(rows, r) for each row of `query`, read kFetchRows at a time through a cursor of the
// caller's transaction. libpq holds a whole result in memory: a million records read at once
// raised a member's peak from 199 to 271 MB, and left it at 240 MB rather than 186 MB afterwards
// (heap fragments). A fetch of 100,000 records is about 10 MB and loads as fast as one SELECT
// (a million in 2.6 s here); fetches of 10,000 made that 3.9 s, a round trip each.
constexpr int kFetchRows = 100'000;
template <typename Fn>
void for_each_row(PgConnection& db, const std::string& query, const char* what, Fn&& fn) {
  db.script("DECLARE load_rows NO SCROLL CURSOR FOR " + query, what);
  const std::string fetch = "FETCH FORWARD " + std::to_string(kFetchRows) + " FROM load_rows";
  for (;;) {
    auto rows = db.exec(fetch, what);
    if (rows.rows() == 0) break;
    for (int r = 0; r < rows.rows(); ++r) fn(rows, r);
  }
  db.script("CLOSE load_rows", what);
}

}  // namespace

PostgresStore::PostgresStore(const std::string& url, std::uint64_t history_row_cap) : db_(url, kSessionSettings) {
  db_.script("BEGIN", "cannot begin");
  try {
    db_.exec(kSchemaLock, "cannot lock the schema");
    db_.script(kSchema, "cannot create the tables");
    history_ = std::make_unique<HistoryTable>(std::make_unique<PostgresHistoryRows>(db_), history_row_cap);
    db_.script("COMMIT", "cannot create the tables");
  } catch (...) {
    try {
      db_.script("ROLLBACK", "cannot roll back");
    } catch (const common::RuntimeError&) {  // the first error is the one to report
    }
    throw;
  }
}

StoredState PostgresStore::load(const std::function<void(const FleetRecord&)>& each_record) {
  db_.reconnect_if_broken();
  clear_pending();
  StoredState state;
  // The incarnation is made once, by whichever member loads first.
  PgParams incarnation;
  incarnation.bytes("incarnation");
  incarnation.bytes(random_incarnation());
  db_.exec("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", incarnation,
           "cannot write the incarnation");
  // One read transaction: the records, ids and sequence are of the same commit.
  db_.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "cannot begin");
  try {
    auto meta = db_.exec("SELECT key, value FROM meta", "cannot read meta");
    for (int r = 0; r < meta.rows(); ++r) read_meta_row(meta.bytes(r, 0), meta.bytes(r, 1), state);
    for_each_row(db_, "SELECT record FROM records", "cannot read records", [&](const PgResult& rows, int r) {
      auto bytes = rows.bytes(r, 0);
      auto record = decode_record(bytes.data(), static_cast<int>(bytes.size()));
      if (!record) throw common::RuntimeError("state \"" + db_.name() + "\": corrupt record: " + record.error());
      each_record(*record);
    });
    for_each_row(db_, "SELECT ids FROM seen_event_batches", "cannot read event ids",
                 [&](const PgResult& rows, int r) { append_event_ids(rows.bytes(r, 0), state.seen_events); });
    db_.script("COMMIT", "cannot end the read");
  } catch (...) {
    rollback();
    throw;
  }
  sort_unique(state.seen_events);
  return state;
}

void PostgresStore::clear_pending() {
  records_.clear();
  seen_.clear();
  meta_.clear();
}

void PostgresStore::begin() {
  clear_pending();
  db_.reconnect_if_broken();
  db_.script("BEGIN", "cannot begin");
  open_ = true;
}

void PostgresStore::put(const FleetRecord& record) {
  records_[storage_key(record.decision.prefix)] = encode_record(record);
}

void PostgresStore::erase(const common::IpPrefix& prefix) { records_[storage_key(prefix)] = std::nullopt; }

void PostgresStore::mark_seen(const common::EventId& id, common::UnixSeconds at) {
  seen_[common::to_unix(at)].append(reinterpret_cast<const char*>(id.data()), id.size());
}

void PostgresStore::set_sequence(std::uint64_t sequence) { meta_["sequence"] = std::to_string(sequence); }

void PostgresStore::put_last_event(const std::string& host_key, common::UnixSeconds at) {
  meta_[last_event_meta_key(host_key)] = std::to_string(common::to_unix(at));
}

void PostgresStore::write_pending() {
  // One statement per table, whatever the number of rows: each column goes as one array.
  PgArray erased(PgArray::Of::bytes), prefixes(PgArray::Of::bytes), records(PgArray::Of::bytes);
  for (const auto& [key, value] : records_) {
    if (!value) {
      erased.add(key);
      continue;
    }
    prefixes.add(key);
    records.add(*value);
  }
  if (!erased.empty()) {
    PgParams params;
    params.array(erased);
    db_.exec("DELETE FROM records WHERE prefix = ANY($1)", params, "cannot delete records");
  }
  if (!prefixes.empty()) {
    PgParams params;
    params.array(prefixes);
    params.array(records);
    db_.exec(
        "INSERT INTO records (prefix, record) SELECT * FROM unnest($1::bytea[], $2::bytea[]) "
        "ON CONFLICT (prefix) DO UPDATE SET record = EXCLUDED.record",
        params, "cannot write records");
  }
  write_pairs(db_, seen_, PgArray::Of::integers,
              "INSERT INTO seen_event_batches (seen_at, ids) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
              "cannot write event ids");
  write_pairs(db_, meta_, PgArray::Of::bytes,
              "INSERT INTO meta (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) "
              "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
              "cannot write meta");
  history_->write();
  clear_pending();
}

void PostgresStore::commit() {
  if (!open_) throw common::RuntimeError("state \"" + db_.name() + "\": commit without a transaction");
  try {
    if (epoch_) {
      // FOR SHARE: a member taking the lease over waits for this transaction to end, so what it
      // loads next includes it; and once it has moved the epoch on, this check fails.
      PgParams mine;
      mine.integer(*epoch_);
      auto held = db_.exec("SELECT 1 FROM lease WHERE id = 1 AND epoch = $1 FOR SHARE", mine, "cannot check the lease");
      if (held.rows() != 1) {
        rollback();
        throw LeadershipLost("state \"" + db_.name() + "\": another member took the lease over (this one held epoch " +
                             std::to_string(*epoch_) + ")");
      }
    }
    write_pending();
    db_.script("COMMIT", "cannot commit");
    open_ = false;
  } catch (const LeadershipLost&) {
    throw;
  } catch (const common::RuntimeError&) {
    rollback();
    throw;
  }
}

void PostgresStore::rollback() {
  clear_pending();
  open_ = false;
  try {
    db_.script("ROLLBACK", "cannot roll back");
  } catch (const common::RuntimeError&) {  // a lost connection has rolled back by itself
  }
  if (history_) history_->rolled_back();
}

std::vector<common::EventId> PostgresStore::take_events_before(common::UnixSeconds before) {
  PgParams params;
  params.integer(common::to_unix(before));
  auto old =
      db_.exec("DELETE FROM seen_event_batches WHERE seen_at < $1 RETURNING ids", params, "cannot prune event ids");
  std::vector<common::EventId> ids;
  for (int r = 0; r < old.rows(); ++r) append_event_ids(old.bytes(r, 0), ids);
  return ids;
}

void PostgresStore::forget_events_before(common::UnixSeconds before) {
  begin();
  try {
    take_events_before(before);
    commit();
  } catch (...) {
    rollback();
    throw;
  }
}

}  // namespace fleetban::aggregator
