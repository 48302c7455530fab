#pragma once
// The history table in the aggregator's state (SQLite or PostgreSQL): one row per report, refusal and fleet
// decision change (common/history.hpp), written by the loop inside the same transaction as the
// records it goes with (no commit or fsync of its own), and bounded three ways, each in chunks of
// at most kPruneChunk rows a turn: rows older than forget_after go, the table holds at most
// `row_cap` rows (the oldest go first), and one address keeps about its newest kRowsPerAddress
// (so a flood on one address never pushes the others out). HistoryReader reads it. The policy is
// HistoryTable's, the statements its engine's (HistoryRows).

#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/history.hpp"

namespace fleetban::aggregator {

// The statements a HistoryTable needs from its database engine (SQLite here, PostgreSQL in
// postgres_history.cpp), each run inside the loop's open transaction. "Oldest" is the order the
// rows were written in.
class HistoryRows {
 public:
  struct Row {
    std::string key;  // storage_key() (stored_record.hpp)
    common::HistoryEntry entry;
  };
  virtual ~HistoryRows() = default;
  virtual void insert(const std::vector<Row>& rows) = 0;
  // Deletes those of the oldest `limit` rows written before `before`; returns how many.
  virtual std::uint64_t delete_older(std::int64_t before, std::uint64_t limit) = 0;
  virtual std::uint64_t delete_oldest(std::uint64_t count) = 0;
  // Deletes the address's rows older than its newest `keep`; returns how many.
  virtual std::uint64_t trim(const std::string& key, std::uint64_t keep) = 0;
  // The time of the oldest row, and the number of rows; on failure nothing and 0 (never throw).
  virtual std::optional<std::int64_t> oldest_at() noexcept = 0;
  virtual std::uint64_t count() noexcept = 0;
};

// The history rows of SQLite's state.db, on the loop's connection.
class SqliteHistoryRows final : public HistoryRows {
 public:
  // Creates the table in `db`; `file` names the database in errors.
  SqliteHistoryRows(sqlite3* db, std::filesystem::path file);
  ~SqliteHistoryRows() override;
  SqliteHistoryRows(const SqliteHistoryRows&) = delete;
  SqliteHistoryRows& operator=(const SqliteHistoryRows&) = delete;

  void insert(const std::vector<Row>& rows) override;
  std::uint64_t delete_older(std::int64_t before, std::uint64_t limit) override;
  std::uint64_t delete_oldest(std::uint64_t count) override;
  std::uint64_t trim(const std::string& key, std::uint64_t keep) override;
  std::optional<std::int64_t> oldest_at() noexcept override;
  std::uint64_t count() noexcept override;

 private:
  sqlite3_stmt* prepare(const std::string& sql);
  [[noreturn]] void fail(const std::string& what);
  std::uint64_t step_done(sqlite3_stmt* statement, const char* what);  // returns the rows changed
  void bind_row(sqlite3_stmt* statement, int first, const Row& row);

  sqlite3* db_;
  std::filesystem::path file_;
  static constexpr int kRowsPerInsert = 16;  // a multi-row INSERT for runs of this many rows
  sqlite3_stmt* insert_one_ = nullptr;
  sqlite3_stmt* insert_many_ = nullptr;
  sqlite3_stmt* delete_old_ = nullptr;
  sqlite3_stmt* delete_oldest_ = nullptr;
  sqlite3_stmt* oldest_ = nullptr;
  sqlite3_stmt* trim_ = nullptr;
};

class HistoryTable {
 public:
  // A million rows: at ~100 bytes a row (index included), ~100 MB of state.db, months of a busy
  // fleet's history (docs/REFERENCE.md, "History").
  static constexpr std::uint64_t kDefaultRowCap = 1'000'000;
  // An address keeps its newest kRowsPerAddress rows; it is trimmed back to that once
  // kTrimEvery more were written for it (so it holds fewer than kRowsPerAddress + kTrimEvery).
  static constexpr std::uint64_t kRowsPerAddress = 200;
  static constexpr std::uint8_t kTrimEvery = 50;
  static constexpr std::uint64_t kPruneChunk = 10'000;

  // Counts the rows `rows` holds.
  explicit HistoryTable(std::unique_ptr<HistoryRows> rows, std::uint64_t row_cap = kDefaultRowCap);
  HistoryTable(const HistoryTable&) = delete;
  HistoryTable& operator=(const HistoryTable&) = delete;

  // Keeps a row for the next write(); write() inserts them, in order, inside the open transaction.
  void add(const common::IpPrefix& prefix, const common::HistoryEntry& entry);
  void write();
  // Inside the open transaction: writes what is pending, deletes up to kPruneChunk rows older than
  // `before`, then the oldest rows over the cap, then trims the addresses due (kTrimEvery rows
  // since their last trim).
  void prune(common::UnixSeconds before);
  // After a rollback: what was pending is dropped and the counts are read again.
  void rolled_back();

  std::uint64_t rows() const { return rows_; }

 private:
  void count();

  std::unique_ptr<HistoryRows> table_;
  std::uint64_t row_cap_;
  std::uint64_t rows_ = 0;
  std::optional<std::int64_t> oldest_at_;  // of the oldest row, if any
  std::vector<HistoryRows::Row> pending_;
  std::vector<std::string> due_;  // keys to trim at the next prune()
  // Rows written per address since its last trim, by a hash of the key: a collision only trims an
  // address early or late, and bounds this to 64 KB whatever the number of addresses.
  std::array<std::uint8_t, 65536> since_trim_{};
};

}  // namespace fleetban::aggregator
