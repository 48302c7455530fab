#include "aggregator/dashboard.hpp"

#include "aggregator/geoip.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <utility>

#include "common/active_decisions.hpp"

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
.rel{display:block;color:var(--muted);font-size:.85rem}
.geo{display:block;color:var(--muted);font-size:.85rem;font-family:system-ui,sans-serif}
.perm{color:var(--accent);font-weight:600}
.reason{white-space:pre-wrap;word-break:break-word}
.none{color:var(--muted)}
.n{font-variant-numeric:tabular-nums}
.pages{display:flex;gap:16px;justify-content:flex-end;margin:12px 0}
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

// "NL" and "AS64496 Example Net": how the page names a country and a network ("unknown" if so).
std::string country_name(const common::Geo& geo) { return geo.country.empty() ? "unknown" : geo.country; }
std::string network_name(const common::Geo& geo) {
  if (geo.asn == 0) return geo.as_org.empty() ? "unknown" : geo.as_org;
  return "AS" + std::to_string(geo.asn) + (geo.as_org.empty() ? "" : " " + geo.as_org);
}

bool matches(const common::Decision& d, const std::string& address, std::string_view lower_query,
             const common::Geo* geo) {
  if (address.find(lower_query) != std::string::npos) return true;
  if (geo != nullptr && (lower_ascii(country_name(*geo)).find(lower_query) != std::string::npos ||
                         lower_ascii(network_name(*geo)).find(lower_query) != std::string::npos)) {
    return true;
  }
  auto contains = [&](const std::string& name) { return lower_ascii(name).find(lower_query) != std::string::npos; };
  return std::any_of(d.reporters.begin(), d.reporters.end(), contains) ||
         std::any_of(d.jails.begin(), d.jails.end(), contains);
}

// Names by how many active bans they appear in, most first.
std::vector<std::pair<std::string, std::size_t>> by_count(const std::map<std::string, std::size_t>& counts) {
  std::vector<std::pair<std::string, std::size_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return sorted;
}

void append_counts(std::string& out, std::string_view title, std::string_view id, std::string_view what,
                   const std::map<std::string, std::size_t>& counts) {
  out += "<div class=\"card\"><h2>";
  out += title;
  out += "</h2>";
  if (counts.empty()) {
    out += "<p class=\"none\">none</p></div>\n";
    return;
  }
  out += "<div class=\"scroll\"><table class=\"counts\" id=\"";
  out += id;
  out += "\"><caption hidden>";
  out += title;
  out += "</caption><tbody>";
  for (const auto& [name, count] : by_count(counts)) {
    out += "<tr><th scope=\"row\"><a href=\"/?q=";
    append_escaped(out, url_encode(name));
    out += "\" title=\"show the bans of this ";
    out += what;
    out += "\">";
    append_escaped(out, name);
    out += "</a></th><td>";
    out += std::to_string(count);
    out += "</td></tr>";
  }
  out += "</tbody></table></div></div>\n";
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
    out += "<a href=\"/?q=";
    append_escaped(out, url_encode(name));
    out += "\">";
    append_escaped(out, name);
    out += "</a>";
  }
  if (total > names.size()) out += " <span class=\"more\">+" + std::to_string(total - names.size()) + " more</span>";
}

