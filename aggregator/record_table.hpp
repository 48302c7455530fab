#pragma once
// Every address and prefix the fleet has a record of, in compact form: a million active bans must
// fit in a few hundred MB. A record is 72 bytes in chunked storage (never moved, never freed: an
// ended ban stays, as escalation remembers it), found through an open-addressing index of 8-byte
// slots. Reporter lists, jail lists and reasons are interned, because a fleet has few hosts and
// jails but many bans. Pending reports, rare once banned, live in a side table.
//
// Callers read a record as a FleetRecord (get), change it, and write it back (set).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "aggregator/fleet_record.hpp"
#include "aggregator/intern_pool.hpp"
#include "aggregator/seeded_hash.hpp"

namespace fleetban::aggregator {

using RecordIndex = std::uint32_t;

class RecordTable {
 public:
  RecordTable() = default;
  RecordTable(RecordTable&&) noexcept = default;
  RecordTable& operator=(RecordTable&&) noexcept = default;

  std::optional<RecordIndex> find(const common::IpPrefix& prefix) const;
  // The record of `prefix`, added empty (inactive, never banned) if there was none.
  RecordIndex find_or_add(const common::IpPrefix& prefix);
  void prefetch(const common::IpPrefix& prefix) const;  // a hint: find() of it comes soon

  FleetRecord get(RecordIndex index) const;
  void set(RecordIndex index, const FleetRecord& record);  // record.decision.prefix must not change

  // Reads that need no copy of the names.
  const common::IpPrefix& prefix(RecordIndex index) const { return entry(index).prefix; }
  bool active(RecordIndex index) const { return entry(index).active; }
  std::optional<common::UnixSeconds> expires_at(RecordIndex index) const;
  common::Decision decision(RecordIndex index) const;

  // Indexes run from 0 to size() - 1, in the order records were added.
  std::size_t size() const { return size_; }

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
    std::uint32_t ban_count = 0;
    NamesId reporters = 0;
    std::uint64_t sequence = 0;
    common::UnixSeconds banned_at{};
    common::UnixSeconds expires_at{};  // unless permanent
    std::chrono::seconds last_duration{0};
    NamesId jails = 0;
    NamesId reason = 0;
  };
  static constexpr unsigned kChunkBits = 16;  // 65,536 records (4.7 MB) per chunk

  Entry& entry(RecordIndex index) { return chunks_[index >> kChunkBits][index & ((1U << kChunkBits) - 1)]; }
  const Entry& entry(RecordIndex index) const { return chunks_[index >> kChunkBits][index & ((1U << kChunkBits) - 1)]; }
  std::uint32_t hash32(const common::IpPrefix& prefix) const;
  std::size_t slot_of(const common::IpPrefix& prefix, std::uint32_t hash) const;
  void grow_index(std::size_t capacity);

  HashSeed seed_ = HashSeed::random();
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  std::size_t size_ = 0;
  // Open addressing, linear probing: (32 bits of the key's hash << 32) | (index + 1); 0 is empty.
  std::vector<std::uint64_t> slots_;
  InternPool<std::vector<std::string>, NamesHash> names_;  // reporter and jail lists
  InternPool<std::string> reasons_;
  std::unordered_map<RecordIndex, std::vector<Report>> reports_;
};

}  // namespace fleetban::aggregator
