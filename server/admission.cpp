#include "server/admission.hpp"

namespace fleetban::server {

Admission::Admission(bool insecure, KeyCheck still_admitted, unsigned events_per_second)
    : insecure_(insecure),
      still_admitted_(std::move(still_admitted)),
      events_(events_per_second),
      queries_(kQueriesPerKeyPerSecond) {}

std::optional<Refusal> Admission::admit_event(const Sender& sender, common::Event& event) const {
  if (insecure_) return std::nullopt;
  if (!sender.peer) return Refusal{RejectReason::identity, "unauthenticated"};
  const PeerIdentity& peer = *sender.peer;
  // Its key may have been removed (and SIGHUP sent) since this connection was made.
  if (!still_admitted_(peer)) return Refusal{RejectReason::identity, "key " + peer.name + " is no longer authorized"};
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

bool Admission::query_within_share(const Sender& sender, Clock::time_point now) {
  return !sender.peer || queries_.allow(sender.peer->key, now);
}

}  // namespace fleetban::server
