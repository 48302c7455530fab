#pragma once
// Reads one address's history (common/history.hpp) from the state database on a read-only
// connection of its own, never the loop's: the HTTP thread (GET /api/v1/bans/IP) and the loop
// (`fleetban show`'s HistoryRequest) each hold one. In WAL mode a reader sees the last commit and
// never waits for the writer, nor makes it wait. Thread-safe (one query at a time).

#include <sqlite3.h>

#include <cstddef>
#include <filesystem>
#include <mutex>

#include "common/expected.hpp"
#include "common/history.hpp"

namespace fleetban::aggregator {

class HistoryReader {
 public:
  // Opens `file` read-only (the Store has created it); throws RuntimeError naming it on failure.
  explicit HistoryReader(const std::filesystem::path& file);
  ~HistoryReader();
  HistoryReader(const HistoryReader&) = delete;
  HistoryReader& operator=(const HistoryReader&) = delete;

  // The address's active decision (exactly this prefix's record), its ban count and its newest
  // `limit` history rows (newest first) with their total, all from one read transaction.
  common::Expected<common::AddressHistory> read(const common::IpPrefix& prefix,
                                                std::size_t limit = common::kMaxHistoryRows);

 private:
  common::Expected<common::AddressHistory> read_locked(const common::IpPrefix& prefix, std::size_t limit);

  std::filesystem::path file_;
  std::mutex mutex_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* record_ = nullptr;
  sqlite3_stmt* rows_ = nullptr;
  sqlite3_stmt* total_ = nullptr;
};

}  // namespace fleetban::aggregator
