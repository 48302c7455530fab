#include "aggregator/dashboard.hpp"

#include "aggregator/activity_chart.hpp"
#include "aggregator/geoip.hpp"
#include "aggregator/hosts_panel.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <utility>

namespace fleetban::aggregator {
namespace {

// The page's look: light and dark, a table that turns into one card per ban on a narrow screen.
constexpr std::string_view kStyle = R"css(
:root{color-scheme:light dark;--bg:#f5f6f8;--fg:#1c2230;--muted:#5b6577;--card:#fff;--line:#dce0e6;--accent:#b3261e;--link:#0b57d0}
@media (prefers-color-scheme:dark){:root{--bg:#101318;--fg:#e5e8ec;--muted:#98a2b3;--card:#191e25;--line:#2b323c;--accent:#ff8a80;--link:#8ab4f8}}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header,main{max-width:1200px;margin:0 auto;padding:0 16px}
header{padding-top:16px}
h1{font-size:1.4rem;margin:0 0 4px}
h2{font-size:.8rem;margin:0 0 8px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.05em}
a{color:var(--link)}
h1 a{color:inherit;text-decoration:none}
.meta,.shown{color:var(--muted);margin:0 0 12px}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:12px;margin:12px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px;min-width:0}
.num{display:block;font-size:2.4rem;font-weight:700;line-height:1.1}
.scroll{max-height:14rem;overflow:auto}
.counts{width:100%;border-collapse:collapse}
.counts th,.counts td{padding:2px 0;text-align:left;font-weight:normal;word-break:break-all}
.counts td{text-align:right;padding-left:8px;font-variant-numeric:tabular-nums}
.search{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin:16px 0 8px}
.search input{flex:1 1 16rem;min-width:0;font:inherit;padding:8px 10px;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg)}
.search button{font:inherit;padding:8px 16px;border:0;border-radius:6px;background:var(--fg);color:var(--bg);cursor:pointer}
.bans{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line)}
.bans th,.bans td{padding:8px 10px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
.bans thead th{font-size:.78rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.ip{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.bans th.ip{min-width:11rem}
.addr-title{font-size:1.6rem;color:var(--fg);text-transform:none;letter-spacing:0;margin:8px 0 12px}
.rel{display:block;color:var(--muted);font-size:.85rem}
.geo{display:block;color:var(--muted);font-size:.85rem;font-family:system-ui,sans-serif}
.perm{color:var(--accent);font-weight:600}
.reason{white-space:pre-wrap;word-break:break-word}
.none{color:var(--muted)}
.n{font-variant-numeric:tabular-nums}
.pages{display:flex;gap:16px;justify-content:flex-end;margin:12px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px;margin:12px 0}
.chart{margin:0}
.chart svg{display:block;width:100%;height:auto}
.chart .bar{fill:var(--link)}
.chart .axis{stroke:var(--line)}
.chart .tick{fill:var(--muted);font-size:11px}
.chart-sum{margin:0 0 6px;color:var(--muted)}
details{margin-top:6px;color:var(--muted);font-size:.9rem}
.tops{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:12px;margin:12px 0}
.ended{color:var(--muted);font-weight:600}
.hosts{margin:12px 0}
.scroll.tall{max-height:24rem}
.ok{color:#1e7b34}
@media (prefers-color-scheme:dark){.ok{color:#7ee2a0}}
tr.trouble th a{color:var(--accent);font-weight:600}
.search select{font:inherit;padding:8px;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg)}
.bad{color:var(--accent);font-weight:600}
.timeline{list-style:none;margin:0;padding:0;border-left:2px solid var(--line)}
.timeline li{margin:0 0 10px;padding-left:12px}
.timeline li.fleet strong{color:var(--accent)}
main>section.card{margin:12px 0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;word-break:break-word}
@media (max-width:640px){
.bans thead{display:none}
.bans,.bans tbody,.bans tr,.bans th,.bans td{display:block;width:100%}
.bans tr{border-bottom:1px solid var(--line);padding:6px 0}
.bans th,.bans td{border:0;padding:2px 10px}
.bans [data-label]::before{content:attr(data-label);display:inline-block;min-width:6.5rem;color:var(--muted);font-size:.8rem;font-weight:normal}
.rel{display:inline;margin-left:.4em;white-space:nowrap}
}
)css";

// Optional: narrows the served rows as the administrator types. Without it the form still
// searches on the server.
constexpr std::string_view kScript = R"js(
(function(){
var box=document.getElementById('q'),shown=document.getElementById('shown'),none=document.getElementById('none-live');
if(!box||!shown)return;
var rows=Array.prototype.slice.call(document.querySelectorAll('#bans tbody tr[data-search]'));
box.addEventListener('input',function(){
var v=box.value.trim().toLowerCase(),n=0;
rows.forEach(function(r){var m=r.getAttribute('data-search').indexOf(v)!==-1;r.hidden=!m;if(m)n++;});
shown.textContent=String(n);
if(none)none.hidden=n!==0||rows.length===0;
});
})();
)js";

constexpr std::string_view kSpaces = " \t\r\n\f\v";

void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
}

std::string lower_ascii(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return lower;
}

std::string_view trimmed(std::string_view text) {
  auto first = text.find_first_not_of(kSpaces);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(kSpaces);
  return text.substr(first, last - first + 1);
}

// Percent-encodes everything but RFC 3986's unreserved characters, for a link's query value.
std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') || byte == '-' ||
        byte == '.' || byte == '_' || byte == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    }
  }
  return out;
}

struct Civil {
  long long year;
  unsigned month, day;
  long long hours, minutes, seconds;
};

Civil civil(common::UnixSeconds time) {
  auto day = std::chrono::floor<std::chrono::days>(time);
  std::chrono::year_month_day ymd{day};
  std::chrono::hh_mm_ss hms{time - day};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          static_cast<long long>(hms.hours().count()),
          static_cast<long long>(hms.minutes().count()),
          static_cast<long long>(hms.seconds().count())};
}

