#pragma once
// Reads one address's history (common/history.hpp) from the state database on a read-only
// connection of its own, never the loop's: the HTTP thread (GET /api/v1/bans/IP) and the loop
// (`fleetban show`'s HistoryRequest) each hold one. In SQLite's WAL mode a reader sees the last
// commit and never waits for the writer, nor makes it wait; PostgreSQL's snapshots do the same
// (postgres_history.hpp). Thread-safe (one query at a time).

#include <sqlite3.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string_view>

#include "common/expected.hpp"
#include "common/history.hpp"

namespace fleetban::aggregator {

class HistoryReader {
 public:
  virtual ~HistoryReader() = default;
  HistoryReader() = default;
  HistoryReader(const HistoryReader&) = delete;
  HistoryReader& operator=(const HistoryReader&) = delete;

  // The address's active decision (exactly this prefix's record), its ban count and its newest
  // `limit` history rows (newest first) with their total, all from one read transaction.
  common::Expected<common::AddressHistory> read(const common::IpPrefix& prefix,
                                                std::size_t limit = common::kMaxHistoryRows) {
    return read_history(prefix, limit);
  }

 protected:
  virtual common::Expected<common::AddressHistory> read_history(const common::IpPrefix& prefix, std::size_t limit) = 0;
};

// The reader for `state`: SQLite's file or PostgreSQL's URL (the store has created the tables).
// Throws RuntimeError naming the file or URL when it cannot open it.
std::unique_ptr<HistoryReader> open_history_reader(const std::filesystem::path& state);

// The address's decision from its stored record (bytes of the protobuf Record) into `history`;
// false when the record does not parse.
bool read_stored_decision(std::string_view record, common::AddressHistory& history);

class SqliteHistoryReader final : public HistoryReader {
 public:
  // Opens `file` read-only (the Store has created it); throws RuntimeError naming it on failure.
  explicit SqliteHistoryReader(const std::filesystem::path& file);
  ~SqliteHistoryReader() override;

 private:
  common::Expected<common::AddressHistory> read_history(const common::IpPrefix& prefix, std::size_t limit) override;
  common::Expected<common::AddressHistory> read_locked(const common::IpPrefix& prefix, std::size_t limit);

  std::filesystem::path file_;
  std::mutex mutex_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* record_ = nullptr;
  sqlite3_stmt* rows_ = nullptr;
  sqlite3_stmt* total_ = nullptr;
};

}  // namespace fleetban::aggregator
