#include "aggregator/activity_chart.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <span>

namespace fleetban::aggregator {
namespace {

constexpr int kWidth = 600, kHeight = 140, kTop = 8, kBottom = 22;  // the SVG's own units

// "14:00" for an hour bucket, "11-25" for a day bucket (UTC).
std::string label(common::UnixSeconds start, bool hours) {
  auto day = std::chrono::floor<std::chrono::days>(start);
  std::chrono::year_month_day ymd{day};
  char text[16];
  if (hours) {
    auto hour = std::chrono::duration_cast<std::chrono::hours>(start - day).count();
    std::snprintf(text, sizeof text, "%02d:00", static_cast<int>(hour));
  } else {
    std::snprintf(text, sizeof text, "%02u-%02u", static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  }
  return text;
}

std::string plural(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " ban" : " bans"); }

void append_chart(std::string& out, std::string_view id, std::string_view title, std::string_view unit,
                  std::span<const std::uint64_t> counts, common::UnixSeconds first, std::chrono::seconds step) {
  const bool hours = step == std::chrono::hours(1);
  const std::uint64_t total = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
  const auto busiest = std::max_element(counts.begin(), counts.end());
  const std::uint64_t peak = std::max<std::uint64_t>(*busiest, 1);
  const auto bucket_start = [&](std::size_t i) { return first + step * static_cast<long long>(i); };
  std::string desc = plural(total) + " in all";
  if (*busiest > 0) {
    desc += "; most in one " + std::string(unit) + ": " + std::to_string(*busiest) + " (" +
            label(bucket_start(static_cast<std::size_t>(busiest - counts.begin())), hours) + ")";
  }

  const std::string name(id);
  out += "<figure class=\"card chart\" id=\"" + name + "\"><h2>" + std::string(title) + "</h2><p class=\"chart-sum\">" +
         desc + ".</p><svg viewBox=\"0 0 " + std::to_string(kWidth) + " " + std::to_string(kHeight) +
         "\" role=\"img\" aria-labelledby=\"" + name + "-title " + name + "-desc\"><title id=\"" + name + "-title\">" +
         std::string(title) + "</title><desc id=\"" + name + "-desc\">" + desc + "</desc>";
  const double slot = static_cast<double>(kWidth) / static_cast<double>(counts.size());
  const double usable = kHeight - kTop - kBottom;
  char number[32];
  out += "<line class=\"axis\" x1=\"0\" x2=\"" + std::to_string(kWidth) + "\" y1=\"" +
         std::to_string(kHeight - kBottom) + "\" y2=\"" + std::to_string(kHeight - kBottom) + "\"/>";
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double height =
        counts[i] == 0 ? 0 : std::max(1.5, usable * static_cast<double>(counts[i]) / static_cast<double>(peak));
    out += "<rect class=\"bar\" x=\"";
    std::snprintf(number, sizeof number, "%.1f", static_cast<double>(i) * slot + slot * 0.15);
    out += number;
    out += "\" y=\"";
    std::snprintf(number, sizeof number, "%.1f", kHeight - kBottom - height);
    out += number;
    out += "\" width=\"";
    std::snprintf(number, sizeof number, "%.1f", slot * 0.7);
    out += number;
    out += "\" height=\"";
    std::snprintf(number, sizeof number, "%.1f", height);
    out += number;
    out += "\"><title>";
    out += label(bucket_start(i), hours) + ": " + plural(counts[i]);
    out += "</title></rect>";
    // A label under every sixth bar (and the last), so they never overlap.
    if (i % 6 == 0 || i + 1 == counts.size()) {
      // The first and last labels are anchored inside the chart, so that neither is cut off.
      const bool first_bar = i == 0, last_bar = i + 1 == counts.size();
      std::snprintf(number, sizeof number, "%.1f",
                    first_bar  ? 0.0
                    : last_bar ? kWidth
                               : static_cast<double>(i) * slot + slot / 2);
      out += "<text class=\"tick\" text-anchor=\"";
      out += first_bar ? "start" : last_bar ? "end" : "middle";
      out += "\" x=\"";
      out += number;
      out += "\" y=\"" + std::to_string(kHeight - 6) + "\">";
      out += label(bucket_start(i), hours);
      out += "</text>";
    }
  }
  out += "</svg><details><summary>The numbers</summary><table class=\"counts\"><thead><tr><th scope=\"col\">";
  out += hours ? "Hour (UTC)" : "Day (UTC)";
  out += "</th><td>Bans</td></tr></thead><tbody>";
  for (std::size_t i = 0; i < counts.size(); ++i) {
    out += "<tr><th scope=\"row\">" + label(bucket_start(i), hours) + "</th><td>" + std::to_string(counts[i]) +
           "</td></tr>";
  }
  out += "</tbody></table></details></figure>\n";
}

}  // namespace

std::string render_activity_chart(const ActivityRing& activity, common::UnixSeconds now) {
  std::string out;
  const auto hourly = activity.hourly(now);
  const auto daily = activity.daily(now);
  const auto this_hour = std::chrono::floor<std::chrono::hours>(now);
  const auto today = std::chrono::floor<std::chrono::days>(now);
  append_chart(out, "chart-hours", "Fleet bans per hour, last 24 hours", "hour", hourly,
               this_hour - std::chrono::hours(ActivityRing::kHours - 1), std::chrono::hours(1));
  append_chart(out, "chart-days", "Fleet bans per day, last 30 days", "day", daily,
               common::UnixSeconds(today) - std::chrono::days(ActivityRing::kDays - 1), std::chrono::days(1));
  return out;
}

}  // namespace fleetban::aggregator
