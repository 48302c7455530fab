#include "server/admission.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

namespace fleetban::server {

namespace {

// What a relay forwards carries the name it admitted and that key's role, and the relay may speak
// only for a name this side admits under the same role: so a relay cannot invent a reporter (to
// reach min_reporters alone) or turn a host's report into an operator's action.
std::optional<Refusal> check_vouch(const PeerIdentity& relay, PeerRole role, const std::string& name,
                                   const Admission::NameCheck& names) {
  if (names && names(role, name)) return std::nullopt;
  return Refusal{RejectReason::identity,
                 "relay " + relay.name + " may not vouch for " + to_string(role) + " " + name + ": not admitted here"};
}

}  // namespace

Admission::Admission(bool insecure, KeyCheck still_admitted, unsigned events_per_second, NameCheck names)
    : insecure_(insecure),
      still_admitted_(std::move(still_admitted)),
      names_(std::move(names)),
      events_(events_per_second),
      queries_(kQueriesPerKeyPerSecond),
      snapshot_decisions_(kSnapshotDecisionsPerKeyPerSecond) {}

std::optional<Refusal> Admission::admit_event(const Sender& sender, common::Event& event) const {
  if (insecure_) return std::nullopt;
  if (!sender.peer) return Refusal{RejectReason::identity, "unauthenticated"};
  const PeerIdentity& peer = *sender.peer;
  // Its key may have been removed (and SIGHUP sent) since this connection was made.
  if (!still_admitted_(peer)) return Refusal{RejectReason::identity, "key " + peer.name + " is no longer authorized"};
  if (peer.role == PeerRole::relay) {
    // The relay checked the key it admitted; the event's host_id and operator_action say which.
    return check_vouch(peer, event.operator_action ? PeerRole::operator_ : PeerRole::host, event.host_id, names_);
  }
  if (peer.role == PeerRole::operator_) {
    event.operator_action = true;  // an operator does not run Fail2Ban: whatever it sends is by hand
  } else if (event.operator_action) {
    return Refusal{RejectReason::not_operator, "key " + peer.name + " is not an operator key"};
  } else if (peer.name != event.host_id) {
    return Refusal{RejectReason::identity, "host_id " + event.host_id + " does not match key " + peer.name};
  }
  // The reporter is the key's admitted name, whatever the message says: an operator's action (its
  // decision's reporters, the audit line) is tied to the operator's key.
  event.host_id = peer.name;
  return std::nullopt;
}

std::optional<Refusal> Admission::admit_query(const Sender& sender) const {
  if (insecure_) return std::nullopt;
  if (sender.peer && still_admitted_(*sender.peer)) return std::nullopt;
  return Refusal{RejectReason::identity, "key no longer authorized"};
}

std::optional<Refusal> Admission::admit_report(const Sender& sender, const std::string& host_id) const {
  if (insecure_ || !sender.peer) return std::nullopt;  // no key to hold it to: as it says
  const PeerIdentity& peer = *sender.peer;
  if (peer.role == PeerRole::relay) return check_vouch(peer, PeerRole::host, host_id, names_);
  if (peer.name != host_id)
    return Refusal{RejectReason::identity, "host_id " + host_id + " does not match key " + peer.name};
  return std::nullopt;
}

bool Admission::query_within_share(const Sender& sender, Clock::time_point now, std::string_view on_behalf_of) {
  if (!sender.peer) return true;
  if (sender.peer->role == PeerRole::relay && !on_behalf_of.empty()) {
    std::string name(on_behalf_of);
    // Only names admitted here get a share of their own, so the buckets stay as few as the keys.
    if (names_ && names_(PeerRole::host, name)) return queries_.allow("vouched:" + name, now);
  }
  return queries_.allow(sender.peer->key, now);
}

std::optional<Refusal> Admission::admit_query(const Sender& sender, const common::Request& query, Clock::time_point now,
                                              std::size_t walked) {
  if (auto refusal = admit_query(sender)) return refusal;
  const auto* report = std::get_if<common::HostReport>(&query);
  std::string_view on_behalf_of = report != nullptr ? std::string_view(report->host_id) : std::string_view();
  if (!query_within_share(sender, now, on_behalf_of)) {
    return Refusal{RejectReason::rate_limited,
                   fmt::format("over {} queries and reports a second", kQueriesPerKeyPerSecond)};
  }
  if (sender.peer && sender.peer->role != PeerRole::operator_ &&
      std::holds_alternative<common::SnapshotRequest>(query) &&
      !snapshot_decisions_.allow(sender.peer->key, now, static_cast<double>(std::max<std::size_t>(walked, 1)))) {
    return Refusal{RejectReason::rate_limited,
                   fmt::format("over {} snapshot decisions a second", kSnapshotDecisionsPerKeyPerSecond)};
  }
  return std::nullopt;
}

std::string query_log_line(const Refusal& refusal, const Sender& sender) {
  if (refusal.reason == RejectReason::rate_limited) {
    return fmt::format("query_dropped key={} reason=\"{}\"", sender.peer ? sender.peer->name : "?", refusal.why);
  }
  return "query_refused reason=\"" + refusal.why + "\"";
}

}  // namespace fleetban::server
