#include "aggregator/history_store.hpp"

#include <algorithm>
#include <functional>

#include "aggregator/stored_record.hpp"
#include "common/errors.hpp"

namespace fleetban::aggregator {

namespace {

// rowid orders the rows as they were written: the oldest are the lowest (rowid is one more than
// the largest, which is never deleted while other rows remain: it is its address's newest).
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS history (
  prefix BLOB NOT NULL, at INTEGER NOT NULL, kind INTEGER NOT NULL, fleet INTEGER NOT NULL,
  host TEXT NOT NULL, jail TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_by_prefix ON history (prefix);
)sql";

constexpr int kColumns = 7;

std::string insert_sql(int rows) {
  std::string sql = "INSERT INTO history (prefix, at, kind, fleet, host, jail, reason) VALUES ";
  for (int i = 0; i < rows; ++i) {
    if (i > 0) sql += ',';
    sql += "(?,?,?,?,?,?,?)";
  }
  return sql;
}

}  // namespace

SqliteHistoryRows::SqliteHistoryRows(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {
  char* error = nullptr;
  if (sqlite3_exec(db_, kSchema, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    throw common::RuntimeError(file_.string() + ": cannot create the history table: " + message);
  }
  try {
    insert_one_ = prepare(insert_sql(1));
    insert_many_ = prepare(insert_sql(kRowsPerInsert));
    delete_old_ =
        prepare("DELETE FROM history WHERE rowid IN (SELECT rowid FROM history ORDER BY rowid LIMIT ?2) AND at < ?1");
    delete_oldest_ = prepare("DELETE FROM history WHERE rowid IN (SELECT rowid FROM history ORDER BY rowid LIMIT ?1)");
    oldest_ = prepare("SELECT at FROM history ORDER BY rowid LIMIT 1");
    // Keeps the address's newest ?2 rows: deletes those older than the ?2-th newest (none if fewer).
    trim_ = prepare(
        "DELETE FROM history WHERE prefix = ?1 AND rowid < "
        "(SELECT rowid FROM history WHERE prefix = ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2 - 1)");
  } catch (...) {
    for (sqlite3_stmt* s : {insert_one_, insert_many_, delete_old_, delete_oldest_, oldest_, trim_})
      sqlite3_finalize(s);
    throw;
  }
}

SqliteHistoryRows::~SqliteHistoryRows() {
  for (sqlite3_stmt* s : {insert_one_, insert_many_, delete_old_, delete_oldest_, oldest_, trim_}) sqlite3_finalize(s);
}

sqlite3_stmt* SqliteHistoryRows::prepare(const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
    fail("cannot prepare a history statement");
  }
  return statement;
}

void SqliteHistoryRows::fail(const std::string& what) {
  throw common::RuntimeError(file_.string() + ": " + what + ": " + sqlite3_errmsg(db_));
}

std::uint64_t SqliteHistoryRows::step_done(sqlite3_stmt* statement, const char* what) {
  int rc = sqlite3_step(statement);
  sqlite3_reset(statement);
  sqlite3_clear_bindings(statement);
  if (rc != SQLITE_DONE) fail(what);
  return static_cast<std::uint64_t>(sqlite3_changes(db_));
}

std::uint64_t SqliteHistoryRows::count() noexcept {
  sqlite3_stmt* statement = nullptr;
  std::uint64_t rows = 0;
  if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM history", -1, &statement, nullptr) == SQLITE_OK &&
      sqlite3_step(statement) == SQLITE_ROW) {
    rows = static_cast<std::uint64_t>(sqlite3_column_int64(statement, 0));
  }
  sqlite3_finalize(statement);
  return rows;
}

std::optional<std::int64_t> SqliteHistoryRows::oldest_at() noexcept {
  std::optional<std::int64_t> at;
  if (sqlite3_step(oldest_) == SQLITE_ROW) at = sqlite3_column_int64(oldest_, 0);
  sqlite3_reset(oldest_);
  return at;
}

void SqliteHistoryRows::bind_row(sqlite3_stmt* statement, int first, const Row& row) {
  const common::HistoryEntry& e = row.entry;
  // SQLITE_STATIC: the rows outlive the statement's step.
  sqlite3_bind_blob(statement, first, row.key.data(), static_cast<int>(row.key.size()), SQLITE_STATIC);
  sqlite3_bind_int64(statement, first + 1, common::to_unix(e.at));
  sqlite3_bind_int(statement, first + 2, static_cast<int>(e.kind));
  sqlite3_bind_int(statement, first + 3, e.fleet ? 1 : 0);
  sqlite3_bind_text(statement, first + 4, e.host.data(), static_cast<int>(e.host.size()), SQLITE_STATIC);
  sqlite3_bind_text(statement, first + 5, e.jail.data(), static_cast<int>(e.jail.size()), SQLITE_STATIC);
  sqlite3_bind_text(statement, first + 6, e.reason.data(), static_cast<int>(e.reason.size()), SQLITE_STATIC);
}

void SqliteHistoryRows::insert(const std::vector<Row>& rows) {
  std::size_t i = 0;
  for (; i + kRowsPerInsert <= rows.size(); i += kRowsPerInsert) {
    for (int r = 0; r < kRowsPerInsert; ++r)
      bind_row(insert_many_, r * kColumns + 1, rows[i + static_cast<std::size_t>(r)]);
    step_done(insert_many_, "cannot write history");
  }
  for (; i < rows.size(); ++i) {
    bind_row(insert_one_, 1, rows[i]);
    step_done(insert_one_, "cannot write history");
  }
}

std::uint64_t SqliteHistoryRows::delete_older(std::int64_t before, std::uint64_t limit) {
  sqlite3_bind_int64(delete_old_, 1, before);
  sqlite3_bind_int64(delete_old_, 2, static_cast<std::int64_t>(limit));
  return step_done(delete_old_, "cannot prune history");
}

std::uint64_t SqliteHistoryRows::delete_oldest(std::uint64_t count) {
  sqlite3_bind_int64(delete_oldest_, 1, static_cast<std::int64_t>(count));
  return step_done(delete_oldest_, "cannot prune history");
}

std::uint64_t SqliteHistoryRows::trim(const std::string& key, std::uint64_t keep) {
  sqlite3_bind_blob(trim_, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  sqlite3_bind_int64(trim_, 2, static_cast<std::int64_t>(keep));
  return step_done(trim_, "cannot trim history");
}

HistoryTable::HistoryTable(std::unique_ptr<HistoryRows> rows, std::uint64_t row_cap)
    : table_(std::move(rows)), row_cap_(std::max<std::uint64_t>(row_cap, 1)) {
  count();
}

void HistoryTable::count() {
  rows_ = table_->count();
  oldest_at_ = table_->oldest_at();
}

void HistoryTable::add(const common::IpPrefix& prefix, const common::HistoryEntry& entry) {
  HistoryRows::Row& row = pending_.emplace_back(HistoryRows::Row{storage_key(prefix), entry});
  if (row.entry.reason.size() > common::kMaxHistoryReasonBytes) row.entry.reason.resize(common::kMaxHistoryReasonBytes);
  std::uint8_t& since = since_trim_[std::hash<std::string>{}(row.key) & (since_trim_.size() - 1)];
  if (++since >= kTrimEvery) {
    since = 0;
    due_.push_back(row.key);
  }
}

void HistoryTable::write() {
  if (pending_.empty()) return;
  table_->insert(pending_);
  if (!oldest_at_) oldest_at_ = common::to_unix(pending_.front().entry.at);
  rows_ += pending_.size();
  pending_.clear();
}

void HistoryTable::prune(common::UnixSeconds before) {
  write();  // the rows of this turn first: an address due for a trim may have them
  bool deleted = false;
  if (oldest_at_ && *oldest_at_ < common::to_unix(before)) {
    rows_ -= std::min(rows_, table_->delete_older(common::to_unix(before), kPruneChunk));
    deleted = true;
  }
  if (rows_ > row_cap_) {
    rows_ -= std::min(rows_, table_->delete_oldest(std::min(rows_ - row_cap_, kPruneChunk)));
    deleted = true;
  }
  std::sort(due_.begin(), due_.end());
  due_.erase(std::unique(due_.begin(), due_.end()), due_.end());
  for (const auto& key : due_) rows_ -= std::min(rows_, table_->trim(key, kRowsPerAddress));
  due_.clear();
  if (deleted) oldest_at_ = table_->oldest_at();
}

void HistoryTable::rolled_back() {
  pending_.clear();
  due_.clear();
  count();
}

}  // namespace fleetban::aggregator
