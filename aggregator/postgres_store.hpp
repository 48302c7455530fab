#pragma once
// The aggregator's durable state in PostgreSQL (state = "postgresql://..."), the StateStore of an
// HA group: the same tables as SQLite's (meta: sequence, incarnation, last events; records; applied
// event ids, one row per commit time; history), written in one transaction per loop turn with one
// multi-row statement per table. commit() returns only once PostgreSQL has made the transaction
// durable (as its synchronous_commit and replication settings define: docs/OPERATIONS.md).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/history_store.hpp"
#include "aggregator/pg_connection.hpp"
#include "aggregator/state_store.hpp"

namespace fleetban::aggregator {

class PostgresStore final : public StateStore {
 public:
  // Connects and creates the tables that are missing; throws RuntimeError naming the URL (without
  // its password) when it cannot.
  explicit PostgresStore(const std::string& url, std::uint64_t history_row_cap = HistoryTable::kDefaultRowCap);

  StoredState load(const std::function<void(const FleetRecord&)>& each_record) override;
  void begin() override;
  void put(const FleetRecord& record) override;
  void erase(const common::IpPrefix& prefix) override;
  void mark_seen(const common::EventId& id, common::UnixSeconds at) override;
  void set_sequence(std::uint64_t sequence) override;
  void put_last_event(const std::string& host_key, common::UnixSeconds at) override;
  void commit() override;
  void rollback() override;
  std::vector<common::EventId> take_events_before(common::UnixSeconds before) override;
  void add_history(const common::IpPrefix& prefix, const common::HistoryEntry& entry) override {
    history_->add(prefix, entry);
  }
  void prune_history(common::UnixSeconds before) override { history_->prune(before); }
  HistoryTable& history() { return *history_; }  // its counts, for tests

  void forget_events_before(common::UnixSeconds before) override;

  // From now on every commit first checks, in its own transaction, that the group's lease still
  // has this fencing epoch (aggregator/lease.hpp), and throws LeadershipLost when it has not.
  void fence(std::int64_t epoch) { epoch_ = epoch; }

 private:
  void write_pending();
  void clear_pending();

  PgConnection db_;
  std::unique_ptr<HistoryTable> history_;
  std::optional<std::int64_t> epoch_;
  bool open_ = false;
  // This transaction's writes, sent by commit(): a record's value, or nothing to delete it.
  std::map<std::string, std::optional<std::string>> records_;
  std::map<std::int64_t, std::string> seen_;  // event ids marked, concatenated, by time
  std::map<std::string, std::string> meta_;
};

}  // namespace fleetban::aggregator
