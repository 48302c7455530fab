#pragma once
// Admission: who may say what. An event's reporter is the name its key was admitted under (an
// operator key's events are operator actions; a host key speaks only for itself; a relay key
// vouches for the host or operator it admitted, named by the event, and only for a name admitted
// here too under the same role), a connection
// made with a key removed since (SIGHUP) is refused, and every key gets its fair share: events per
// second per reporter, snapshot and status requests per second per key, and a host's or relay's
// snapshots by the decisions they walk. Socket-free: it reads only what the frame's metadata said
// (Sender), so unit tests drive it directly.

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "common/codec.hpp"
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
  // Whether a key of this role and name is in authorized_dir (ServerSockets::admits_name): what a
  // relay may vouch for.
  using NameCheck = std::function<bool(PeerRole, const std::string& name)>;
  // Snapshot and status requests per key and second (with a burst as large): each snapshot walks
  // the whole state on the loop thread, so one key must not take the loop from ingest and heartbeats.
  static constexpr unsigned kQueriesPerKeyPerSecond = 20;
  // Besides, a host's or relay's snapshots, counted in the decisions they walk: a snapshot of a
  // million bans costs the loop about a second, and a key that opened a new connection for each of
  // its 20 queries a second would take the loop whole. This lets one key walk about a tenth of
  // the loop's time: a snapshot of a million, then the next 9 s later (a full bucket holds one
  // second's worth); of 10,000, 10 a second.
  // Operator keys are not counted (`fleetban list` in a loop is an administrator's right).
  static constexpr unsigned kSnapshotDecisionsPerKeyPerSecond = 100'000;

  // insecure: no keys, so nobody is told apart (every event is taken as its message says).
  // `names` empty: no relay may vouch for anyone.
  Admission(bool insecure, KeyCheck still_admitted, unsigned events_per_second, NameCheck names = {});

  // Whether this sender may send this event. On success the event's host_id is the key's name (or,
  // from a relay, the name it vouches for) and an operator key's event is an operator action;
  // otherwise why not.
  std::optional<Refusal> admit_event(const Sender& sender, common::Event& event) const;
  // Whether this sender's key may still ask (a query carries no name to check against the key).
  std::optional<Refusal> admit_query(const Sender& sender) const;
  // Whether a host report naming `host_id` may come from this sender: from the host's own key, or
  // from a relay vouching for a host admitted here.
  std::optional<Refusal> admit_report(const Sender& sender, const std::string& host_id) const;
  // The sender's share of snapshot and status requests; false: drop the request. Without CURVE
  // there is no key to count by, and every query passes. A relay forwards the reports of all its
  // hosts on one key: those count per host they name (`on_behalf_of`), as if each came direct.
  bool query_within_share(const Sender& sender, Clock::time_point now, std::string_view on_behalf_of = {});
  // All a query (any request but an event) must pass, as the aggregator and a relay both take it:
  // admit_query, then query_within_share (for a host report, the share of the host it names). A
  // refusal whose reason is rate_limited: drop the query; query_log_line() says which in the log.
  // `walked`: what a snapshot would walk now (the active decisions), for the snapshot share.
  std::optional<Refusal> admit_query(const Sender& sender, const common::Request& query, Clock::time_point now,
                                     std::size_t walked = 0);
  // The reporter's share of events; false: answer THROTTLED (the client keeps it and retries).
  bool event_within_share(const std::string& reporter, Clock::time_point now) { return events_.allow(reporter, now); }
  void set_event_rate(unsigned events_per_second) { events_.set_rate(events_per_second); }

 private:
  bool insecure_;
  KeyCheck still_admitted_;
  NameCheck names_;
  RateLimiter events_;              // per reporter
  RateLimiter queries_;             // per key
  RateLimiter snapshot_decisions_;  // per host or relay key
};

// The log line of a query admit_query() refused: `query_dropped key=NAME` when over its share,
// `query_refused` when the key may not ask.
std::string query_log_line(const Refusal& refusal, const Sender& sender);

}  // namespace fleetban::server