// "2025-11-26T14:03:00Z", for <time datetime>.
std::string iso_text(common::UnixSeconds time) {
  Civil c = civil(time);
  char text[64];
  std::snprintf(text, sizeof text, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", c.year, c.month, c.day, c.hours, c.minutes,
                c.seconds);
  return text;
}

// The head of every page, up to and including <main>.
void append_page_start(std::string& out, std::string_view title, common::UnixSeconds now) {
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"referrer\" content=\"no-referrer\">\n<title>";
  append_escaped(out, title);
  out += "</title>\n<style>";
  out += kStyle;
  out +=
      "</style>\n</head>\n<body>\n<header>\n<h1><a href=\"/\">fleetban</a></h1>\n<p class=\"meta\">As of <time "
      "datetime=\"";
  out += iso_text(now);
  out += "\">";
  out += utc_text(now);
  out += "</time>.</p>\n</header>\n<main>\n";
}

void append_page_end(std::string& out, bool script) {
  out += "</main>\n";
  if (script) {
    out += "<script>";
    out += kScript;
    out += "</script>\n";
  }
  out += "</body>\n</html>\n";
}

// A link to the dashboard searching for `text`.
void append_search_link(std::string& out, std::string_view text, std::string_view title = {}) {
  out += "<a href=\"/?q=";
  append_escaped(out, url_encode(text));
  out += "\"";
  if (!title.empty()) {
    out += " title=\"";
    out += title;
    out += "\"";
  }
  out += ">";
  append_escaped(out, text);
  out += "</a>";
}

void append_ip_link(std::string& out, const std::string& address) {
  // An address's text holds only hex digits, '.', ':' and '/': nothing to encode in a path.
  out += "<a href=\"/ip/";
  append_escaped(out, address);
  out += "\">";
  append_escaped(out, address);
  out += "</a>";
}

void append_top(std::string& out, std::string_view title, std::string_view id, std::string_view what,
                const std::vector<TopCounter::Entry>& entries) {
  out += "<div class=\"card\"><h2>";
  out += title;
  out += "</h2>";
  if (entries.empty()) {
    out += "<p class=\"none\">none</p></div>\n";
    return;
  }
  out += "<table class=\"counts\" id=\"";
  out += id;
  out += "\"><caption hidden>";
  out += title;
  out += "</caption><tbody>";
  for (const auto& entry : entries) {
    out += "<tr><th scope=\"row\">";
    append_search_link(out, entry.name, "show the bans of this " + std::string(what));
    out += "</th><td>";
    out += std::to_string(entry.count);
    out += "</td></tr>";
  }
  out += "</tbody></table></div>\n";
}

