#pragma once
// StateStore: the aggregator's durable state behind one interface (records, applied event ids,
// sequence, incarnation), with SQLite (Store, the embedded default) and PostgreSQL (PostgresStore,
// for an HA group) behind it. open_state_store() picks one from the `state` setting.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aggregator/fleet_record.hpp"
#include "common/errors.hpp"
#include "common/event.hpp"
#include "common/history.hpp"

namespace fleetban::aggregator {

struct StoredState {
  std::uint64_t sequence = 0;
  std::string incarnation;  // random, made when the database is created
  std::vector<common::EventId> seen_events;
  // When each admitted key last sent an event, by "kind:name" (the host table's last_event_at, so
  // that a host silent since before a restart still shows as silent).
  std::map<std::string, common::UnixSeconds> last_events;
};

// A commit refused because another member of the HA group took the lease over (its fencing epoch
// moved on): this member must stop serving at once, acking and broadcasting nothing more.
class LeadershipLost : public common::RuntimeError {
 public:
  using common::RuntimeError::RuntimeError;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  StateStore() = default;
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Reads the whole state: each record is passed to `each_record` as it is read, the rest returned.
  // Makes the incarnation when the database has none yet.
  virtual StoredState load(const std::function<void(const FleetRecord&)>& each_record) = 0;

  // Every write below happens inside begin()..commit(); commit() throws RuntimeError when the
  // database cannot make the transaction durable (full disk, I/O error, connection lost), after
  // rolling back, and LeadershipLost when this member no longer holds the group's lease.
  virtual void begin() = 0;
  virtual void put(const FleetRecord& record) = 0;
  virtual void erase(const common::IpPrefix& prefix) = 0;  // the record of exactly this prefix, if any
  virtual void mark_seen(const common::EventId& id, common::UnixSeconds at) = 0;
  virtual void set_sequence(std::uint64_t sequence) = 0;
  // When the key "kind:name" last sent an event (read back into StoredState::last_events).
  virtual void put_last_event(const std::string& host_key, common::UnixSeconds at) = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;

  // Inside a transaction: forgets applied event ids older than `before` (a retry older than that
  // is applied again), returning them so the caller can forget them too.
  virtual std::vector<common::EventId> take_events_before(common::UnixSeconds before) = 0;

  // History (common/history.hpp): rows kept for this transaction, written by commit() with the
  // rest; prune_history() drops, inside the transaction, rows older than `before` and those past
  // the row caps (aggregator/history_store.hpp says which, and how many a turn).
  virtual void add_history(const common::IpPrefix& prefix, const common::HistoryEntry& entry) = 0;
  virtual void prune_history(common::UnixSeconds before) = 0;

  // Forgets applied event ids older than `before` in a transaction of its own (before a load).
  virtual void forget_events_before(common::UnixSeconds before) = 0;
};

// The store `state` names: a PostgreSQL URL (postgresql:// or postgres://) or SQLite's file.
// Throws RuntimeError naming the file, or the URL without its password, when it cannot open it.
std::unique_ptr<StateStore> open_state_store(const std::filesystem::path& state);

}  // namespace fleetban::aggregator
