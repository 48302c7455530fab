#pragma once
// The administrators' dashboard: GET / and GET /ip/ADDR, self-contained HTML pages (inline CSS and
// SVG, a small optional inline script, no external resources) rendered on the server, so they work
// with JavaScript off. Pure functions of what the HTTP side fetched (one page of bans, the loop's
// last FleetSummary) and the clock, to be testable. Every value that came from the network
// (addresses, host names, jails, reasons, the query) is HTML-escaped.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/fleet_summary.hpp"
#include "aggregator/state_view.hpp"
#include "common/decision.hpp"
#include "common/history.hpp"
#include "common/hosts.hpp"
#include "common/time.hpp"

namespace fleetban::aggregator {

class GeoIp;

// Bans a page of the dashboard's table holds at most.
inline constexpr std::size_t kDashboardPage = 100;
// Records one search page looks at at most (each is copied and matched on the loop's thread).
inline constexpr std::size_t kDashboardSearchScan = 20'000;

// What GET / shows. The table is one page of StateView's walk (record order, as the API pages):
// the bans after `after`, at most kDashboardPage, with a link to the next page when `next` is set.
struct DashboardPage {
  std::shared_ptr<const FleetSummary> summary;  // nullptr: not counted yet
  std::vector<common::Decision> bans;
  std::optional<common::IpPrefix> after;
  std::optional<common::IpPrefix> next;
  std::string_view query;  // the search box's `q`, as given
  StateView::Records records = StateView::Records::active;
  common::UnixSeconds now{};
  const GeoIp* geoip = nullptr;  // with it on, each ban shows its country and network
  // The hosts panel (hosts_panel.hpp), when with_hosts: every admitted key; nullopt when the loop
  // did not answer.
  bool with_hosts = false;
  std::optional<common::Hosts> hosts;
};
std::string render_dashboard(const DashboardPage& page);

// The search of GET /?q=: a query that is an address or prefix keeps the bans that overlap it;
// any other keeps those whose address, a reporter, a jail, the reason (or, with GeoIP, the country
// or network) contains it, case-insensitively. A blank query keeps everything.
class DashboardSearch {
 public:
  DashboardSearch(std::string_view query, const GeoIp* geoip);
  bool empty() const { return text_.empty(); }
  bool matches(const common::Decision& decision) const;

 private:
  std::string text_;  // lower case, trimmed
  std::optional<common::IpPrefix> prefix_;
  const GeoIp* geoip_;
};

// GET /ip/ADDR: the address's decision (nullopt: the aggregator has no record of it) and its
// history as a timeline, newest first (nullopt: not read; `history_error` says why when it failed).
struct AddressPage {
  common::IpPrefix address;
  std::optional<common::Decision> decision;
  common::UnixSeconds now{};
  const GeoIp* geoip = nullptr;
  std::optional<common::AddressHistory> history;
  std::string history_error;
};
std::string render_address_page(const AddressPage& page);

// A short page for a request the dashboard cannot answer (a bad address, a bad parameter).
std::string render_error_page(std::string_view title, std::string_view message);

// Parses `records=` of GET / ("active", the default, "ended", "all"); nullopt for anything else.
std::optional<StateView::Records> parse_records(std::string_view text);

// The Content-Security-Policy the pages need: their own inline style and script, forms to
// themselves, nothing else (no fetches, images or frames from anywhere), a second line of defence
// behind the escaping.
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
