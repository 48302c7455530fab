#pragma once
// What this host enforces, kept in step with the fleet: applies broadcast decisions one by one,
// reconciles the backend with each snapshot, honours the host allowlist, ends bans at their expiry
// even when the aggregator is away, and retries what the backend failed to do.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/seeded_hash.hpp"
#include "subscriber/backend.hpp"

namespace fleetban::subscriber {

class Enforcer {
 public:
  // `aggregator`: the addresses this host reaches the aggregator at. Neither they nor loopback are
  // ever enforced: a ban of them would cut this host off from the fleet, and so from the unban.
  Enforcer(std::unique_ptr<Backend> backend, std::vector<common::IpPrefix> allowlist,
           std::vector<common::IpPrefix> aggregator = {});

  // One broadcast decision (a ban, a change, or the end of a ban).
  void apply(const common::Decision& decision, common::UnixSeconds now);
  // Several, in sequence order, with one backend call for their bans and one for their unbans.
  // received_us (when tracing: when each decision arrived) makes it log a `trace seq=N` line for each.
  void apply(std::span<const common::Decision> decisions, common::UnixSeconds now,
             std::span<const std::int64_t> received_us = {});

  // After a snapshot: make the backend hold exactly the snapshot's active decisions.
  void reconcile(const std::vector<common::Decision>& snapshot, common::UnixSeconds now);

  // Lifts what has expired, and retries what failed before.
  void tick(common::UnixSeconds now);

  // Whether the backend still holds what it was told (see Backend::intact()).
  bool backend_intact() { return backend_->intact(); }

  // What is wrong with the backend for the report-in: "" while everything it was told took.
  std::string backend_error() const;

  // Seeded: the fleet's decisions carry addresses an attacker may choose (common/seeded_hash.hpp).
  using EnforcedTable = std::unordered_map<common::IpPrefix, common::Decision, common::SeededPrefixHash>;
  const EnforcedTable& enforced() const { return enforced_; }

 private:
  // Why this host does not enforce a ban of `prefix` (host allowlist, own link), if it does not.
  const char* not_enforced(const common::IpPrefix& prefix) const;
  void ban(std::vector<common::Decision> decisions);
  void unban(std::vector<common::IpPrefix> prefixes);
  // What a background backend (exec) failed to do since: retried like an immediate failure.
  void take_late_failures();
  // Records when an enforced ban ends, for tick().
  void track_expiry(const common::Decision& decision);

  std::unique_ptr<Backend> backend_;
  std::vector<common::IpPrefix> allowlist_;
  std::vector<common::IpPrefix> aggregator_;
  // What the backend was told to enforce. Hashed, not ordered: every decision looks its prefix up
  // here, and in a std::map of the fleet's bans that was a dozen cold nodes per wake, 7 % of the
  // main thread's time in P2 (bench/README.md, "Three runs in a row").
  EnforcedTable enforced_;
  // When each enforced ban ends, soonest first, so that tick() looks only at what has expired: a
  // subscriber holding many bans wakes for every decision, and a walk of them all on each wake was
  // most of its work (bench/README.md, P2's tail). Entries of bans changed or lifted since are
  // stale: skipped when they come up, and dropped when they outnumber the bans.
  using Expiry = std::pair<common::UnixSeconds, common::IpPrefix>;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> expiries_;
  // What the backend failed to do, by prefix: a newer decision finds and replaces its retry in
  // log time (a backend down while the fleet holds a million bans fails them all; a walk of them
  // per decision made the subscriber fall behind its heartbeats).
  std::map<common::IpPrefix, common::Decision> failed_bans_;
  std::set<common::IpPrefix> failed_unbans_;
  // Retries of what the backend failed to do back off from 1 s to 60 s, and reset on success.
  std::chrono::seconds retry_delay_{1};
  common::UnixSeconds next_retry_{};
};

}  // namespace fleetban::subscriber
