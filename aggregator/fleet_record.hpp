#pragma once
// What the aggregator keeps about one address or prefix: the current decision, the recent reports
// that count toward min_reporters, and what escalation needs. FleetState keeps it compactly in a
// RecordTable and hands out copies of it; Store persists it.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/decision.hpp"
#include "common/time.hpp"

namespace fleetban::aggregator {

struct Report {
  std::string host_id;
  std::string jail;
  common::UnixSeconds at{};
  std::chrono::seconds bantime{0};  // as reported: -1 permanent, 0 not given

  friend bool operator==(const Report&, const Report&) = default;
};

// Bounds memory per address: one report per (host, jail), at most this many (the newest). The
// store reads back no more than this either.
inline constexpr std::size_t kMaxReportsPerRecord = 256;

struct FleetRecord {
  common::Decision decision;
  std::vector<Report> reports;            // not yet turned into a ban, newest last
  std::chrono::seconds last_duration{0};  // of the last fleet ban (0: permanent or never banned)
  // When FleetState last changed the record (a report, a ban, its end): forget_after counts from
  // here once the record is inactive. 0 in records written before it was kept.
  common::UnixSeconds changed_at{};
};

}  // namespace fleetban::aggregator
