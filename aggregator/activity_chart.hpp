#pragma once
// The dashboard's activity chart: fleet bans per hour over 24 hours and per day over 30 days, as
// inline SVG bar charts made on the server (no script, no image fetched), each with a <title> and
// <desc> for screen readers and its numbers also as a plain table under it.

#include <string>

#include "aggregator/fleet_summary.hpp"
#include "common/time.hpp"

namespace fleetban::aggregator {

// The chart's HTML: two <figure>s (ids "chart-hours" and "chart-days"), each an <svg> with one
// <rect> a bar, and a <details> table of the numbers.
std::string render_activity_chart(const ActivityRing& activity, common::UnixSeconds now);

}  // namespace fleetban::aggregator
