#include "aggregator/hosts_panel.hpp"

#include <algorithm>
#include <vector>

#include "aggregator/dashboard.hpp"

namespace fleetban::aggregator {
namespace {

// "12s ago", "5m ago", "3h ago", "2d ago".
std::string ago(common::UnixSeconds at, common::UnixSeconds now) {
  long long s = std::max<long long>(0, (now - at).count());
  if (s < 60) return std::to_string(s) + "s ago";
  if (s < 3600) return std::to_string(s / 60) + "m ago";
  if (s < 86400) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

void append_when(std::string& out, const std::optional<common::UnixSeconds>& at, common::UnixSeconds now) {
  if (!at) {
    out += "<span class=\"none\">never</span>";
    return;
  }
  out += "<span title=\"";
  out += utc_text(*at);
  out += "\">";
  out += ago(*at, now);
  out += "</span>";
}

bool troubled(const common::HostEntry& h) {
  return h.stale || h.behind || (h.backend_error && !h.backend_error->empty());
}

}  // namespace

std::string render_hosts_panel(const std::optional<common::Hosts>& hosts) {
  std::string out = "<section class=\"card hosts\" id=\"hosts\" aria-label=\"Hosts\"><h2>Hosts</h2>";
  if (!hosts) {
    out += "<p class=\"none\">The aggregator&#39;s loop did not answer in time; reload the page.</p></section>\n";
    return out;
  }
  std::size_t bad = 0;
  for (const auto& h : hosts->hosts) bad += troubled(h) ? 1 : 0;
  out += "<p class=\"shown\"><span id=\"hosts-total\">" + std::to_string(hosts->hosts.size()) + "</span> admitted keys";
  if (bad > 0) out += ", <span class=\"bad\" id=\"hosts-bad\">" + std::to_string(bad) + " stale or behind</span>";
  out += "; the fleet is at sequence " + std::to_string(hosts->sequence) + ".</p>";
  if (hosts->hosts.empty()) {
    out += "<p class=\"none\">No keys are admitted.</p></section>\n";
    return out;
  }
  // The ones that need a look first, then the rest as served (by kind, then name).
  std::vector<const common::HostEntry*> order;
  for (const auto& h : hosts->hosts) order.push_back(&h);
  std::stable_partition(order.begin(), order.end(), [](const auto* h) { return troubled(*h); });
  out +=
      "<div class=\"scroll tall\"><table class=\"bans\" id=\"hosts-table\"><caption hidden>Every admitted key</caption>"
      "<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Subscriber</th><th scope=\"col\">Lag</th>"
      "<th scope=\"col\">Last report</th><th scope=\"col\">Reports, 24 h</th></tr></thead><tbody>";
  for (const auto* h : order) {
    out += "<tr data-host=\"";
    out += html_escape(h->name);
    out += "\"";
    if (troubled(*h)) out += " class=\"trouble\"";
    out += "><th scope=\"row\" data-label=\"Name\"><a href=\"/?q=";
    out += html_escape(h->name);  // names are [A-Za-z0-9._@:-]: nothing to encode
    out += "\">";
    out += html_escape(h->name);
    out += "</a>";
    if (h->kind != common::HostKind::host) {
      out += " <span class=\"none\">";
      out += common::to_string(h->kind);
      out += "</span>";
    }
    out += "</th><td data-label=\"Subscriber\">";
    if (h->kind != common::HostKind::host && !h->subscriber_seen_at) {
      out += "<span class=\"none\">&mdash;</span>";
    } else {
      if (h->stale)
        out += "<span class=\"bad\">" + std::string(h->subscriber_seen_at ? "stale" : "never seen") + "</span> ";
      else
        out += "<span class=\"ok\">connected</span> ";
      if (h->subscriber_seen_at) append_when(out, h->subscriber_seen_at, hosts->now);
      if (h->backend_error && !h->backend_error->empty()) {
        out += "<span class=\"bad rel\">backend: ";
        out += html_escape(*h->backend_error);
        out += "</span>";
      }
    }
    out += "</td><td data-label=\"Lag\" class=\"n\">";
    if (!h->lag) {
      out += "<span class=\"none\">&mdash;</span>";
    } else {
      if (h->behind) out += "<span class=\"bad\">behind ";
      out += std::to_string(*h->lag);
      if (h->behind) out += "</span>";
    }
    out += "</td><td data-label=\"Last report\">";
    append_when(out, h->last_event_at, hosts->now);
    out += "</td><td data-label=\"Reports, 24 h\" class=\"n\">";
    out += std::to_string(h->events_24h);
    out += "</td></tr>";
  }
  out += "</tbody></table></div></section>\n";
  return out;
}

}  // namespace fleetban::aggregator
