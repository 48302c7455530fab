#pragma once
// The fleet's decisions and the policy that makes them from host reports. Pure logic: no I/O, and
// time comes in as an argument, so every rule is unit-tested with exact instants.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "aggregator/aggregator_config.hpp"
#include "aggregator/fleet_record.hpp"
#include "aggregator/metrics.hpp"
#include "aggregator/record_table.hpp"
#include "common/event.hpp"
#include "common/history.hpp"
#include "common/seeded_hash.hpp"

namespace fleetban::aggregator {

struct ApplyResult {
  std::optional<std::string> refused;                      // why the event was not applied (it is still acked)
  RejectReason refused_because = RejectReason::malformed;  // the metric label, when refused
  std::optional<common::Decision> change;                  // a new fleet decision to broadcast, with its sequence
  // Prefix promotion changes more than one record: the prefix's decision and the end of each
  // address folded into it, to broadcast after `change`, in this order (sequences increase).
  std::vector<common::Decision> more_changes;
};

class FleetState {
 public:
  explicit FleetState(Policy policy, std::uint64_t sequence = 0);

  // One host's ban or unban, at `now`.
  ApplyResult apply(const common::Event& event, common::UnixSeconds now);

  // Ends (at most `limit`, earliest first) bans whose expiry is at or before `now`; returns the
  // resulting decisions. The rest end in the next turns: next_expiry() is still at or before `now`.
  std::vector<common::Decision> expire(common::UnixSeconds now, std::size_t limit = kMaxExpiriesPerCall);
  // Bounds one loop turn's transaction and broadcast: a wave of bans with one bantime ends in one
  // second, and a turn that commits a million unbans holds every ack (and on PostgreSQL outlasts the
  // HA lease's term).
  static constexpr std::size_t kMaxExpiriesPerCall = 10'000;
  std::optional<common::UnixSeconds> next_expiry();

  // Deletes (at most `limit`) ended records that passed forget_after by `now`: not active, changed
  // last more than forget_after ago, no report still inside report_window. A forgotten address
  // starts over: its next ban is a first ban (no escalation). Returns how many were forgotten.
  std::size_t forget(common::UnixSeconds now, std::size_t limit = kMaxForgetsPerCall);
  static constexpr std::size_t kMaxForgetsPerCall = 10'000;  // bounds one loop turn's transaction
  // Calls fn(const IpPrefix&) for each record forgotten since the last call (what must be deleted
  // from disk), then clears the list. Call it before take_changes().
  template <typename Fn>
  void take_forgotten(Fn&& fn) {
    for (const auto& prefix : forgotten_) fn(prefix);
    forgotten_.clear();
  }
  // Addresses and prefixes the fleet has a record of, active or not.
  std::size_t record_count() const { return records_.size(); }
  // Lowers the record table's capacity (tests: a full table refuses what would add a record).
  void set_record_limit(std::size_t limit) { records_.set_limit(limit); }

  // The active decisions (what a snapshot holds).
  std::vector<common::Decision> active_decisions() const;
  // The same without a copy of them all: calls fn(Decision&&) for each, one at a time, until fn
  // returns false if it returns a bool.
  template <typename Fn>
  void for_each_active(Fn&& fn) const {
    for (RecordIndex i = 0; i < records_.end(); ++i) {
      if (!records_.active(i)) continue;
      if constexpr (std::is_same_v<std::invoke_result_t<Fn&, common::Decision>, bool>) {
        if (!fn(records_.decision(i))) return;  // fn returning false ends the walk
      } else {
        fn(records_.decision(i));
      }
    }
  }
  std::size_t active_count() const { return active_count_; }
  // For readers that walk the records themselves (StateView's pages), read-only.
  const RecordTable& records() const { return records_; }
  // A copy of the record of exactly this prefix, if the fleet has one.
  std::optional<FleetRecord> find(const common::IpPrefix& prefix) const;
  // Calls fn(const FleetRecord&) once for each record changed since the last call (what must be
  // written to disk), then forgets them.
  template <typename Fn>
  void take_changes(Fn&& fn) {
    std::sort(changed_.begin(), changed_.end());
    changed_.erase(std::unique(changed_.begin(), changed_.end()), changed_.end());
    for (RecordIndex index : changed_) {
      if (records_.in_use(index)) fn(records_.get(index));  // else forgotten since
    }
    changed_.clear();
  }
  bool has_changes() const { return !changed_.empty() || !forgotten_.empty(); }

  // History: every report, refusal and decision change made since the last call, oldest first, as
  // fn(const IpPrefix&, const HistoryEntry&) (what the store keeps as history rows), then forgets
  // them. A fleet ban's row says why it lasts what it lasts, decided here where its length is.
  template <typename Fn>
  void take_history(Fn&& fn) {
    for (const auto& [prefix, entry] : history_) fn(prefix, entry);
    history_.clear();
  }
  bool has_history() const { return !history_.empty(); }

  // A hint that `prefix` is about to be looked up: starts loading its part of the index.
  void prefetch(const common::IpPrefix& prefix) const { records_.prefetch(prefix); }

