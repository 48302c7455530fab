#pragma once
// The aggregator's durable state in SQLite (WAL, synchronous=FULL): one row per address record,
// the event ids already applied (one row per commit), and meta (sequence, incarnation). Writes happen in explicit
// transactions, many events per commit, so durability costs little throughput.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aggregator/fleet_record.hpp"
#include "common/event.hpp"

namespace fleetban::aggregator {

struct StoredState {
  std::uint64_t sequence = 0;
  std::string incarnation;  // random, made when the database is created
  std::vector<common::EventId> seen_events;
};

class Store {
 public:
  // Opens or creates the database; throws RuntimeError naming the file on failure.
  explicit Store(const std::filesystem::path& file);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Reads the database: each record is passed to `each_record` as it is read, the rest returned.
  StoredState load(const std::function<void(const FleetRecord&)>& each_record);

  // Every write below happens inside begin()..commit(); commit() throws RuntimeError when the
  // database cannot make the transaction durable (full disk, I/O error), after rolling back.
  void begin();
  void put(const FleetRecord& record);
  void erase(const common::IpPrefix& prefix);  // the record of exactly this prefix, if any
  void mark_seen(const common::EventId& id, common::UnixSeconds at);
  void set_sequence(std::uint64_t sequence);
  void commit();
  void rollback();

  // Forgets applied event ids older than `before` (a retry older than that is applied again).
  void forget_events_before(common::UnixSeconds before);
  // The same inside a transaction, returning the ids deleted so the caller can forget them too.
  std::vector<common::EventId> take_events_before(common::UnixSeconds before);

 private:
  void configure();  // pragmas, schema, statements
  void exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql);
  [[noreturn]] void fail(const std::string& what);
  void write_pending_seen();
  void finalize_statements();
  void append_ids(sqlite3_stmt* statement, std::vector<common::EventId>& out);
  static int on_wal_commit(void* store, sqlite3* db, const char* name, int pages);

  // Copies the WAL back into the database on a thread and connection of its own (store.cpp).
  class Checkpointer;
  std::unique_ptr<Checkpointer> checkpointer_;

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_record_ = nullptr;
  sqlite3_stmt* put_seen_ = nullptr;
  sqlite3_stmt* put_meta_ = nullptr;
  sqlite3_stmt* delete_record_ = nullptr;
  sqlite3_stmt* old_seen_ = nullptr;
  sqlite3_stmt* delete_old_seen_ = nullptr;
  std::map<std::int64_t, std::string> pending_seen_;  // ids marked in this transaction, by time
};

}  // namespace fleetban::aggregator