// `total`: how many there are in all (a decision lists only the first 64).
void append_names(std::string& out, const std::vector<std::string>& names, std::uint32_t total) {
  if (names.empty()) {
    out += "<span class=\"none\">&mdash;</span>";
    return;
  }
  bool first = true;
  for (const auto& name : names) {
    if (!first) out += ", ";
    first = false;
    append_search_link(out, name);
  }
  if (total > names.size()) out += " <span class=\"more\">+" + std::to_string(total - names.size()) + " more</span>";
}

void append_expiry(std::string& out, const common::Decision& d, common::UnixSeconds now) {
  if (!d.active) {
    out += "<span class=\"ended\">ended</span><span class=\"rel\">last banned <time datetime=\"";
    out += iso_text(d.banned_at);
    out += "\">";
    out += utc_text(d.banned_at);
    out += "</time></span>";
  } else if (d.permanent()) {
    out += "<span class=\"perm\">permanent</span>";
  } else {
    out += "<time datetime=\"";
    out += iso_text(*d.expires_at);
    out += "\">";
    out += utc_text(*d.expires_at);
    out += "</time><span class=\"rel\">";
    out += expiry_text(d, now);
    out += "</span>";
  }
}

void append_reason(std::string& out, const std::string& reason) {
  if (reason.empty()) {
    out += "<span class=\"none\">&mdash;</span>";
  } else {
    append_escaped(out, reason);
  }
}

// A ban's fields, as the cells of its table row or as the list on its own page.
enum class Layout { row, facts };
void append_fields(std::string& out, const common::Decision& d, common::UnixSeconds now, Layout layout) {
  auto field = [&](std::string_view label, std::string_view css_class, const auto& body) {
    out += layout == Layout::row ? "<td data-label=\"" : "<dt>";
    out += label;
    out += layout == Layout::row ? "\"" : "</dt><dd";
    if (!css_class.empty()) {
      out += " class=\"";
      out += css_class;
      out += "\"";
    }
    out += ">";
    body();
    out += layout == Layout::row ? "</td>" : "</dd>";
  };
  field("Expires", "", [&] { append_expiry(out, d, now); });
  field("Reporters", "", [&] { append_names(out, d.reporters, d.reporter_count); });
  field("Jails", "", [&] { append_names(out, d.jails, d.jail_count); });
  field("Bans", "n", [&] { out += std::to_string(d.ban_count); });
  field("Reason", "reason", [&] { append_reason(out, d.reason); });
}

void append_row(std::string& out, const common::Decision& d, common::UnixSeconds now, const common::Geo* geo) {
  const std::string address = d.prefix.to_string();
  // What the live filter searches, one field a line so that no match spans two fields.
  out += "<tr data-search=\"";
  append_escaped(out, lower_ascii(address));
  if (geo != nullptr) {
    for (const auto& name : {country_name(*geo), network_name(*geo)}) {
      out += "&#10;";
      append_escaped(out, lower_ascii(name));
    }
  }
  for (const auto* names : {&d.reporters, &d.jails}) {
    for (const auto& name : *names) {
      out += "&#10;";
      append_escaped(out, lower_ascii(name));
    }
  }
  out += "\"";
  if (!d.active) out += " class=\"ended-row\"";
  out += "><th scope=\"row\" class=\"ip\" data-label=\"Address\">";
  append_ip_link(out, address);
  if (geo != nullptr) {
    out += "<span class=\"geo\">";
    append_escaped(out, country_name(*geo) + " \u00b7 " + network_name(*geo));
    out += "</span>";
  }
  out += "</th>";
  append_fields(out, d, now, Layout::row);
  out += "</tr>\n";
}

std::string_view records_name(StateView::Records records) {
  switch (records) {
    case StateView::Records::active: return "active";
    case StateView::Records::ended: return "ended";
    case StateView::Records::all: return "all";
  }
  return "active";
}

std::string_view records_label(StateView::Records records) {
  switch (records) {
    case StateView::Records::active: return "active bans";
    case StateView::Records::ended: return "ended bans";
    case StateView::Records::all: return "active and ended";
  }
  return "active bans";
}

