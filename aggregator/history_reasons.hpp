#pragma once
// The words of history rows that FleetState writes: durations, reported bantimes, and why a fleet
// ban lasts what it lasts (the reported bantime or the default, the max_bantime clamp, the
// escalation step, the reporters that made min_reporters). FleetState decides the length; these
// only say it, from the same values.

#include <chrono>
#include <cstddef>
#include <string>

#include "aggregator/aggregator_config.hpp"
#include "aggregator/fleet_record.hpp"

namespace fleetban::aggregator {

// "3600 s".
std::string secs(std::chrono::seconds s);

// A reported bantime: "bantime 600 s", "permanent", "no bantime".
std::string reported_text(std::chrono::seconds bantime);

// An operator's ban: "3600 s, as asked", "604800 s: max_bantime (999999 s asked)", ...
std::string operator_length(std::chrono::seconds asked, const Policy& policy);

// Why a ban opened from `record`'s reports (its state before the ban: ban_count, last_duration)
// lasts `longest`, or is permanent. `escalated`: the escalation step's length (0: no escalation);
// `reporters`: the distinct hosts among the reports.
std::string ban_length_reason(const Policy& policy, const FleetRecord& record, std::size_t reporters, bool permanent,
                              std::chrono::seconds longest, std::chrono::seconds escalated);

}  // namespace fleetban::aggregator
