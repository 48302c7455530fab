#pragma once
// Admission: who may say what. An event's reporter is the name its key was admitted under (an
// operator key's events are operator actions; a host key speaks only for itself), a connection
// made with a key removed since (SIGHUP) is refused, and every key gets its fair share: events per
// second per reporter, snapshot and status requests per second per key. Socket-free: it reads only
// what the frame's metadata said (Sender), so unit tests drive it directly.

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/event.hpp"
#include "server/peer_identity.hpp"
#include "server/rate_limiter.hpp"
#include "server/server_metrics.hpp"

namespace fleetban::server {

struct Refusal {
  RejectReason reason;
  std::string why;  // for the REFUSED ack and the log
};

class Admission {
 public:
  using Clock = std::chrono::steady_clock;
  // Whether a key is still in authorized_dir (ServerSockets::admits).
  using KeyCheck = std::function<bool(const PeerIdentity&)>;
  // Snapshot and status requests per key and second (with a burst as large): each snapshot walks
  // the whole state on the loop thread, so one key must not take the loop from ingest and heartbeats.
  static constexpr unsigned kQueriesPerKeyPerSecond = 20;

  // insecure: no keys, so nobody is told apart (every event is taken as its message says).
  Admission(bool insecure, KeyCheck still_admitted, unsigned events_per_second);

  // Whether this sender may send this event. On success the event's host_id is the key's name and
  // an operator key's event is an operator action; otherwise why not.
  std::optional<Refusal> admit_event(const Sender& sender, common::Event& event) const;
  // Whether this sender's key may still ask (a query carries no name to check against the key).
  std::optional<Refusal> admit_query(const Sender& sender) const;
  // The sender's share of snapshot and status requests; false: drop the request. Without CURVE
  // there is no key to count by, and every query passes.
  bool query_within_share(const Sender& sender, Clock::time_point now);
  // The reporter's share of events; false: answer THROTTLED (the client keeps it and retries).
  bool event_within_share(const std::string& reporter, Clock::time_point now) { return events_.allow(reporter, now); }
  void set_event_rate(unsigned events_per_second) { events_.set_rate(events_per_second); }

 private:
  bool insecure_;
  KeyCheck still_admitted_;
  RateLimiter events_;   // per reporter
  RateLimiter queries_;  // per key
};

}  // namespace fleetban::server
