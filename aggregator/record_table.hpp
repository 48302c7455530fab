#pragma once
// Every address and prefix the fleet has a record of, in compact form: a million active bans must
// fit in a few hundred MB. A record is 80 bytes in chunked storage (never moved), found through an
// open-addressing index of 8-byte slots. An erased record's slot goes on a free list and is reused
// by the next record added, so a fleet that keeps forgetting old records stays the same size.
// Reporter lists, jail lists and reasons are interned, because a fleet has few hosts and jails but
// many bans. Pending reports, rare once banned, live in a side table, and so do the reporter and
// jail totals of the rare decisions whose totals exceed their (64-name) lists: for every other
// record the totals are the lists' sizes, and cost no bytes.
//
// Callers read a record as a FleetRecord (get), change it, and write it back (set).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aggregator/fleet_record.hpp"
#include "aggregator/intern_pool.hpp"
#include "common/seeded_hash.hpp"

namespace fleetban::aggregator {

using RecordIndex = std::uint32_t;

class RecordTable {
 public:
  RecordTable() = default;
  RecordTable(RecordTable&&) noexcept = default;
  RecordTable& operator=(RecordTable&&) noexcept = default;

  // At most this many records at once: index + 1 must fit in 32 bits.
  static constexpr std::size_t kMaxRecords = std::numeric_limits<RecordIndex>::max() - 1;

  std::optional<RecordIndex> find(const common::IpPrefix& prefix) const;
  // The record of `prefix`, added empty (inactive, never banned) if there was none. Throws
  // std::length_error when the table holds limit() records already.
  RecordIndex find_or_add(const common::IpPrefix& prefix);
  // Removes the record: its prefix is no longer found, its names are released, and its index is
  // free for the next record added. Erasing an index not in use is a bug.
  void erase(RecordIndex index);
  void prefetch(const common::IpPrefix& prefix) const;  // a hint: find() of it comes soon

  FleetRecord get(RecordIndex index) const;
  void set(RecordIndex index, const FleetRecord& record);  // record.decision.prefix must not change

  // Reads that need no copy of the names.
  const common::IpPrefix& prefix(RecordIndex index) const { return entry(index).prefix; }
  bool active(RecordIndex index) const { return entry(index).active; }
  std::optional<common::UnixSeconds> expires_at(RecordIndex index) const;
  void set_changed_at(RecordIndex index, common::UnixSeconds at) { entry(index).changed_at = at; }
  common::Decision decision(RecordIndex index) const;

  // Records held. Indexes in use lie below end(); an index below it not in use reads as an
  // empty, inactive record (in_use() says which).
  std::size_t size() const { return size_; }
  RecordIndex end() const { return end_; }
  bool in_use(RecordIndex index) const { return index < end_ && entry(index).in_use; }

  // Lowers the number of records the table may hold (tests; the default is kMaxRecords).
  void set_limit(std::size_t limit) { limit_ = std::min(limit, kMaxRecords); }
  std::size_t limit() const { return limit_; }

  // Distinct reporter/jail lists and reasons held (they are released with the last record using them).
  std::size_t interned_names() const { return names_.size(); }
  std::size_t interned_reasons() const { return reasons_.size(); }

 private:
  using NamesId = InternPool<std::vector<std::string>>::Id;
  struct NamesHash {
    std::size_t operator()(const std::vector<std::string>& names) const noexcept;
  };

  struct Entry {
    common::IpPrefix prefix;
    bool active = false;
    bool permanent = false;
    bool has_reports = false;  // reports_ holds this record's pending reports
    bool in_use = false;       // false: erased (or never used), on free_
    bool has_totals = false;   // totals_ holds its reporter and jail totals (else the lists' sizes)
    std::uint32_t ban_count = 0;
    NamesId reporters = 0;
    std::uint64_t sequence = 0;
    common::UnixSeconds banned_at{};
    common::UnixSeconds expires_at{};  // unless permanent
    common::UnixSeconds changed_at{};
    std::chrono::seconds last_duration{0};
    NamesId jails = 0;
    NamesId reason = 0;
  };
  static constexpr unsigned kChunkBits = 16;  // 65,536 records (4.7 MB) per chunk

  Entry& entry(RecordIndex index) { return chunks_[index >> kChunkBits][index & ((1U << kChunkBits) - 1)]; }
  const Entry& entry(RecordIndex index) const { return chunks_[index >> kChunkBits][index & ((1U << kChunkBits) - 1)]; }
  std::uint32_t hash32(const common::IpPrefix& prefix) const;
  std::size_t slot_of(const common::IpPrefix& prefix, std::uint32_t hash) const;
  void remove_from_index(std::size_t slot);
  void grow_index(std::size_t capacity);

  common::HashSeed seed_ = common::HashSeed::random();
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  std::size_t size_ = 0;
  RecordIndex end_ = 0;            // indexes ever handed out
  std::vector<RecordIndex> free_;  // erased indexes below end_, reused first
  std::size_t limit_ = kMaxRecords;
  // Open addressing, linear probing: (32 bits of the key's hash << 32) | (index + 1); 0 is empty.
  std::vector<std::uint64_t> slots_;
  InternPool<std::vector<std::string>, NamesHash> names_;  // reporter and jail lists
  InternPool<std::string> reasons_;
  std::unordered_map<RecordIndex, std::vector<Report>> reports_;
  std::unordered_map<RecordIndex, std::pair<std::uint32_t, std::uint32_t>> totals_;  // reporters, jails
};

}  // namespace fleetban::aggregator
