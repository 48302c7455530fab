#pragma once
// The host table: one row per admitted key (hosts, operators, relays), also those never seen, with
// what the aggregator hears from it: its events (the last one's time, a count per hour for a day)
// and its subscriber's reports (applied sequence, lag, backend health, spool fill). Only the
// service loop touches it; readers on other threads get copies (HostsView). Memory is bounded by
// the admitted keys: a removed key's row goes at the reload that removes it.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/hosts.hpp"
#include "server/peer_identity.hpp"

namespace fleetban::aggregator {

// Whose row an event or a host report counts in: the kind of key that sent it (a host's, without
// CURVE), or, from a relay, the host or operator it vouches for (an operator action is an
// operator's; a host report is always a host's).
common::HostKind reporter_kind(const server::Sender& sender, bool operator_action);

class HostTable {
 public:
  // A subscriber is stale once it has not reported in for this long (three reports missed at the
  // 10 s INTERFACE.md promises), and behind once every report for this long showed it behind.
  static constexpr std::chrono::seconds kStaleAfter{30};
  static constexpr std::chrono::seconds kBehindAfter{10};
  // Without CURVE no key is listed: rows are made for the names heard of, up to this many.
  static constexpr std::size_t kMaxUnlistedRows = 1024;

  using Key = std::pair<common::HostKind, std::string>;

  HostTable() = default;
  HostTable(const HostTable&) = delete;
  HostTable& operator=(const HostTable&) = delete;
  HostTable(HostTable&&) = default;
  HostTable& operator=(HostTable&&) = default;

  // With CURVE: the admitted keys (at start and after every reload). Rows of keys no longer
  // admitted go; new keys get an empty row. Without CURVE (never called): rows come as names do.
  void set_admitted(const std::vector<server::PeerIdentity>& keys);
  // The aggregator's incarnation: a report following another one is behind by the whole sequence.
  void set_incarnation(std::string incarnation) { incarnation_ = std::move(incarnation); }

  // An event from this key, received at `now` (duplicates and throttled retries are not counted).
  void note_event(common::HostKind kind, const std::string& name, common::UnixSeconds now);
  // A subscriber's report, `fleet_sequence` being the last one broadcast. Why it is refused
  // (a sequence ahead of the fleet's), or nothing.
  std::optional<std::string> note_report(common::HostKind kind, const common::HostReport& report,
                                         std::uint64_t fleet_sequence, common::UnixSeconds now);

  // Every row as the API shows it, by kind then name.
  std::vector<common::HostEntry> entries(common::UnixSeconds now) const;
  std::size_t size() const { return rows_.size(); }

  // Persistence of last_event_at: what changed since the last call ("kind:name", time), and
  // what the store held at start (rows of keys not admitted are skipped).
  void take_changed_events(const std::function<void(const std::string&, common::UnixSeconds)>& write);
  void restore_last_event(const std::string& stored_key, common::UnixSeconds at);

 private:
  static constexpr std::size_t kHours = 24;
  struct Row {
    std::optional<common::UnixSeconds> last_event_at;
    std::array<std::uint32_t, kHours> events_per_hour{};  // ring, indexed by unix hour % 24
    std::int64_t last_event_hour = 0;                     // the unix hour of the newest bucket
    std::optional<common::UnixSeconds> seen_at;
    std::uint64_t sequence = 0;
    std::uint64_t lag = 0;
    std::optional<common::UnixSeconds> behind_since;  // the first report of the current lag > 0 run
    std::string backend_error;
    std::uint64_t spool_bytes = 0;
    std::uint64_t spool_max_bytes = 0;
    std::string version;
  };
  Row* row(common::HostKind kind, const std::string& name);
  static std::uint64_t events_24h(const Row& row, common::UnixSeconds now);
  static std::string stored_key(const Key& key);

  std::map<Key, Row> rows_;
  // The row row() found last (map nodes stay put; a move keeps them, so copies are not allowed).
  const Key* last_key_ = nullptr;
  Row* last_row_ = nullptr;
  bool listed_ = false;  // set_admitted was called: only admitted keys have rows
  std::string incarnation_;
  std::set<Key> changed_events_;
};

}  // namespace fleetban::aggregator
