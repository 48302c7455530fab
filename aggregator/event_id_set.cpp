#include "aggregator/event_id_set.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

namespace fleetban::aggregator {

namespace {

constexpr common::EventId kEmpty{};
constexpr std::size_t kMinCapacity = 1024;

bool is_zero(const common::EventId& id) { return id == kEmpty; }

}  // namespace

std::uint64_t EventIdSet::hash_of(const common::EventId& id) const {
  std::uint64_t first = 0, second = 0;
  std::memcpy(&first, id.data(), sizeof first);
  std::memcpy(&second, id.data() + sizeof first, sizeof second);
  return common::seeded_hash(first, second, 0, seed_);
}

std::size_t EventIdSet::slot_of(const common::EventId& id) const {
  const std::size_t mask = slots_.size() - 1;
  std::size_t slot = hash_of(id) & mask;
  while (!is_zero(slots_[slot]) && slots_[slot] != id) slot = (slot + 1) & mask;
  return slot;
}

void EventIdSet::prefetch(const common::EventId& id) const {
  if (!slots_.empty()) __builtin_prefetch(&slots_[hash_of(id) & (slots_.size() - 1)]);
}

bool EventIdSet::contains(const common::EventId& id) const {
  if (is_zero(id)) return has_zero_;
  return !slots_.empty() && !is_zero(slots_[slot_of(id)]);
}

bool EventIdSet::insert(const common::EventId& id) {
  if (is_zero(id)) {
    bool added = !has_zero_;
    has_zero_ = true;
    return added;
  }
  // At most 7/8 full, so probes stay short.
  if ((size_ + 1) * 8 > slots_.size() * 7) grow_to(std::max(kMinCapacity, slots_.size() * 2));
  std::size_t slot = slot_of(id);
  if (!is_zero(slots_[slot])) return false;
  slots_[slot] = id;
  ++size_;
  return true;
}

bool EventIdSet::erase(const common::EventId& id) {
  if (is_zero(id)) {
    bool had = has_zero_;
    has_zero_ = false;
    return had;
  }
  if (slots_.empty()) return false;
  std::size_t hole = slot_of(id);
  if (is_zero(slots_[hole])) return false;
  // Backward-shift deletion (no tombstones): each later id of the probe run moves into the hole
  // unless the hole lies before its home slot, where a lookup would no longer reach it.
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t next = (hole + 1) & mask; !is_zero(slots_[next]); next = (next + 1) & mask) {
    std::size_t home = hash_of(slots_[next]) & mask;
    if (((hole - home) & mask) < ((next - home) & mask)) {
      slots_[hole] = slots_[next];
      hole = next;
    }
  }
  slots_[hole] = kEmpty;
  --size_;
  return true;
}

void EventIdSet::reserve(std::size_t ids) {
  std::size_t wanted = std::bit_ceil(std::max(kMinCapacity, ids + ids / 7 + 1));
  if (wanted > slots_.size()) grow_to(wanted);
}

void EventIdSet::clear() {
  slots_ = {};
  size_ = 0;
  has_zero_ = false;
}

void EventIdSet::grow_to(std::size_t capacity) {
  std::vector<common::EventId> old = std::move(slots_);
  slots_.assign(capacity, kEmpty);
  for (const auto& id : old) {
    if (!is_zero(id)) slots_[slot_of(id)] = id;
  }
}

}  // namespace fleetban::aggregator
