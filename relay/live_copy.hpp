#pragma once
// The relay's live copy of the fleet's active decisions, by the Clone pattern: a snapshot replaces
// it, each decision after it (in sequence order, as the Clone client hands them on) updates it.
// From it the relay answers its own hosts' snapshot and status requests, so a host's reconnect or
// an aggregator failover costs the aggregator one snapshot per relay, not one per host.

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include "common/decision.hpp"
#include "common/ip_prefix.hpp"
#include "common/seeded_hash.hpp"

namespace fleetban::relay {

class LiveCopy {
 public:
  // Whether a snapshot has been taken: before it, the relay has nothing to serve.
  bool ready() const { return ready_; }
  std::uint64_t sequence() const { return sequence_; }
  const std::string& incarnation() const { return incarnation_; }
  std::size_t active() const { return decisions_.size(); }

  void replace(std::uint64_t sequence, std::string incarnation, std::vector<common::Decision> active);
  // The next decision (sequence() + 1, as the Clone client checked): an active one is kept (it
  // replaces what its prefix had), an ended one removed.
  void apply(const common::Decision& decision);
  // Calls `take` with a copy of each active decision until it returns false (SnapshotServer's walk).
  void for_each_active(const std::function<bool(common::Decision&&)>& take) const;

 private:
  bool ready_ = false;
  std::uint64_t sequence_ = 0;
  std::string incarnation_;
  // Seeded: the fleet's decisions carry addresses an attacker may choose (common/seeded_hash.hpp).
  std::unordered_map<common::IpPrefix, common::Decision, common::SeededPrefixHash> decisions_;
};

}  // namespace fleetban::relay
