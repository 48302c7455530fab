#include "aggregator/history_reader.hpp"

#include "aggregator/history_store.hpp"
#include "aggregator/pg_connection.hpp"
#include "aggregator/postgres_history.hpp"
#include "aggregator/stored_record.hpp"
#include "common/codec.hpp"
#include "common/errors.hpp"
#include "fleetban.pb.h"

namespace fleetban::aggregator {

std::unique_ptr<HistoryReader> open_history_reader(const std::filesystem::path& state) {
  if (is_postgres_url(state.string())) return std::make_unique<PostgresHistoryReader>(state.string());
  return std::make_unique<SqliteHistoryReader>(state);
}

bool read_stored_decision(std::string_view bytes, common::AddressHistory& history) {
  ::fleetban::v1::Record record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  auto decision = common::decision_from_proto(record.decision());
  if (!decision) return false;
  history.ban_count = decision->ban_count;
  if (decision->active) history.decision = std::move(*decision);
  return true;
}

SqliteHistoryReader::SqliteHistoryReader(const std::filesystem::path& file) : file_(file) {
  auto fail = [&](const std::string& what) {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    for (sqlite3_stmt* s : {record_, rows_, total_}) sqlite3_finalize(s);
    sqlite3_close(db_);
    throw common::RuntimeError(file.string() + ": " + what + ": " + message);
  };
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    fail("cannot open the database to read history");
  }
  sqlite3_busy_timeout(db_, 2000);
  auto prepare = [&](const char* sql, sqlite3_stmt*& out) {
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &out, nullptr) != SQLITE_OK) {
      fail("cannot prepare a history query");
    }
  };
  prepare("SELECT record FROM records WHERE prefix = ?1", record_);
  prepare("SELECT at, kind, fleet, host, jail, reason FROM history WHERE prefix = ?1 ORDER BY rowid DESC LIMIT ?2",
          rows_);
  prepare("SELECT count(*) FROM history WHERE prefix = ?1", total_);
}

SqliteHistoryReader::~SqliteHistoryReader() {
  for (sqlite3_stmt* s : {record_, rows_, total_}) sqlite3_finalize(s);
  sqlite3_close(db_);
}

common::Expected<common::AddressHistory> SqliteHistoryReader::read_history(const common::IpPrefix& prefix,
                                                                           std::size_t limit) {
  std::lock_guard lock(mutex_);
  // One read transaction: the decision and the rows are of the same commit.
  if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return common::Failure{file_.string() + ": cannot read history: " + sqlite3_errmsg(db_)};
  }
  auto result = read_locked(prefix, limit);
  for (sqlite3_stmt* s : {record_, rows_, total_}) sqlite3_reset(s);
  sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  return result;
}

common::Expected<common::AddressHistory> SqliteHistoryReader::read_locked(const common::IpPrefix& prefix,
                                                                          std::size_t limit) {
  auto failed = [&](const char* what) {
    return common::Failure{file_.string() + ": cannot read " + what + ": " + sqlite3_errmsg(db_)};
  };
  common::AddressHistory history{.prefix = prefix};
  const std::string key = storage_key(prefix);
  auto bind_key = [&](sqlite3_stmt* s) {
    sqlite3_bind_blob(s, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  };

  bind_key(record_);
  int rc = sqlite3_step(record_);
  if (rc == SQLITE_ROW) {
    if (!read_stored_decision({static_cast<const char*>(sqlite3_column_blob(record_, 0)),
                               static_cast<std::size_t>(sqlite3_column_bytes(record_, 0))},
                              history)) {
      return common::Failure{file_.string() + ": corrupt record of " + prefix.to_string()};
    }
  } else if (rc != SQLITE_DONE) {
    return failed("the record");
  }

  bind_key(total_);
  if (sqlite3_step(total_) != SQLITE_ROW) return failed("history");
  history.total = static_cast<std::uint64_t>(sqlite3_column_int64(total_, 0));

  bind_key(rows_);
  sqlite3_bind_int64(rows_, 2, static_cast<std::int64_t>(limit));
  auto text = [&](int column) {
    const auto* bytes = sqlite3_column_text(rows_, column);
    return bytes != nullptr ? std::string(reinterpret_cast<const char*>(bytes),
                                          static_cast<std::size_t>(sqlite3_column_bytes(rows_, column)))
                            : std::string();
  };
  while ((rc = sqlite3_step(rows_)) == SQLITE_ROW) {
    auto kind = common::history_kind_from(static_cast<std::uint32_t>(sqlite3_column_int(rows_, 1)));
    if (!kind) continue;  // written by a later version: not ours to show
    history.entries.push_back({.at = common::from_unix(sqlite3_column_int64(rows_, 0)),
                               .kind = *kind,
                               .fleet = sqlite3_column_int(rows_, 2) != 0,
                               .host = text(3),
                               .jail = text(4),
                               .reason = text(5)});
  }
  if (rc != SQLITE_DONE) return failed("history");
  return history;
}

}  // namespace fleetban::aggregator
