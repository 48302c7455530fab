#pragma once
// The administrators' dashboard served as GET /: one self-contained HTML page (inline CSS, a small
// optional inline script, no external resources) rendered on the server, so it works with
// JavaScript off. A pure function of the decisions, the search query and the clock, to be testable.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/decision.hpp"
#include "common/time.hpp"

namespace fleetban::aggregator {

class GeoIp;

// The page for the fleet's active decisions (inactive ones are skipped). `query` is the search
// box's `q`: when not blank, the table keeps only the bans whose address, a reporter or a jail
// contains it (case-insensitively); the total and the per-host and per-jail counts always cover
// the whole fleet. The table holds one page: at most kDashboardPage bans, by address, from the first
// after `after` (`/?after=IP`), with a link to the next page when more follow, so a page of a large
// fleet stays small and paging works without JavaScript. Every value is HTML-escaped.
inline constexpr std::size_t kDashboardPage = 100;
// With `geoip` on, each ban shows its country and network, the search covers them, and the page
// counts bans per country and per network.
std::string render_dashboard(const std::vector<common::Decision>& decisions, std::string_view query,
                             common::UnixSeconds now, const std::optional<common::IpPrefix>& after = std::nullopt,
                             const GeoIp* geoip = nullptr);

// The Content-Security-Policy the page needs: its own inline style and script, forms to itself,
// nothing else (no fetches, images or frames from anywhere), a second line of defence behind the
// escaping.
inline constexpr std::string_view kDashboardContentSecurityPolicy =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'";

// "in 3h 12m", "in 2d 5h", "in 45s", "expired" (due but not yet lifted); "permanent" for none.
std::string expiry_text(const common::Decision& decision, common::UnixSeconds now);

// "2025-11-26 14:03:00 UTC".
std::string utc_text(common::UnixSeconds time);

// Text made safe to put inside an HTML element or a double- or single-quoted attribute.
std::string html_escape(std::string_view text);

}  // namespace fleetban::aggregator