void append_summary(std::string& out, const FleetSummary* summary, common::UnixSeconds now) {
  if (summary == nullptr) {
    out += "<p class=\"none\" id=\"summary-pending\">The counts below are being made; reload in a moment.</p>\n";
    return;
  }
  out +=
      "<section class=\"summary\" aria-label=\"Counts\">\n<div class=\"card\"><h2>Active bans</h2><span class=\"num\" "
      "id=\"total\">";
  out += std::to_string(summary->active);
  out += "</span><span class=\"none\">";
  out += std::to_string(summary->permanent);
  out += " permanent</span></div>\n<div class=\"card\"><h2>Ended, remembered</h2><span class=\"num\" id=\"ended\">";
  out += std::to_string(summary->ended);
  out += "</span><span class=\"none\">kept until forget_after</span></div>\n</section>\n";
  out += "<section class=\"charts\" aria-label=\"Activity\">\n";
  out += render_activity_chart(summary->activity, now);
  out += "</section>\n<section class=\"tops\" aria-label=\"Top lists of the active bans\">\n";
  append_top(out, "Top jails", "top-jails", "jail", summary->jails);
  append_top(out, "Top reporting hosts", "top-hosts", "host", summary->reporters);
  append_top(out, "Top IPv4 /24", "top-v4", "network", summary->networks_v4);
  append_top(out, "Top IPv6 /48", "top-v6", "network", summary->networks_v6);
  if (summary->geo) {
    append_top(out, "Top countries", "per-country", "country", summary->countries);
    append_top(out, "Top networks", "per-network", "network", summary->as_networks);
  }
  out += "</section>\n<p class=\"none\">Counts as of ";
  out += utc_text(summary->made_at);
  if (summary->approximate) out += " (top lists approximate: very many distinct names)";
  out += ".</p>\n";
}

// What a history row says happened, in a few words.
std::string_view entry_title(const common::HistoryEntry& e) {
  switch (e.kind) {
    case common::HistoryKind::ban: return e.fleet ? "Fleet ban" : "Reported";
    case common::HistoryKind::unban: return e.fleet ? "Lifted" : "Unban reported";
    case common::HistoryKind::expired: return "Expired";
    case common::HistoryKind::refused: return "Refused";
  }
  return "Event";
}

void append_timeline(std::string& out, const common::AddressHistory& history) {
  out += "<section class=\"card\" id=\"history\" aria-label=\"History\"><h2>History, newest first</h2>";
  if (history.entries.empty()) {
    out += "<p class=\"none\">Nothing kept about it (history goes back forget_after).</p></section>\n";
    return;
  }
  out += "<ol class=\"timeline\" id=\"timeline\">";
  for (const auto& e : history.entries) {
    out += "<li data-kind=\"";
    out += common::history_kind_name(e.kind);
    out += e.fleet ? "\" class=\"fleet\"><time datetime=\"" : "\"><time datetime=\"";
    out += iso_text(e.at);
    out += "\">";
    out += utc_text(e.at);
    out += "</time> <strong>";
    out += entry_title(e);
    out += "</strong>";
    if (!e.host.empty()) {
      out += " by ";
      append_search_link(out, e.host);
    }
    if (!e.jail.empty()) {
      out += " in ";
      append_search_link(out, e.jail);
    }
    if (!e.reason.empty()) {
      out += "<span class=\"rel reason\">";
      append_escaped(out, e.reason);
      out += "</span>";
    }
    out += "</li>";
  }
  out += "</ol>";
  if (history.total > history.entries.size()) {
    out += "<p class=\"none\">The newest " + std::to_string(history.entries.size()) + " of " +
           std::to_string(history.total) + " kept are shown.</p>";
  }
  out += "</section>\n";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_escaped(out, text);
  return out;
}

std::string utc_text(common::UnixSeconds time) {
  Civil c = civil(time);
  char text[64];
  std::snprintf(text, sizeof text, "%04lld-%02u-%02u %02lld:%02lld:%02lld UTC", c.year, c.month, c.day, c.hours,
                c.minutes, c.seconds);
  return text;
}

std::string expiry_text(const common::Decision& decision, common::UnixSeconds now) {
  if (decision.permanent()) return "permanent";
  long long left = (*decision.expires_at - now).count();
  if (left <= 0) return "expired";
  long long days = left / 86400, hours = left % 86400 / 3600, minutes = left % 3600 / 60, seconds = left % 60;
  if (days > 0) return "in " + std::to_string(days) + "d " + std::to_string(hours) + "h";
  if (hours > 0) return "in " + std::to_string(hours) + "h " + std::to_string(minutes) + "m";
  if (minutes > 0) return "in " + std::to_string(minutes) + "m";
  return "in " + std::to_string(seconds) + "s";
}

