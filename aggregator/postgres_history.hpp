#pragma once
// The history rows (aggregator/history_store.hpp) in PostgreSQL: the same table as SQLite's, with
// an identity column for the order the rows were written in, and host, jail and reason kept as
// bytes (whatever a reporter's name holds, a write never fails on its encoding); and its reader,
// on a connection of its own (a REPEATABLE READ snapshot: it never waits for the writer).

#include <mutex>

#include "aggregator/history_reader.hpp"
#include "aggregator/history_store.hpp"
#include "aggregator/pg_connection.hpp"

namespace fleetban::aggregator {

class PostgresHistoryRows final : public HistoryRows {
 public:
  // Creates the table if it is missing, on `db` (the store's connection, which it then writes on).
  explicit PostgresHistoryRows(PgConnection& db);

  void insert(const std::vector<Row>& rows) override;
  std::uint64_t delete_older(std::int64_t before, std::uint64_t limit) override;
  std::uint64_t delete_oldest(std::uint64_t count) override;
  std::uint64_t trim(const std::string& key, std::uint64_t keep) override;
  std::optional<std::int64_t> oldest_at() noexcept override;
  std::uint64_t count() noexcept override;

 private:
  PgConnection& db_;
};

class PostgresHistoryReader final : public HistoryReader {
 public:
  // Connects; throws RuntimeError naming the URL (without its password) when it cannot.
  explicit PostgresHistoryReader(const std::string& url);

 private:
  common::Expected<common::AddressHistory> read_history(const common::IpPrefix& prefix, std::size_t limit) override;
  common::AddressHistory read_locked(const common::IpPrefix& prefix, std::size_t limit);

  std::mutex mutex_;
  PgConnection db_;
};

}  // namespace fleetban::aggregator
