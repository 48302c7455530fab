#pragma once
// P3PG's baseline (bench/ingest_pg.cpp): the rows the aggregator writes for its events on
// PostgreSQL state (aggregator/postgres_store.cpp), written with libpq alone, one connection, into
// copies of the aggregator's tables in the same database (raw_records, raw_history,
// raw_seen_event_batches, raw_meta: CREATE TABLE ... (LIKE ... INCLUDING ALL), so the same columns,
// keys and indexes). Per event: one records row (a FleetRecord encoded as the store encodes it,
// upserted as the store upserts it) and one history row; per transaction: one row holding the
// events' ids (16 bytes each, as the store batches them) and the meta rows (the sequence, each
// host's last event). Multi-row INSERTs (VALUES lists) of at most 1,000 rows, with the same typed
// parameters (bytea binary, bigint), one transaction per `events_per_transaction`
// events, committed as the server commits (synchronous_commit as it is set).
//
// What it leaves out of the aggregator's commit: the lease's fencing check (one SELECT ... FOR
// SHARE per commit) and the history's pruning. The templates of the rows are read from what the
// aggregator wrote, so it must have applied events on this database first.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace fleetban::bench {

struct RawInsertResult {
  std::uint64_t events = 0;        // committed in the measured interval
  std::uint64_t rows = 0;          // of every table, the same interval
  std::uint64_t transactions = 0;  // the same
  double seconds = 0;
  double events_per_second = 0;
  double rows_per_second = 0;
  nlohmann::json to_json() const;
};

class RawInsert {
 public:
  // Connects to `url` (the aggregator's database) and makes the raw_ tables there.
  explicit RawInsert(const std::string& url);
  ~RawInsert();
  RawInsert(const RawInsert&) = delete;
  RawInsert& operator=(const RawInsert&) = delete;

  // Writes transactions of `events_per_transaction` events, one after the other: unmeasured for
  // `warmup`, then counting those that commit within `duration`.
  RawInsertResult run(std::size_t events_per_transaction, std::chrono::milliseconds warmup,
                      std::chrono::milliseconds duration);

 private:
  struct Session;
  std::unique_ptr<Session> session_;
};

}  // namespace fleetban::bench
