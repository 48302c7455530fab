#pragma once
// Values that many records share (a fleet has a few hosts and jails but a million bans), kept once
// and referred to by a 4-byte id with a reference count. Id 0 is the empty value, never stored.

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace fleetban::aggregator {

template <typename T, typename Hash = std::hash<T>>
class InternPool {
 public:
  using Id = std::uint32_t;
  static constexpr Id kEmpty = 0;

  InternPool() : values_{nullptr}, refs_{0} {}
  InternPool(const InternPool&) = delete;  // values_ points into index_
  InternPool& operator=(const InternPool&) = delete;
  InternPool(InternPool&&) noexcept = default;
  InternPool& operator=(InternPool&&) noexcept = default;

  // One more reference to `value`; release() it when the holder lets go.
  Id acquire(const T& value) {
    if (value == T{}) return kEmpty;
    auto [it, inserted] = index_.try_emplace(value, kEmpty);
    if (inserted) {
      if (free_.empty()) {
        it->second = static_cast<Id>(values_.size());
        values_.push_back(&it->first);
        refs_.push_back(0);
      } else {
        it->second = free_.back();
        free_.pop_back();
        values_[it->second] = &it->first;
      }
    }
    ++refs_[it->second];
    return it->second;
  }

  void release(Id id) {
    if (id == kEmpty || --refs_[id] != 0) return;
    index_.erase(*values_[id]);
    values_[id] = nullptr;
    free_.push_back(id);
  }

  const T& get(Id id) const { return id == kEmpty ? empty_ : *values_[id]; }
  std::size_t size() const { return index_.size(); }  // distinct values held

 private:
  std::unordered_map<T, Id, Hash> index_;  // node-based: the keys' addresses are stable
  std::vector<const T*> values_;           // by id
  std::vector<std::uint32_t> refs_;        // by id
  std::vector<Id> free_;                   // ids released, for reuse
  T empty_{};
};

}  // namespace fleetban::aggregator
