#pragma once
// The aggregator's durable state in SQLite, the embedded default StateStore (WAL, synchronous=FULL):
// one row per address record, the event ids already applied (one row per commit), and meta
// (sequence, incarnation). Writes happen in explicit transactions, many events per commit, so
// durability costs little throughput.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aggregator/history_store.hpp"
#include "aggregator/state_store.hpp"

namespace fleetban::aggregator {

// One aggregator per database file: SQLite state cannot be shared by an HA group.
class Store final : public StateStore {
 public:
  // Opens or creates the database; throws RuntimeError naming the file on failure.
  // `history_row_cap`: the history table's row cap (tests lower it).
  explicit Store(const std::filesystem::path& file, std::uint64_t history_row_cap = HistoryTable::kDefaultRowCap);
  ~Store() override;

  // The size the WAL file is cut down to whenever it starts over after a checkpoint caught up with
  // it (journal_size_limit). Without it the file keeps the size of the largest burst it ever held
  // (a million-ban load, a flood) for as long as the aggregator runs. Above the ~40 MB that
  // kCheckpointPages lets it reach between checkpoints, so steady running never truncates it.
  static constexpr std::int64_t kWalSizeLimit = 64 << 20;

  StoredState load(const std::function<void(const FleetRecord&)>& each_record) override;
  void begin() override;
  void put(const FleetRecord& record) override;
  void erase(const common::IpPrefix& prefix) override;
  void mark_seen(const common::EventId& id, common::UnixSeconds at) override;
  void set_sequence(std::uint64_t sequence) override;
  void put_last_event(const std::string& host_key, common::UnixSeconds at) override;  // a row of meta
  void commit() override;
  void rollback() override;
  std::vector<common::EventId> take_events_before(common::UnixSeconds before) override;

  void add_history(const common::IpPrefix& prefix, const common::HistoryEntry& entry) override {
    history_->add(prefix, entry);
  }
  void prune_history(common::UnixSeconds before) override { history_->prune(before); }
  HistoryTable& history() { return *history_; }  // its counts, for tests

  void forget_events_before(common::UnixSeconds before) override;

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
  std::unique_ptr<HistoryTable> history_;
  std::uint64_t history_row_cap_;

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
