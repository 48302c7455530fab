#pragma once
// One turn of the aggregator's loop between reading the ingest socket and committing, without a
// socket: decode -> admit -> dedupe -> throttle -> apply, then expiry and forgetting. It hands back
// what the loop does after the commit: the changed decisions to broadcast, the acks and the
// queries to answer, each tagged with the caller's route (its handle for the connection), and the
// event ids to write. Unit tests drive it directly.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aggregator/event_id_set.hpp"
#include "aggregator/fleet_state.hpp"
#include "aggregator/host_table.hpp"
#include "aggregator/metrics.hpp"
#include "common/codec.hpp"
#include "server/admission.hpp"
#include "server/rate_limited_log.hpp"

namespace fleetban::aggregator {

using Route = std::size_t;  // the caller's handle for the connection a request came on

struct RoutedAck {
  Route route;
  common::Ack ack;
};

struct RoutedQuery {
  Route route;
  std::variant<common::SnapshotRequest, common::StatusRequest, common::HostsRequest, common::HistoryRequest> request;
};

// What one batch made: done after one commit, in this order (broadcast, acks, queries).
struct Batch {
  std::vector<common::Decision> changes;  // in sequence order
  std::vector<RoutedAck> acks;
  std::vector<RoutedQuery> queries;      // answered after the broadcast
  std::vector<common::EventId> new_ids;  // applied for the first time: to remember on disk
};

class BatchStep {
 public:
  // `hosts`, when given, hears of every event and takes the subscribers' reports (HostReport).
  BatchStep(FleetState& state, EventIdSet& seen, server::Admission& admission, Metrics& metrics,
            HostTable* hosts = nullptr);

  // Decodes one request (a frame's payload) and keeps it for finish(). What cannot be decoded is
  // counted and logged, and an invalid event is refused by its id (unanswered, its client would
  // resend it for ever).
  void take(Route route, std::string_view payload, const server::Sender& sender);
  // Decisions made outside a batch (a reload's policy ended them); they go first in the next one.
  void add_ended(std::vector<common::Decision> ended);
  // Counts and logs input the loop dropped before decoding it (frames).
  void reject(server::RejectReason reason, const std::string& message);

  // Applies what was taken, then ends what expired and forgets what passed forget_after.
  Batch finish(common::UnixSeconds now);

  // Distinct reporters whose events were applied since start (the status, the metric).
  std::size_t reporters() const { return reporters_.size(); }

 private:
  struct Received {
    Route route;
    server::Sender sender;
    common::Event event;
  };
  common::Ack handle_event(Received& r, common::UnixSeconds now, Batch& batch);
  void note_member(const server::Sender& sender);
  // A subscriber's report, taken into the host table at once: it is measured against the
  // sequence broadcast before this batch, the last one its sender can have seen.
  void take_report(const common::HostReport& report, const server::Sender& sender);

  FleetState& state_;
  EventIdSet& seen_;
  server::Admission& admission_;
  Metrics& metrics_;
  HostTable* hosts_;
  Batch next_;                      // acks and queries taken so far for the next batch
  std::vector<Received> received_;  // this turn's events (kept to reuse its capacity)
  std::vector<common::Decision> ended_;
  std::set<std::string> reporters_;
  server::RateLimitedLog rejected_;
  server::RateLimitedLog throttled_;
};

}  // namespace fleetban::aggregator