  std::uint64_t sequence() const { return sequence_; }
  // Fleet bans opened since this state was made (not extensions of a ban, not restored records):
  // what the dashboard's activity chart counts.
  std::uint64_t bans_opened() const { return bans_opened_; }

  // Loading from disk.
  void restore(const FleetRecord& record);
  // The next change is numbered after `sequence` (the store's, which may be past every record's).
  void resume_sequence(std::uint64_t sequence) { sequence_ = std::max(sequence_, sequence); }
  void set_policy(Policy policy) { policy_ = std::move(policy); }
  // Ends every active ban the policy would refuse now (a widened allowlist, a raised minimum
  // prefix), as unbans to commit and broadcast like any change, changed at `now`. After set_policy()
  // and restore.
  std::vector<common::Decision> end_disallowed(common::UnixSeconds now);

  // The fleet's own links, never banned whatever the policy (a ban covering one is refused):
  // loopback always, the aggregator's own addresses as given here, and the addresses fleet members
  // connect from, as noted (the last kMaxMemberAddresses distinct ones).
  void set_own_addresses(std::vector<common::IpPrefix> addresses) { own_addresses_ = std::move(addresses); }
  void note_member_address(const common::IpPrefix& address);
  static constexpr std::size_t kMaxMemberAddresses = 4096;

 private:
  // Why the policy refuses to ban `prefix` (allowlist, minimum prefix length), if it does.
  std::optional<ApplyResult> refuses_ban(const common::IpPrefix& prefix) const;
  ApplyResult ban(const common::Event& event, common::UnixSeconds now);
  ApplyResult unban(const common::Event& event);
  ApplyResult operator_ban(const common::Event& event, common::UnixSeconds now);
  ApplyResult operator_unban(const common::Event& event);
  common::Decision& change(FleetRecord& record);
  // What a ban is opened with; open_ban() does the rest the same way for every path that bans.
  struct Opening {
    common::UnixSeconds now;                        // banned_at
    std::optional<common::UnixSeconds> expires_at;  // none: permanent
    std::chrono::seconds duration{0};               // what a re-offence escalates from (0: permanent)
    std::string reason;
  };
  // Bans the record at `index` (a report threshold reached, an operator's ban, a promotion): a new
  // sequence, active from `now` until `expires_at`, named by credit_names(Decision&), its pending
  // reports dropped, counted, its expiry tracked, written. A ban already active (an operator's
  // renewal) keeps its names and ban count. Returns the decision to broadcast.
  template <typename CreditNames>
  common::Decision open_ban(RecordIndex index, FleetRecord& record, Opening opening, CreditNames&& credit_names);
  void end_ban(FleetRecord& record);
  void track_expiry(RecordIndex index, const common::Decision& decision);
  void activated(RecordIndex index, const common::Decision& decision);
  std::optional<common::IpPrefix> promotion_group(const common::IpPrefix& prefix) const;
  void promote(const common::IpPrefix& group, common::UnixSeconds now, ApplyResult& result);
  bool is_active(const common::IpPrefix& prefix) const;
  // Writes a changed record back to the table (and notes it for take_changes()).
  void write(RecordIndex index, const FleetRecord& record);
  // The same, then returns what the change was.
  ApplyResult save(RecordIndex index, const FleetRecord& record, ApplyResult result);
  std::optional<std::chrono::seconds> duration_of(std::chrono::seconds reported) const;
  // Appends a history row about `prefix` at now_, by `by`'s host and jail (none: the fleet's own).
  void note(const common::IpPrefix& prefix, common::HistoryKind kind, bool fleet, const common::Event* by,
            std::string reason);

  common::UnixSeconds forget_time(RecordIndex index) const;
  void queue_forget(RecordIndex index, common::UnixSeconds at);

  Policy policy_;
  std::uint64_t sequence_;
  std::size_t active_count_ = 0;
  std::uint64_t bans_opened_ = 0;
  RecordTable records_;
  std::vector<RecordIndex> changed_;  // since the last take_changes()
  std::vector<common::IpPrefix> own_addresses_;
  std::unordered_set<common::IpPrefix, common::SeededPrefixHash> member_addresses_;
  std::deque<common::IpPrefix> member_order_;  // oldest first, to forget past kMaxMemberAddresses
  // For prefix promotion: the actively banned single addresses in each IPv4 /24 and IPv6 /64.
  std::unordered_map<common::IpPrefix, std::vector<common::IpPrefix>, common::SeededPrefixHash> banned_in_group_;
  // Expiry times with their record; an entry whose decision has changed since is skipped when popped.
  using Expiry = std::pair<common::UnixSeconds, RecordIndex>;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> expiries_;
  // When inactive records may be forgotten, at most one entry per record (forget_queued_ marks
  // it): checked against the record when popped, and queued again if it changed since.
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> forgets_;
  std::vector<bool> forget_queued_;          // by record index
  std::vector<common::IpPrefix> forgotten_;  // since the last take_forgotten()
  common::UnixSeconds now_{};                // of the apply() or expire() running: records' changed_at
  std::vector<std::pair<common::IpPrefix, common::HistoryEntry>> history_;  // since the last take_history()
};

}  // namespace fleetban::aggregator