std::optional<StateView::Records> parse_records(std::string_view text) {
  if (text.empty() || text == "active") return StateView::Records::active;
  if (text == "ended") return StateView::Records::ended;
  if (text == "all") return StateView::Records::all;
  return std::nullopt;
}

DashboardSearch::DashboardSearch(std::string_view query, const GeoIp* geoip)
    : text_(lower_ascii(trimmed(query))), geoip_(geoip != nullptr && geoip->enabled() ? geoip : nullptr) {
  // "192.0.2.7", "198.51.100.0/24", "2001:db8::/48": what lies there. "198.51.100" stays text.
  if (!text_.empty()) prefix_ = common::IpPrefix::parse(text_);
}

bool DashboardSearch::matches(const common::Decision& d) const {
  if (text_.empty()) return true;
  if (prefix_) return prefix_->overlaps(d.prefix);
  auto contains = [&](const std::string& name) { return lower_ascii(name).find(text_) != std::string::npos; };
  if (contains(d.prefix.to_string()) || contains(d.reason)) return true;
  if (std::any_of(d.reporters.begin(), d.reporters.end(), contains) ||
      std::any_of(d.jails.begin(), d.jails.end(), contains)) {
    return true;
  }
  if (geoip_ == nullptr) return false;
  common::Geo geo = geoip_->lookup(d.prefix);
  return contains(country_name(geo)) || contains(network_name(geo));
}

std::string render_dashboard(const DashboardPage& page) {
  const FleetSummary* summary = page.summary.get();
  const bool geo_on = page.geoip != nullptr && page.geoip->enabled();
  std::string rows;
  for (const auto& d : page.bans) {
    std::optional<common::Geo> geo;
    if (geo_on) geo = page.geoip->lookup(d.prefix);
    append_row(rows, d, page.now, geo ? &*geo : nullptr);
  }
  const std::string_view search = trimmed(page.query);
  const bool ended = page.records != StateView::Records::active;

  std::string out;
  out.reserve(16384 + rows.size());
  std::string title = "fleetban: ";
  if (summary != nullptr) {
    title += std::to_string(summary->active) + (summary->active == 1 ? " active ban" : " active bans");
  } else {
    title += "the fleet's bans";
  }
  append_page_start(out, title, page.now);
  if (page.with_hosts) out += render_hosts_panel(page.hosts);
  append_summary(out, summary, page.now);

  out +=
      "<form class=\"search\" method=\"get\" action=\"/\" role=\"search\">"
      "<label for=\"q\" hidden>Search</label><input id=\"q\" type=\"search\" name=\"q\" value=\"";
  append_escaped(out, search);
  out +=
      "\" placeholder=\"Address, prefix, host, jail or reason\" autocomplete=\"off\" spellcheck=\"false\">"
      "<label for=\"records\" hidden>Which bans</label><select id=\"records\" name=\"records\">";
  for (auto records : {StateView::Records::active, StateView::Records::ended, StateView::Records::all}) {
    out += "<option value=\"";
    out += records_name(records);
    out += "\"";
    if (records == page.records) out += " selected";
    out += ">";
    out += records_label(records);
    out += "</option>";
  }
  out += "</select><button type=\"submit\">Search</button>";
  if (!search.empty() || ended) out += "<a href=\"/\">Show all active</a>";
  out += "</form>\n<p class=\"shown\"><span id=\"shown\">";
  out += std::to_string(page.bans.size());
  out += "</span> shown";
  if (page.after) out += " (a later page)";
  if (!search.empty()) {
    out += " (search: &ldquo;";
    append_escaped(out, search);
    out += "&rdquo;)";
  }
  if (ended) out += page.records == StateView::Records::ended ? " (ended bans)" : " (active and ended bans)";
  out += ".";
  // A search page looks at a bounded number of records: a short page may have more to come.
  if (page.next && page.bans.size() < kDashboardPage) out += " More of the list is searched on the next page.";
  out +=
      "</p>\n<table class=\"bans\" id=\"bans\">\n<caption hidden>The fleet&#39;s bans</caption>\n"
      "<thead><tr><th scope=\"col\">Address</th><th scope=\"col\">Expires</th><th scope=\"col\">Reporters</th>"
      "<th scope=\"col\">Jails</th><th scope=\"col\">Bans</th><th scope=\"col\">Reason</th></tr></thead>\n<tbody>\n";
  out += rows;
  if (page.bans.empty()) {
    out += "<tr class=\"none\"><td colspan=\"6\">";
    if (search.empty()) {
      out += ended ? "No ended bans here." : "No active bans here.";
    } else {
      out += "No ban here matches &ldquo;";
      append_escaped(out, search);
      out += "&rdquo;.";
    }
    out += "</td></tr>\n";
  } else {
    out += "<tr class=\"none\" id=\"none-live\" hidden><td colspan=\"6\">No ban matches.</td></tr>\n";
  }
  out += "</tbody>\n</table>\n";
  if (page.after || page.next) {
    // Plain links, so that paging works without JavaScript; the search stays with them.
    std::string keep;
    if (!search.empty()) keep += "&q=" + url_encode(search);
    if (ended) keep += "&records=" + std::string(records_name(page.records));
    out += "<nav class=\"pages\" aria-label=\"Pages\">";
    if (page.after) {
      out += "<a id=\"first-page\" href=\"/";
      if (!keep.empty()) append_escaped(out, "?" + keep.substr(1));
      out += "\">First page</a> ";
    }
    if (page.next) {
      out += "<a id=\"next-page\" rel=\"next\" href=\"/?";
      append_escaped(out, "after=" + url_encode(page.next->to_string()) + keep);
      out += "\">Next page &rarr;</a>";
    }
    out += "</nav>\n";
  }
  append_page_end(out, true);
  return out;
}

