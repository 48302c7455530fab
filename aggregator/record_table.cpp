#include "aggregator/record_table.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <tuple>

namespace fleetban::aggregator {

namespace {

constexpr std::size_t kMinSlots = 1024;

// Swaps the interned value behind `id` for `value` (acquiring first: it may be the same value).
template <typename Pool, typename T>
void reassign(Pool& pool, typename Pool::Id& id, const T& value) {
  auto fresh = pool.acquire(value);
  pool.release(id);
  id = fresh;
}

}  // namespace

std::uint32_t RecordTable::hash32(const common::IpPrefix& prefix) const {
  return static_cast<std::uint32_t>(common::seeded_hash(prefix, seed_) >> 32);
}

std::size_t RecordTable::NamesHash::operator()(const std::vector<std::string>& names) const noexcept {
  std::size_t h = names.size();
  for (const auto& name : names) h = h * 0x9e3779b97f4a7c15ULL + std::hash<std::string>{}(name);
  return h;
}

std::size_t RecordTable::slot_of(const common::IpPrefix& prefix, std::uint32_t hash) const {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = hash & mask;; slot = (slot + 1) & mask) {
    std::uint64_t value = slots_[slot];
    if (value == 0) return slot;
    if ((value >> 32) == hash && entry(static_cast<RecordIndex>(value - 1)).prefix == prefix) return slot;
  }
}

std::optional<RecordIndex> RecordTable::find(const common::IpPrefix& prefix) const {
  if (slots_.empty()) return std::nullopt;
  std::uint64_t value = slots_[slot_of(prefix, hash32(prefix))];
  if (value == 0) return std::nullopt;
  return static_cast<RecordIndex>(value - 1);
}

void RecordTable::prefetch(const common::IpPrefix& prefix) const {
  if (!slots_.empty()) __builtin_prefetch(&slots_[hash32(prefix) & (slots_.size() - 1)]);
}

RecordIndex RecordTable::find_or_add(const common::IpPrefix& prefix) {
  // The index stays at most 3/4 full.
  if ((size_ + 1) * 4 > slots_.size() * 3) grow_index(std::max(kMinSlots, slots_.size() * 2));
  std::uint32_t hash = hash32(prefix);
  std::size_t slot = slot_of(prefix, hash);
  if (slots_[slot] != 0) return static_cast<RecordIndex>(slots_[slot] - 1);
  if (size_ >= limit_) throw std::length_error("the record table is full (" + std::to_string(size_) + " records)");
  RecordIndex index = 0;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = end_++;
    if ((index >> kChunkBits) == chunks_.size()) chunks_.push_back(std::make_unique<Entry[]>(1U << kChunkBits));
  }
  Entry& e = entry(index);
  e.prefix = prefix;
  e.in_use = true;
  ++size_;
  slots_[slot] = (std::uint64_t{hash} << 32) | (std::uint64_t{index} + 1);
  return index;
}

void RecordTable::erase(RecordIndex index) {
  Entry& e = entry(index);
  remove_from_index(slot_of(e.prefix, hash32(e.prefix)));
  names_.release(e.reporters);
  names_.release(e.jails);
  reasons_.release(e.reason);
  if (e.has_reports) reports_.erase(index);
  if (e.has_totals) totals_.erase(index);
  e = Entry{};
  free_.push_back(index);
  --size_;
}

// Backward-shift deletion: no tombstones, so lookups never slow down however many records come
// and go. Each later slot of the probe run moves into the hole unless the hole lies before its
// home slot (cyclically), where a lookup would no longer reach it.
void RecordTable::remove_from_index(std::size_t hole) {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t next = (hole + 1) & mask; slots_[next] != 0; next = (next + 1) & mask) {
    std::size_t home = (slots_[next] >> 32) & mask;
    // Distances from home: the entry may move to the hole if the hole is no further from home than it is.
    if (((hole - home) & mask) < ((next - home) & mask)) {
      slots_[hole] = slots_[next];
      hole = next;
    }
  }
  slots_[hole] = 0;
}

void RecordTable::grow_index(std::size_t capacity) {
  std::vector<std::uint64_t> old = std::move(slots_);
  slots_.assign(capacity, 0);
  const std::size_t mask = capacity - 1;
  for (std::uint64_t value : old) {
    if (value == 0) continue;
    std::size_t slot = (value >> 32) & mask;
    while (slots_[slot] != 0) slot = (slot + 1) & mask;
    slots_[slot] = value;
  }
}

std::optional<common::UnixSeconds> RecordTable::expires_at(RecordIndex index) const {
  const Entry& e = entry(index);
  return e.permanent ? std::nullopt : std::optional(e.expires_at);
}

common::Decision RecordTable::decision(RecordIndex index) const {
  const Entry& e = entry(index);
  common::Decision d{.sequence = e.sequence,
                     .prefix = e.prefix,
                     .active = e.active,
                     .banned_at = e.banned_at,
                     .expires_at = expires_at(index),
                     .reporters = names_.get(e.reporters),
                     .jails = names_.get(e.jails),
                     .reporter_count = 0,
                     .jail_count = 0,
                     .ban_count = e.ban_count,
                     .reason = reasons_.get(e.reason)};
  if (e.has_totals) {
    std::tie(d.reporter_count, d.jail_count) = totals_.at(index);
  } else {
    d.reporter_count = static_cast<std::uint32_t>(d.reporters.size());
    d.jail_count = static_cast<std::uint32_t>(d.jails.size());
  }
  return d;
}

FleetRecord RecordTable::get(RecordIndex index) const {
  const Entry& e = entry(index);
  FleetRecord record{
      .decision = decision(index), .reports = {}, .last_duration = e.last_duration, .changed_at = e.changed_at};
  if (e.has_reports) record.reports = reports_.at(index);
  return record;
}

void RecordTable::set(RecordIndex index, const FleetRecord& record) {
  Entry& e = entry(index);
  const common::Decision& d = record.decision;
  e.active = d.active;
  e.permanent = !d.expires_at;
  e.ban_count = d.ban_count;
  e.sequence = d.sequence;
  e.banned_at = d.banned_at;
  e.expires_at = d.expires_at.value_or(common::UnixSeconds{});
  e.last_duration = record.last_duration;
  e.changed_at = record.changed_at;
  reassign(names_, e.reporters, d.reporters);
  reassign(names_, e.jails, d.jails);
  reassign(reasons_, e.reason, d.reason);
  if (d.reporter_count > d.reporters.size() || d.jail_count > d.jails.size()) {
    totals_.insert_or_assign(index, std::pair(d.reporter_count, d.jail_count));
    e.has_totals = true;
  } else if (e.has_totals) {
    totals_.erase(index);
    e.has_totals = false;
  }
  if (!record.reports.empty()) {
    reports_.insert_or_assign(index, record.reports);
    e.has_reports = true;
  } else if (e.has_reports) {
    reports_.erase(index);
    e.has_reports = false;
  }
}

}  // namespace fleetban::aggregator