void append_row(std::string& out, const common::Decision& d, const std::string& address, common::UnixSeconds now,
                const common::Geo* geo) {
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
  out += "\"><th scope=\"row\" class=\"ip\" data-label=\"Address\">";
  append_escaped(out, address);
  if (geo != nullptr) {
    out += "<span class=\"geo\">";
    append_escaped(out, country_name(*geo) + " \u00b7 " + network_name(*geo));
    out += "</span>";
  }
  out += "</th><td data-label=\"Expires\">";
  if (d.permanent()) {
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
  out += "</td><td data-label=\"Reporters\">";
  append_names(out, d.reporters, d.reporter_count);
  out += "</td><td data-label=\"Jails\">";
  append_names(out, d.jails, d.jail_count);
  out += "</td><td data-label=\"Bans\" class=\"n\">";
  out += std::to_string(d.ban_count);
  out += "</td><td data-label=\"Reason\" class=\"reason\">";
  if (d.reason.empty()) {
    out += "<span class=\"none\">&mdash;</span>";
  } else {
    append_escaped(out, d.reason);
  }
  out += "</td></tr>\n";
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

std::string render_dashboard(const std::vector<common::Decision>& decisions, std::string_view query,
                             common::UnixSeconds now, const std::optional<common::IpPrefix>& after,
                             const GeoIp* geoip) {
  std::vector<const common::Decision*> active = common::active_by_prefix(decisions);

  std::map<std::string, std::size_t> per_host, per_jail;
  std::size_t permanent = 0;
  for (const auto* d : active) {
    for (const auto& host : d->reporters) ++per_host[host];
    for (const auto& jail : d->jails) ++per_jail[jail];
    if (d->permanent()) ++permanent;
  }
  // Each active ban's country and network, looked up once for the counts, the search and the rows.
  std::vector<common::Geo> geos;
  std::map<std::string, std::size_t> per_country, per_network;
  if (geoip != nullptr && geoip->enabled()) {
    geos.reserve(active.size());
    for (const auto* d : active) {
      geos.push_back(geoip->lookup(d->prefix));
      ++per_country[country_name(geos.back())];
      ++per_network[network_name(geos.back())];
    }
  }

  std::string_view search = trimmed(query);
  std::string lower_query = lower_ascii(search);
  std::string rows;
  std::size_t shown = 0;
  std::size_t matching = 0;  // all pages
  std::size_t before = 0;    // on the pages before this one
  const common::Decision* last_shown = nullptr;
  for (std::size_t i = 0; i < active.size(); ++i) {
    const common::Decision* d = active[i];
    const common::Geo* geo = geos.empty() ? nullptr : &geos[i];
    std::string address = d->prefix.to_string();
    if (!search.empty() && !matches(*d, address, lower_query, geo)) continue;
    ++matching;
    if (after && !(*after < d->prefix)) {
      ++before;
    } else if (shown < kDashboardPage) {
      append_row(rows, *d, address, now, geo);
      ++shown;
      last_shown = d;
    }
  }
  const bool more = before + shown < matching;

  const std::string total = std::to_string(active.size());
  std::string out;
  out.reserve(8192 + rows.size());
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"referrer\" content=\"no-referrer\">\n<title>fleetban: ";
  out += total;
  out += active.size() == 1 ? " active ban" : " active bans";
  out += "</title>\n<style>";
  out += kStyle;
  out +=
      "</style>\n</head>\n<body>\n<header>\n<h1>fleetban</h1>\n<p class=\"meta\">The fleet&#39;s bans as of <time "
      "datetime=\"";
  out += iso_text(now);
  out += "\">";
  out += utc_text(now);
  out +=
      "</time>.</p>\n</header>\n<main>\n<section class=\"summary\" aria-label=\"Counts\">\n"
      "<div class=\"card\"><h2>Active bans</h2><span class=\"num\" id=\"total\">";
  out += total;
  out += "</span><span class=\"none\">";
  out += std::to_string(permanent);
  out += " permanent</span></div>\n";
  append_counts(out, "Per host", "per-host", "host", per_host);
  append_counts(out, "Per jail", "per-jail", "jail", per_jail);
  if (!geos.empty()) {
    append_counts(out, "Top countries", "per-country", "country", per_country);
    append_counts(out, "Top networks", "per-network", "network", per_network);
  }
  out +=
      "</section>\n<form class=\"search\" method=\"get\" action=\"/\" role=\"search\">"
      "<label for=\"q\" hidden>Search</label><input id=\"q\" type=\"search\" name=\"q\" value=\"";
  append_escaped(out, search);
  out +=
      "\" placeholder=\"Address, host or jail\" autocomplete=\"off\" spellcheck=\"false\">"
      "<button type=\"submit\">Search</button>";
  if (!search.empty()) out += "<a href=\"/\">Show all</a>";
  out += "</form>\n<p class=\"shown\"><span id=\"shown\">";
  out += std::to_string(shown);
  out += "</span> of ";
  out += total;
  out += " shown";
  if (after || more) {
    out += " (page: ";
    out += std::to_string(shown == 0 ? before : before + 1);
    out += "&ndash;";
    out += std::to_string(before + shown);
    out += " of ";
    out += std::to_string(matching);
    out += ")";
  }
  if (!search.empty()) {
    out += " (search: &ldquo;";
    append_escaped(out, search);
    out += "&rdquo;)";
  }
  out +=
      ".</p>\n<table class=\"bans\" id=\"bans\">\n<caption hidden>The fleet&#39;s active bans</caption>\n"
      "<thead><tr><th scope=\"col\">Address</th><th scope=\"col\">Expires</th><th scope=\"col\">Reporters</th>"
      "<th scope=\"col\">Jails</th><th scope=\"col\">Bans</th><th scope=\"col\">Reason</th></tr></thead>\n<tbody>\n";
  out += rows;
  if (shown == 0) {
    out += "<tr class=\"none\"><td colspan=\"6\">";
    if (search.empty()) {
      out += "No active bans.";
    } else {
      out += "No ban matches &ldquo;";
      append_escaped(out, search);
      out += "&rdquo;.";
    }
    out += "</td></tr>\n";
  } else {
    out += "<tr class=\"none\" id=\"none-live\" hidden><td colspan=\"6\">No ban matches.</td></tr>\n";
  }
  out += "</tbody>\n</table>\n";
  if (after || more) {
    // Plain links, so that paging works without JavaScript; the search stays with them.
    std::string q = search.empty() ? std::string() : "q=" + url_encode(search);
    out += "<nav class=\"pages\" aria-label=\"Pages\">";
    if (after) {
      out += "<a id=\"first-page\" href=\"/";
      if (!q.empty()) append_escaped(out, "?" + q);
      out += "\">First page</a> ";
    }
    if (more && last_shown != nullptr) {
      out += "<a id=\"next-page\" rel=\"next\" href=\"/?";
      append_escaped(out, (q.empty() ? "" : q + "&") + "after=" + url_encode(last_shown->prefix.to_string()));
      out += "\">Next page &rarr;</a>";
    }
    out += "</nav>\n";
  }
  out += "</main>\n<script>";
  out += kScript;
  out += "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace fleetban::aggregator
