#pragma once
// What the dashboard shows beside its table of bans: the fleet's bans per hour and per day, and the
// top jails, reporters, prefixes, countries and networks of the active bans. The service loop keeps
// it (SummaryKeeper::step, every turn) and the HTTP thread reads the last one made (latest()), the
// same discipline as StateView: the loop never shares FleetState, a reader never walks it.
//
// The counts per hour and day come from FleetState::bans_opened() (new fleet bans, not extensions
// or reports), kept in a fixed ring of 24 hours and 30 days in memory: a restart starts it afresh.
// The top lists come from a walk of the record table made kSweepChunk records a turn, so the loop
// never spends more than a chunk's time on it, whatever the size of the fleet; a walk starts only
// while somebody looks (a dashboard asked for it in the last kWantedFor) and the state changed.

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "aggregator/record_table.hpp"
#include "common/time.hpp"

namespace fleetban::aggregator {

class FleetState;
class GeoIp;

// Fleet bans per hour (24) and per day (30), UTC. Each bucket remembers which hour or day it
// counts, so a bucket left from an earlier round of the ring reads as zero.
class ActivityRing {
 public:
  static constexpr std::size_t kHours = 24;
  static constexpr std::size_t kDays = 30;

  void add(common::UnixSeconds at, std::uint64_t bans);

  // The last kHours hours (kDays days) up to and including the one `now` is in, oldest first.
  std::array<std::uint64_t, kHours> hourly(common::UnixSeconds now) const;
  std::array<std::uint64_t, kDays> daily(common::UnixSeconds now) const;

 private:
  struct Bucket {
    std::int64_t period = -1;  // hours (days) since the epoch
    std::uint64_t count = 0;
  };
  std::array<Bucket, kHours> hours_{};
  std::array<Bucket, kDays> days_{};
};

// Counts names and keeps the heaviest in bounded memory: past 2 x kKept names it drops the
// lightest (Misra-Gries: every count is lowered by the (kKept+1)th largest), so a name holding
// more than 1/kKept of all counts is always kept; exact while fewer than 2 x kKept names were seen.
class TopCounter {
 public:
  static constexpr std::size_t kKept = 2048;
  struct Entry {
    std::string name;
    std::uint64_t count = 0;
  };

  void add(const std::string& name);
  // The `n` largest, largest first (ties by name).
  std::vector<Entry> top(std::size_t n) const;
  // Whether names were dropped: the counts shown are then lower bounds.
  bool approximate() const { return approximate_; }

 private:
  void reduce();
  std::unordered_map<std::string, std::uint64_t> counts_;
  bool approximate_ = false;
};

// One finished walk of the state, and the ring as of its end.
struct FleetSummary {
  static constexpr std::size_t kTop = 10;  // entries in each top list

  common::UnixSeconds made_at{};  // when the walk ended
  std::uint64_t sequence = 0;     // the state's sequence when the walk started
  std::size_t active = 0;
  std::size_t permanent = 0;
  std::size_t ended = 0;  // remembered, no longer banned (until forget_after)
  std::vector<TopCounter::Entry> jails, reporters, networks_v4, networks_v6, countries, as_networks;
  bool approximate = false;  // a top list dropped names (very many distinct prefixes or networks)
  bool geo = false;          // countries and networks were looked up
  ActivityRing activity;
};

class SummaryKeeper {
 public:
  static constexpr std::size_t kSweepChunk = 4096;  // records walked a turn at most
  static constexpr std::chrono::seconds kWantedFor{600};
  // Between the starts of two walks that take more than one turn (a walk of one turn may follow
  // the last at once: it costs no more than a chunk).
  static constexpr std::chrono::seconds kMinInterval{1};

  // Loop side, each turn: counts the bans opened since the last call, and walks on.
  void step(const FleetState& state, const GeoIp* geoip, common::UnixSeconds now);

  // Reader side: the last summary (nullptr before the first walk ends). Marks the summary wanted.
  // If there is none yet, or the state changed since the last walk and that walk took one turn (a
  // small fleet), waits up to `wait` for the next; a large fleet's reader gets the last at once.
  std::shared_ptr<const FleetSummary> latest(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));
  // Reader side: marks the summary wanted without waiting (before a request that wakes the loop,
  // so that the walk starts in the same turn).
  void want();

 private:
  struct Walk {
    RecordIndex next = 0;
    FleetSummary summary;
    TopCounter jails, reporters, v4, v6, countries, networks;
  };
  void walk_on(const FleetState& state, const GeoIp* geoip, common::UnixSeconds now);

  // Loop only.
  ActivityRing activity_;
  std::optional<std::uint64_t> bans_seen_;  // FleetState::bans_opened() at the last step
  std::optional<Walk> walk_;
  std::uint64_t walked_sequence_ = 0;  // the state's sequence at the start of the last walk
  bool walked_once_ = false;
  common::UnixSeconds last_start_{};
  std::size_t walk_turns_ = 0;  // turns the walk under way has taken

  // Shared.
  std::mutex mutex_;
  std::condition_variable published_;
  std::shared_ptr<const FleetSummary> latest_;
  std::uint64_t state_sequence_ = 0;  // the loop's, as of its last step
  bool quick_ = false;                // the last walk took one turn
  std::chrono::steady_clock::time_point wanted_until_{};
};

}  // namespace fleetban::aggregator