std::string render_address_page(const AddressPage& page) {
  const std::string address = page.address.to_string();
  std::string out;
  out.reserve(8192);
  append_page_start(out, "fleetban: " + address, page.now);
  out += "<h2 class=\"ip addr-title\" id=\"address\">";
  append_escaped(out, address);
  out += "</h2>\n<section class=\"card\" id=\"decision\" aria-label=\"Decision\">\n";
  if (!page.decision) {
    out += "<p>The fleet does not ban <span class=\"ip\">";
    append_escaped(out, address);
    out += "</span>, and remembers no ban of it.</p>\n</section>\n";
  } else {
    const common::Decision& d = *page.decision;
    out += "<p class=\"";
    out += d.active ? "perm" : "ended";
    out += "\" id=\"state\">";
    out += d.active ? "Banned by the fleet" : "Not banned now (an ended ban, remembered)";
    out += "</p>\n<dl class=\"facts\">";
    append_fields(out, d, page.now, Layout::facts);
    out += "<dt>Banned at</dt><dd><time datetime=\"";
    out += iso_text(d.banned_at);
    out += "\">";
    out += utc_text(d.banned_at);
    out += "</time></dd>";
    if (page.geoip != nullptr && page.geoip->enabled()) {
      common::Geo geo = page.geoip->lookup(d.prefix);
      out += "<dt>Country</dt><dd>";
      append_escaped(out, country_name(geo));
      out += "</dd><dt>Network</dt><dd>";
      append_escaped(out, network_name(geo));
      out += "</dd>";
    }
    out += "<dt>Sequence</dt><dd class=\"n\">";
    out += std::to_string(d.sequence);
    out += "</dd></dl>\n</section>\n";
  }
  if (page.history) {
    append_timeline(out, *page.history);
  } else if (!page.history_error.empty()) {
    out += "<section class=\"card\" id=\"history\"><h2>History</h2><p class=\"bad\">";
    append_escaped(out, page.history_error);
    out += "</p></section>\n";
  }
  out += "<p><a href=\"/?q=";
  append_escaped(out, url_encode(address));
  out += "&amp;records=all\">Bans that overlap it</a> &middot; <a href=\"/api/v1/bans/";
  append_escaped(out, address);
  out += "\">as JSON</a></p>\n";
  append_page_end(out, false);
  return out;
}

std::string render_error_page(std::string_view title, std::string_view message) {
  std::string out;
  append_page_start(out, "fleetban: " + std::string(title), common::now_seconds());
  out += "<section class=\"card\"><h2>";
  append_escaped(out, title);
  out += "</h2><p class=\"bad\" id=\"error\">";
  append_escaped(out, message);
  out += "</p><p><a href=\"/\">Back to the dashboard</a></p></section>\n";
  append_page_end(out, false);
  return out;
}

}  // namespace fleetban::aggregator
