#include "aggregator/host_table.hpp"

#include <algorithm>

namespace fleetban::aggregator {

namespace {

using common::HostKind;

HostKind kind_of_role(server::PeerRole role) {
  switch (role) {
    case server::PeerRole::host: return HostKind::host;
    case server::PeerRole::operator_: return HostKind::operator_;
    case server::PeerRole::relay: return HostKind::relay;
  }
  return HostKind::host;
}

std::int64_t unix_hour(common::UnixSeconds t) { return common::to_unix(t) / 3600; }

}  // namespace

HostKind reporter_kind(const server::Sender& sender, bool operator_action) {
  if (!sender.peer) return HostKind::host;
  if (sender.peer->role == server::PeerRole::relay) return operator_action ? HostKind::operator_ : HostKind::host;
  return kind_of_role(sender.peer->role);
}

void HostTable::set_admitted(const std::vector<server::PeerIdentity>& keys) {
  std::set<Key> admitted;
  for (const auto& key : keys) admitted.insert({kind_of_role(key.role), key.name});
  last_key_ = nullptr;
  last_row_ = nullptr;
  std::erase_if(rows_, [&](const auto& entry) { return !admitted.contains(entry.first); });
  std::erase_if(changed_events_, [&](const Key& key) { return !admitted.contains(key); });
  for (const auto& key : admitted) rows_.try_emplace(key);
  listed_ = true;
}

HostTable::Row* HostTable::row(HostKind kind, const std::string& name) {
  // The events of a batch mostly come from a few hosts in runs: the last row found goes first.
  if (last_row_ != nullptr && last_key_->first == kind && last_key_->second == name) return last_row_;
  auto it = rows_.find(Key{kind, name});
  if (it == rows_.end()) {
    if (listed_ || rows_.size() >= kMaxUnlistedRows) return nullptr;
    it = rows_.try_emplace(Key{kind, name}).first;
  }
  last_key_ = &it->first;
  last_row_ = &it->second;
  return last_row_;
}

void HostTable::note_event(HostKind kind, const std::string& name, common::UnixSeconds now) {
  Row* r = row(kind, name);
  if (r == nullptr) return;
  std::int64_t hour = unix_hour(now);
  if (hour > r->last_event_hour) {
    // Empties the hours since the newest bucket (all of them after a day's silence).
    for (std::int64_t h = std::max(r->last_event_hour + 1, hour - static_cast<std::int64_t>(kHours) + 1); h <= hour;
         ++h) {
      r->events_per_hour[static_cast<std::size_t>(h % static_cast<std::int64_t>(kHours))] = 0;
    }
    r->last_event_hour = hour;
  }
  // An event stamped in an hour older than the newest bucket (the clock stepped back) counts there.
  auto& bucket = r->events_per_hour[static_cast<std::size_t>(r->last_event_hour % static_cast<std::int64_t>(kHours))];
  if (bucket < UINT32_MAX) ++bucket;
  if (!r->last_event_at || now > *r->last_event_at) {
    r->last_event_at = now;
    changed_events_.insert(Key{kind, name});
  }
}

std::optional<std::string> HostTable::note_report(HostKind kind, const common::HostReport& report,
                                                  std::uint64_t fleet_sequence, common::UnixSeconds now) {
  const bool same_incarnation = report.incarnation == incarnation_;
  if (same_incarnation && report.sequence > fleet_sequence) {
    return "sequence " + std::to_string(report.sequence) + " is ahead of the fleet's " + std::to_string(fleet_sequence);
  }
  Row* r = row(kind, report.host_id);
  if (r == nullptr) return std::nullopt;  // not an admitted key's (cannot happen with CURVE)
  r->seen_at = now;
  r->sequence = report.sequence;
  // A subscriber that follows another incarnation (an aggregator started on a new database) holds
  // nothing of this one yet: it is behind by all of it until its next snapshot.
  r->lag = same_incarnation ? fleet_sequence - report.sequence : fleet_sequence;
  if (r->lag == 0) {
    r->behind_since.reset();
  } else if (!r->behind_since) {
    r->behind_since = now;
  }
  r->backend_error = report.backend_error;
  r->spool_bytes = report.spool_bytes;
  r->spool_max_bytes = report.spool_max_bytes;
  r->version = report.version;
  return std::nullopt;
}

std::uint64_t HostTable::events_24h(const Row& row, common::UnixSeconds now) {
  const std::int64_t hour = unix_hour(now);
  const std::int64_t oldest = hour - static_cast<std::int64_t>(kHours) + 1;
  std::uint64_t sum = 0;
  for (std::int64_t h = std::max(oldest, row.last_event_hour - static_cast<std::int64_t>(kHours) + 1);
       h <= row.last_event_hour; ++h) {
    sum += row.events_per_hour[static_cast<std::size_t>(h % static_cast<std::int64_t>(kHours))];
  }
  return sum;
}

std::vector<common::HostEntry> HostTable::entries(common::UnixSeconds now) const {
  std::vector<common::HostEntry> out;
  out.reserve(rows_.size());
  for (const auto& [key, r] : rows_) {
    common::HostEntry e{.name = key.second, .kind = key.first, .last_event_at = r.last_event_at};
    e.events_24h = events_24h(r, now);
    if (r.seen_at) {
      e.subscriber_seen_at = r.seen_at;
      e.subscriber_sequence = r.sequence;
      e.lag = r.lag;
      e.backend_error = r.backend_error;
      e.spool_bytes = r.spool_bytes;
      e.spool_max_bytes = r.spool_max_bytes;
      e.version = r.version;
      e.stale = now - *r.seen_at > kStaleAfter;
      e.behind = r.behind_since && now - *r.behind_since >= kBehindAfter;
    } else {
      // A host's subscriber that never reported in is missing; an operator or relay has none.
      e.stale = key.first == HostKind::host;
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string HostTable::stored_key(const Key& key) {
  return std::string(common::to_string(key.first)) + ":" + key.second;
}

void HostTable::take_changed_events(const std::function<void(const std::string&, common::UnixSeconds)>& write) {
  for (const auto& key : changed_events_) {
    auto it = rows_.find(key);
    if (it != rows_.end() && it->second.last_event_at) write(stored_key(key), *it->second.last_event_at);
  }
  changed_events_.clear();
}

void HostTable::restore_last_event(const std::string& stored, common::UnixSeconds at) {
  auto colon = stored.find(':');
  if (colon == std::string::npos) return;
  auto kind = common::host_kind_from_string(std::string_view(stored).substr(0, colon));
  if (!kind) return;
  Row* r = row(*kind, stored.substr(colon + 1));
  if (r != nullptr && (!r->last_event_at || at > *r->last_event_at)) r->last_event_at = at;
}

}  // namespace fleetban::aggregator
