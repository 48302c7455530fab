#include "aggregator/fleet_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "aggregator/history_reasons.hpp"
#include "common/own_addresses.hpp"

namespace fleetban::aggregator {

using common::Decision;
using common::Event;
using common::EventKind;
using common::HistoryKind;
using common::UnixSeconds;
using std::chrono::seconds;

namespace {

// Credits a report's host and jail to a decision (at most kMaxDecisionNames of each are named).
bool credit(Decision& d, const std::string& host, const std::string& jail) {
  bool host_new = common::add_decision_name(d.reporters, d.reporter_count, host);
  bool jail_new = common::add_decision_name(d.jails, d.jail_count, jail);
  return host_new || jail_new;
}

void clear_names(Decision& d) {
  d.reporters.clear();
  d.jails.clear();
  d.reporter_count = 0;
  d.jail_count = 0;
}

UnixSeconds start_of(const Event& event, UnixSeconds now) {
  // A report cannot start in the future; a clock that runs ahead only shortens nothing.
  auto start = std::chrono::time_point_cast<seconds>(event.time);
  return std::min(start, now);
}

// How many different hosts the reports come from.
std::size_t distinct_hosts(const std::vector<Report>& reports) {
  std::size_t count = 0;
  for (auto it = reports.begin(); it != reports.end(); ++it) {
    auto same_host = [&](const Report& r) { return r.host_id == it->host_id; };
    if (std::find_if(reports.begin(), it, same_host) == it) ++count;
  }
  return count;
}

// An unban at or after the ban's own end is Fail2Ban expiring it, not a person lifting it.
bool is_expiry(const Event& event) { return event.bantime > seconds(0) && event.created >= event.time + event.bantime; }

}  // namespace

FleetState::FleetState(Policy policy, std::uint64_t sequence) : policy_(std::move(policy)), sequence_(sequence) {}

Decision& FleetState::change(FleetRecord& record) {
  record.decision.sequence = ++sequence_;
  return record.decision;
}

template <typename CreditNames>
Decision FleetState::open_ban(RecordIndex index, FleetRecord& record, Opening opening, CreditNames&& credit_names) {
  bool was_active = record.decision.active;
  Decision& d = change(record);
  d.active = true;
  d.banned_at = opening.now;
  d.expires_at = opening.expires_at;
  if (!was_active) {
    clear_names(d);
    d.ban_count += 1;
    ++bans_opened_;
  }
  credit_names(d);
  d.reason = std::move(opening.reason);
  record.last_duration = opening.duration;
  record.reports = {};
  if (was_active)
    track_expiry(index, d);  // counted already; a stale expiry entry is skipped when popped
  else
    activated(index, d);
  write(index, record);
  return d;
}

std::optional<seconds> FleetState::duration_of(seconds reported) const {
  if (reported == common::kPermanentBan) return std::nullopt;
  seconds d = reported == common::kBantimeNotGiven ? policy_.default_bantime : reported;
  return std::min(d, policy_.max_bantime);
}

void FleetState::note(const common::IpPrefix& prefix, HistoryKind kind, bool fleet, const Event* by,
                      std::string reason) {
  history_.emplace_back(prefix, common::HistoryEntry{.at = now_,
                                                     .kind = kind,
                                                     .fleet = fleet,
                                                     .host = by != nullptr ? by->host_id : std::string(),
                                                     .jail = by != nullptr ? by->jail : std::string(),
                                                     .reason = std::move(reason)});
}

std::optional<ApplyResult> FleetState::refuses_ban(const common::IpPrefix& p) const {
  unsigned min_length = p.family() == common::Family::v4 ? policy_.min_prefix_v4 : policy_.min_prefix_v6;
  if (p.length() < min_length) {
    return ApplyResult{.refused = "prefix shorter than /" + std::to_string(min_length),
                       .refused_because = RejectReason::prefix_too_short};
  }
  for (const auto& allowed : policy_.allowlist) {
    if (allowed.overlaps(p)) {
      return ApplyResult{.refused = "allowlisted (" + allowed.to_string() + ")",
                         .refused_because = RejectReason::allowlisted};
    }
  }
  // A ban of the fleet's own links would cut a host off from the aggregator, and with it from the
  // unban that could undo it.
  auto own_link = [](const std::string& what, const common::IpPrefix& address) {
    return ApplyResult{.refused = what + " (" + address.to_string() + ")", .refused_because = RejectReason::own_link};
  };
  for (const auto& loopback : common::loopback_prefixes()) {
    if (loopback.overlaps(p)) return own_link("loopback", loopback);
  }
  for (const auto& own : own_addresses_) {
    if (own.overlaps(p)) return own_link("the aggregator's own address", own);
  }
  if (p.is_address()) {
    if (member_addresses_.contains(p)) return own_link("a fleet member's address", p);
  } else {
    for (const auto& member : member_addresses_) {
      if (p.contains(member)) return own_link("a fleet member's address", member);
    }
  }
  return std::nullopt;
}

void FleetState::note_member_address(const common::IpPrefix& address) {
  if (!member_addresses_.insert(address).second) return;
  member_order_.push_back(address);
  if (member_order_.size() > kMaxMemberAddresses) {
    member_addresses_.erase(member_order_.front());
    member_order_.pop_front();
  }
}

ApplyResult FleetState::apply(const Event& event, UnixSeconds now) {
  now_ = now;
  // The policy only ever stops bans: an unban always goes through, or a ban the allowlist came to
  // cover after the fact could never be lifted.
  if (event.kind == EventKind::ban) {
    if (auto refused = refuses_ban(event.prefix)) {
      note(event.prefix, HistoryKind::refused, false, &event, *refused->refused);
      return std::move(*refused);
    }
  }
  try {
    if (event.operator_action) return event.kind == EventKind::ban ? operator_ban(event, now) : operator_unban(event);
    return event.kind == EventKind::ban ? ban(event, now) : unban(event);
  } catch (const std::length_error& e) {
    // Thrown by find_or_add before it changes anything: the event is refused, the loop goes on.
    note(event.prefix, HistoryKind::refused, false, &event, e.what());
    return {.refused = e.what(), .refused_because = RejectReason::state_full};
  }
}

std::vector<Decision> FleetState::end_disallowed(UnixSeconds now) {
  now_ = now;
  std::vector<Decision> ended;
  for (RecordIndex index = 0; index < records_.end(); ++index) {
    if (!records_.in_use(index) || !records_.active(index)) continue;
    auto refused = refuses_ban(records_.prefix(index));
    if (!refused) continue;
    FleetRecord record = records_.get(index);
    end_ban(record);
    record.decision.reason = "policy: " + *refused->refused;
    note(record.decision.prefix, HistoryKind::unban, true, nullptr, record.decision.reason);
    write(index, record);
    ended.push_back(record.decision);
  }
  return ended;
}

ApplyResult FleetState::operator_ban(const Event& event, UnixSeconds now) {
  // An operator's ban needs no other reporter and is not escalated: it lasts what was asked.
  RecordIndex index = records_.find_or_add(event.prefix);
  FleetRecord record = records_.get(index);
  std::optional<seconds> duration = duration_of(event.bantime);
  Opening opening{.now = now,
                  .expires_at = duration ? std::optional<UnixSeconds>(now + *duration) : std::nullopt,
                  .duration = duration.value_or(seconds(0)),
                  .reason = event.reason};
  note(event.prefix, HistoryKind::ban, true, &event,
       "operator: " + operator_length(event.bantime, policy_) + (event.reason.empty() ? "" : "; " + event.reason));
  return {.change = open_ban(index, record, std::move(opening),
                             [&](Decision& opened) { credit(opened, event.host_id, event.jail); })};
}

ApplyResult FleetState::operator_unban(const Event& event) {
  auto index = records_.find(event.prefix);
  if (!index || !records_.active(*index)) {
    note(event.prefix, HistoryKind::unban, false, &event, "operator: the fleet did not ban it");
    return {};
  }
  FleetRecord record = records_.get(*index);
  end_ban(record);
  record.decision.reason = event.reason;
  note(event.prefix, HistoryKind::unban, true, &event,
       "operator: lifted" + (event.reason.empty() ? "" : "; " + event.reason));
  return save(*index, record, {.change = record.decision});
}

ApplyResult FleetState::ban(const Event& event, UnixSeconds now) {
  if (auto group = promotion_group(event.prefix)) {
    // The address's whole /24 (/64) is banned already: the report extends that ban instead.
    if (is_active(*group)) {
      Event redirected = event;
      redirected.prefix = *group;
      return ban(redirected, now);
    }
  }
  RecordIndex index = records_.find_or_add(event.prefix);
  FleetRecord record = records_.get(index);
  Decision& current = record.decision;
  UnixSeconds start = start_of(event, now);
  std::optional<seconds> duration = duration_of(event.bantime);

  if (current.active) {
    // Another report of a banned address: the longest expiry wins, and the report is credited.
    Decision updated = current;
    if (!duration) {
      updated.expires_at.reset();
    } else if (updated.expires_at) {
      updated.expires_at = std::max(*updated.expires_at, start + *duration);
    }
    if (updated.expires_at) {
      // No fleet ban outlasts max_bantime, however many reports extend it.
      updated.expires_at = std::min(*updated.expires_at, updated.banned_at + policy_.max_bantime);
    }
    bool credited = credit(updated, event.host_id, event.jail);
    if (updated.expires_at == current.expires_at && !credited) {
      note(event.prefix, HistoryKind::ban, false, &event,
           "reported (" + reported_text(event.bantime) + "); the fleet ban covers it already");
      return {};
    }
    if (updated.expires_at == current.expires_at) {
      note(event.prefix, HistoryKind::ban, true, &event,
           "reported (" + reported_text(event.bantime) + "): credited, expiry unchanged");
    } else if (!updated.expires_at) {
      note(event.prefix, HistoryKind::ban, true, &event, "permanent: " + event.host_id + " reported a permanent ban");
    } else {
      note(event.prefix, HistoryKind::ban, true, &event,
           fmt::format(
               "extended to {} s from the ban's start: {}{}", (*updated.expires_at - updated.banned_at).count(),
               reported_text(event.bantime),
               *updated.expires_at == updated.banned_at + policy_.max_bantime ? ", clamped to max_bantime" : ""));
    }
    Decision& d = change(record);
    d = std::move(updated);
    d.sequence = sequence_;
    track_expiry(index, d);
    return save(index, record, {.change = d});
  }

  // Not banned: record the report, then ban once enough distinct hosts reported within the window.
  std::erase_if(record.reports, [&](const Report& r) {
    return r.at + policy_.report_window < now || (r.host_id == event.host_id && r.jail == event.jail);
  });
  record.reports.push_back({event.host_id, event.jail, start, event.bantime});
  if (record.reports.size() > kMaxReportsPerRecord) record.reports.erase(record.reports.begin());

  if (std::size_t reporters = distinct_hosts(record.reports); reporters < policy_.min_reporters) {
    note(event.prefix, HistoryKind::ban, false, &event,
         fmt::format("reported ({}): {} of min_reporters {}", reported_text(event.bantime), reporters,
                     policy_.min_reporters));
    return save(index, record, {});
  }

  bool permanent = false;
  seconds longest{0};
  for (const auto& r : record.reports) {
    if (auto d = duration_of(r.bantime))
      longest = std::max(longest, *d);
    else
      permanent = true;
  }
  seconds escalated{0};
  if (!permanent && current.ban_count > 0 && record.last_duration > seconds(0)) {
    // A re-offender: its next ban lasts `escalation` times its last one, within max_bantime.
    escalated =
        seconds(static_cast<std::int64_t>(static_cast<double>(record.last_duration.count()) * policy_.escalation));
    longest = std::min(std::max(longest, escalated), policy_.max_bantime);
  }
  if (!permanent && start + longest <= now) {
    // Reported so late (from a spool) that the ban is already over: remember the report only.
    note(event.prefix, HistoryKind::ban, false, &event,
         "reported (" + reported_text(event.bantime) + ") after its ban would have ended");
    return save(index, record, {});
  }
  note(event.prefix, HistoryKind::ban, true, &event,
       ban_length_reason(policy_, record, distinct_hosts(record.reports), permanent, longest, escalated));

  Opening opening{.now = now,
                  .expires_at = permanent ? std::nullopt : std::optional<UnixSeconds>(start + longest),
                  .duration = permanent ? seconds(0) : longest,
                  .reason = event.reason};
  // These reports made this ban (open_ban drops them: the next ban needs new ones).
  ApplyResult result{.change = open_ban(index, record, std::move(opening), [&](Decision& opened) {
                       for (const auto& r : record.reports) credit(opened, r.host_id, r.jail);
                     })};
  const Decision& d = *result.change;
  if (auto group = promotion_group(d.prefix)) {
    auto found = banned_in_group_.find(*group);
    if (found != banned_in_group_.end() && found->second.size() >= policy_.promote_after) promote(*group, now, result);
  }
  return result;
}

std::optional<common::IpPrefix> FleetState::promotion_group(const common::IpPrefix& prefix) const {
  if (policy_.promote_after == 0 || !prefix.is_address()) return std::nullopt;
  bool v4 = prefix.family() == common::Family::v4;
  unsigned length = v4 ? 24 : 64;
  // Never promote past what a report itself may ban, nor over the fleet's own networks and links.
  common::IpPrefix group = prefix.truncated(length);
  if (refuses_ban(group)) return std::nullopt;
  return group;
}

bool FleetState::is_active(const common::IpPrefix& prefix) const {
  auto index = records_.find(prefix);
  return index && records_.active(*index);
}

ApplyResult FleetState::save(RecordIndex index, const FleetRecord& record, ApplyResult result) {
  write(index, record);
  return result;
}

void FleetState::write(RecordIndex index, const FleetRecord& record) {
  records_.set(index, record);
  records_.set_changed_at(index, now_);
  changed_.push_back(index);
  if (!record.decision.active) queue_forget(index, now_ + policy_.forget_after + seconds(1));
}

void FleetState::activated(RecordIndex index, const Decision& decision) {
  ++active_count_;
  track_expiry(index, decision);
  if (auto group = promotion_group(decision.prefix)) banned_in_group_[*group].push_back(decision.prefix);
}

// Bans the whole group for as long as its longest member ban, with every member's reporters and
// jails, and ends the member bans: subscribers get the prefix first, then the addresses' ends.
void FleetState::promote(const common::IpPrefix& group, UnixSeconds now, ApplyResult& result) {
  if (!records_.find(group) && records_.size() >= records_.limit()) return;  // no room: the bans stay as they are
  std::vector<common::IpPrefix> members = banned_in_group_[group];
  std::optional<UnixSeconds> expires_at = now;
  for (const auto& member : members) {
    const auto member_expiry = records_.expires_at(*records_.find(member));
    if (!member_expiry)
      expires_at.reset();
    else if (expires_at)
      expires_at = std::max(*expires_at, *member_expiry);
  }
  Opening opening{
      .now = now,
      .expires_at = expires_at,
      .duration = expires_at ? *expires_at - now : seconds(0),
      .reason = "promoted: " + std::to_string(members.size()) + " addresses banned in " + group.to_string()};
  RecordIndex index = records_.find_or_add(group);
  FleetRecord record = records_.get(index);
  Decision d = open_ban(index, record, std::move(opening), [&](Decision& opened) {
    for (const auto& member : members) {
      const Decision m = records_.decision(*records_.find(member));
      // Members' names past their own 64 are lost: their totals count toward the prefix's as new.
      for (const auto& r : m.reporters) common::add_decision_name(opened.reporters, opened.reporter_count, r);
      for (const auto& j : m.jails) common::add_decision_name(opened.jails, opened.jail_count, j);
      opened.reporter_count +=
          m.reporter_count - std::min(m.reporter_count, static_cast<std::uint32_t>(m.reporters.size()));
      opened.jail_count += m.jail_count - std::min(m.jail_count, static_cast<std::uint32_t>(m.jails.size()));
    }
  });
  note(group, HistoryKind::ban, true, nullptr,
       d.reason + (expires_at ? "; until its members' last expiry, " + secs(*expires_at - now) : "; permanent"));
  // The prefix decision comes first; the folded addresses follow.
  std::vector<Decision> changes{d};
  for (const auto& member : members) {
    RecordIndex member_index = *records_.find(member);
    FleetRecord ended = records_.get(member_index);
    note(member, HistoryKind::unban, true, nullptr, "folded into the ban of " + group.to_string());
    end_ban(ended);
    write(member_index, ended);
    changes.push_back(std::move(ended.decision));
  }
  // In sequence order after result.change (the member ban that triggered the promotion).
  result.more_changes.insert(result.more_changes.end(), changes.begin(), changes.end());
}

ApplyResult FleetState::unban(const Event& event) {
  if (is_expiry(event)) {
    // Fail2Ban's own ban ran out: it withdraws nothing.
    note(event.prefix, HistoryKind::expired, false, &event, "the host's " + secs(event.bantime) + " ban ran out");
    return {};
  }
  auto index = records_.find(event.prefix);
  if (!index) {
    note(event.prefix, HistoryKind::unban, false, &event, "unbanned on the host; the fleet has no record of it");
    return {};
  }
  FleetRecord record = records_.get(*index);
  std::erase_if(record.reports, [&](const Report& r) { return r.host_id == event.host_id; });
  if (!record.decision.active) {
    note(event.prefix, HistoryKind::unban, false, &event, "unbanned on the host: its report is withdrawn");
    return save(*index, record, {});
  }

  if (policy_.host_unban == HostUnban::retract) {
    auto& reporters = record.decision.reporters;
    if (std::find(reporters.begin(), reporters.end(), event.host_id) == reporters.end()) {
      note(event.prefix, HistoryKind::unban, false, &event,
           "unbanned on the host (host_unban = retract): not among the fleet ban's reporters");
      return save(*index, record, {});
    }
    if (reporters.size() > 1) {
      Decision& d = change(record);
      std::erase(d.reporters, event.host_id);
      if (d.reporter_count > 0) d.reporter_count -= 1;  // it was listed, so counted
      note(event.prefix, HistoryKind::unban, true, &event,
           fmt::format("unbanned on the host (host_unban = retract): report withdrawn, {} reporters remain",
                       d.reporters.size()));
      return save(*index, record, {.change = d});
    }
  }
  note(event.prefix, HistoryKind::unban, true, &event,
       policy_.host_unban == HostUnban::retract ? "host_unban = retract: the last reporter withdrew"
                                                : "host_unban = fleet: lifted early on the host, so everywhere");
  end_ban(record);
  return save(*index, record, {.change = record.decision});
}

void FleetState::end_ban(FleetRecord& record) {
  Decision& d = change(record);
  d.active = false;
  record.reports = {};
  --active_count_;
  // By the address's group, not promotion_group(): the policy may have changed since it was banned.
  if (d.prefix.is_address()) {
    auto found = banned_in_group_.find(d.prefix.truncated(d.prefix.family() == common::Family::v4 ? 24 : 64));
    if (found != banned_in_group_.end()) {
      std::erase(found->second, d.prefix);
      if (found->second.empty()) banned_in_group_.erase(found);
    }
  }
}

void FleetState::track_expiry(RecordIndex index, const Decision& decision) {
  if (decision.active && decision.expires_at) expiries_.emplace(*decision.expires_at, index);
}

std::vector<Decision> FleetState::expire(UnixSeconds now, std::size_t limit) {
  now_ = now;
  std::vector<Decision> ended;
  while (ended.size() < limit && !expiries_.empty() && expiries_.top().first <= now) {
    auto [when, index] = expiries_.top();
    expiries_.pop();
    // A stale entry: the ban was extended, made permanent or ended since this was queued.
    if (!records_.active(index) || records_.expires_at(index) != when) continue;
    FleetRecord record = records_.get(index);
    note(record.decision.prefix, HistoryKind::expired, true, nullptr,
         "its " + secs(when - record.decision.banned_at) + " were up");
    end_ban(record);
    write(index, record);
    ended.push_back(std::move(record.decision));
  }
  return ended;
}

std::optional<UnixSeconds> FleetState::next_expiry() {
  while (!expiries_.empty()) {
    auto [when, index] = expiries_.top();
    if (records_.active(index) && records_.expires_at(index) == when) return when;
    expiries_.pop();
  }
  return std::nullopt;
}

std::vector<Decision> FleetState::active_decisions() const {
  std::vector<Decision> active;
  active.reserve(active_count_);
  for_each_active([&](Decision&& d) { active.push_back(std::move(d)); });
  return active;
}

std::optional<FleetRecord> FleetState::find(const common::IpPrefix& prefix) const {
  auto index = records_.find(prefix);
  if (!index) return std::nullopt;
  return records_.get(*index);
}

void FleetState::restore(const FleetRecord& record) {
  sequence_ = std::max(sequence_, record.decision.sequence);
  RecordIndex index = records_.find_or_add(record.decision.prefix);
  records_.set(index, record);  // as it is on disk already
  if (record.decision.active)
    activated(index, record.decision);
  else
    queue_forget(index, forget_time(index));
}

// The first instant the inactive record at `index` may be forgotten.
UnixSeconds FleetState::forget_time(RecordIndex index) const {
  FleetRecord record = records_.get(index);
  UnixSeconds last = record.changed_at;
  if (last == UnixSeconds{}) {
    // Written before changed_at was kept: its ban's end (or start) and its reports say when.
    const Decision& d = record.decision;
    last = d.expires_at.value_or(d.banned_at);
    for (const auto& r : record.reports) last = std::max(last, r.at);
  }
  UnixSeconds at = last + policy_.forget_after + seconds(1);
  for (const auto& r : record.reports) at = std::max(at, r.at + policy_.report_window + seconds(1));
  return at;
}

void FleetState::queue_forget(RecordIndex index, UnixSeconds at) {
  if (forget_queued_.size() <= index) forget_queued_.resize(std::max<std::size_t>(index + 1, records_.end()));
  if (forget_queued_[index]) return;  // its entry is checked against the record when popped
  forget_queued_[index] = true;
  forgets_.emplace(at, index);
}

std::size_t FleetState::forget(UnixSeconds now, std::size_t limit) {
  std::size_t forgotten = 0;
  while (forgotten < limit && !forgets_.empty() && forgets_.top().first <= now) {
    RecordIndex index = forgets_.top().second;
    forgets_.pop();
    forget_queued_[index] = false;
    if (!records_.in_use(index) || records_.active(index)) continue;  // queued again when its ban ends
    if (UnixSeconds due = forget_time(index); due > now) {
      queue_forget(index, due);  // changed since, or forget_after was raised
      continue;
    }
    forgotten_.push_back(records_.prefix(index));
    records_.erase(index);
    ++forgotten;
  }
  return forgotten;
}

}  // namespace fleetban::aggregator
