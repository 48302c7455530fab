#pragma once
// The ids of every event applied (what makes a retried event a DUPLICATE): an open-addressing
// set of 16-byte ids in one flat array, because a node-based set costs a heap node and a cache
// miss per id, and the aggregator holds millions of them and checks one per event.

#include <cstddef>
#include <vector>

#include "common/event.hpp"
#include "common/seeded_hash.hpp"

namespace fleetban::aggregator {

class EventIdSet {
 public:
  bool contains(const common::EventId& id) const;
  // Returns false when the id was there already.
  bool insert(const common::EventId& id);
  // Returns false when the id was not there. The set keeps its capacity (the ids that replace
  // the pruned ones fill it again).
  bool erase(const common::EventId& id);
  void reserve(std::size_t ids);
  void prefetch(const common::EventId& id) const;  // a hint: contains(id) comes soon
  void clear();
  std::size_t size() const { return size_ + (has_zero_ ? 1 : 0); }

 private:
  std::uint64_t hash_of(const common::EventId& id) const;
  std::size_t slot_of(const common::EventId& id) const;
  void grow_to(std::size_t capacity);

  // Linear probing; an all-zero slot is empty, so the all-zero id is kept aside in has_zero_.
  common::HashSeed seed_ = common::HashSeed::random();
  std::vector<common::EventId> slots_;
  std::size_t size_ = 0;
  bool has_zero_ = false;
};

}  // namespace fleetban::aggregator
