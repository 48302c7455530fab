#include "aggregator/history_reasons.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/event.hpp"

namespace fleetban::aggregator {

using std::chrono::seconds;

std::string secs(seconds s) { return fmt::format("{} s", s.count()); }

std::string reported_text(seconds bantime) {
  if (bantime == common::kPermanentBan) return "permanent";
  if (bantime == common::kBantimeNotGiven) return "no bantime";
  return "bantime " + secs(bantime);
}

std::string operator_length(seconds asked, const Policy& policy) {
  if (asked == common::kPermanentBan) return "permanent, as asked";
  if (asked == common::kBantimeNotGiven) return secs(policy.default_bantime) + ": default_bantime (none asked)";
  if (asked > policy.max_bantime) return secs(policy.max_bantime) + ": max_bantime (" + secs(asked) + " asked)";
  return secs(asked) + ", as asked";
}

std::string ban_length_reason(const Policy& policy, const FleetRecord& record, std::size_t reporters, bool permanent,
                              seconds longest, seconds escalated) {
  std::string why;
  if (permanent) {
    why = "permanent";
    for (const auto& r : record.reports) {
      if (r.bantime == common::kPermanentBan) {
        why = "permanent: " + r.host_id + " (" + r.jail + ") reported a permanent ban";
        break;
      }
    }
  } else if (escalated > seconds(0) && escalated >= longest) {
    why = fmt::format("{}: ban {}, escalation {} x the last ban's {}", secs(longest), record.decision.ban_count + 1,
                      policy.escalation, secs(record.last_duration));
    if (escalated > longest) why += ", clamped to max_bantime";
  } else {
    // The report whose bantime set the length (the newest of equals), as FleetState measured it.
    auto length_of = [&](seconds reported) {
      return reported == common::kBantimeNotGiven ? policy.default_bantime : std::min(reported, policy.max_bantime);
    };
    const Report* by = nullptr;
    for (const auto& r : record.reports) {
      if (r.bantime != common::kPermanentBan && length_of(r.bantime) == longest && (by == nullptr || r.at >= by->at)) {
        by = &r;
      }
    }
    if (by == nullptr) {
      why = secs(longest);
    } else if (by->bantime == common::kBantimeNotGiven) {
      why = secs(longest) + ": default_bantime (" + by->host_id + " reported no bantime)";
    } else if (by->bantime > policy.max_bantime) {
      why = secs(longest) + ": max_bantime (" + by->host_id + " reported " + secs(by->bantime) + ")";
    } else {
      why = secs(longest) + ": the bantime " + by->host_id + " (" + by->jail + ") reported";
    }
    if (escalated > seconds(0)) {
      why += fmt::format(" (longer than ban {}'s escalation step, {})", record.decision.ban_count + 1, secs(escalated));
    }
  }
  if (policy.min_reporters > 1) {
    why += fmt::format("; min_reporters {} reached with {} reporters", policy.min_reporters, reporters);
  } else if (reporters > 1) {
    why += fmt::format("; {} reporters", reporters);
  }
  return why;
}

}  // namespace fleetban::aggregator
