#pragma once
// The two requests a client makes on the aggregator's ingest endpoint, over a DEALER from
// ClientSockets::ingest(): send an event and wait for its ack; fetch a snapshot.

#include <atomic>
#include <chrono>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/codec.hpp"
#include "common/expected.hpp"

namespace fleetban::common {

// Sends the event and waits up to `timeout` for its ack (replies for other events are skipped).
// A Failure means no ack came: the event must be spooled.
Expected<Ack> send_event(zmq::socket_t& ingest, const Event& event, std::chrono::milliseconds timeout);

struct Snapshot {
  std::uint64_t sequence = 0;
  std::string incarnation;
  std::vector<Decision> decisions;  // active decisions only
  std::string receipt;              // to send with the next snapshot request on this connection
};

// Asks for the aggregator's status (`fleetban status`).
Expected<Status> fetch_status(zmq::socket_t& ingest, std::chrono::milliseconds timeout);

// Asks for every admitted key and how it is (`fleetban hosts`).
Expected<Hosts> fetch_hosts(zmq::socket_t& ingest, std::chrono::milliseconds timeout);
// Asks for one address's decision and history (`fleetban show`).
Expected<AddressHistory> fetch_history(zmq::socket_t& ingest, const IpPrefix& prefix,
                                       std::chrono::milliseconds timeout);

// Asks for the whole fleet state and collects every chunk, waiting at most `timeout` between chunks.
// `receipt`: the last snapshot's on this connection (the aggregator serves a connection its next
// snapshot only once it has read the last one); empty on a new connection.
// WithGeo::yes (`fleetban list`): each decision with its country and network, if the aggregator
// has GeoIP; subscribers do without, which keeps their copy small.
// `stop`, when given and set meanwhile (a daemon stopping), ends the wait within 100 ms: a
// snapshot of a million decisions may take seconds, a service stop should not.
enum class WithGeo { no, yes };
Expected<Snapshot> fetch_snapshot(zmq::socket_t& ingest, std::chrono::milliseconds timeout,
                                  const std::string& receipt = {}, WithGeo with_geo = WithGeo::no,
                                  const std::atomic<bool>* stop = nullptr);

}  // namespace fleetban::common

#include "common/spool.hpp"

namespace fleetban::common {

struct DrainResult {
  std::size_t sent = 0;         // acked by the aggregator and removed from the spool
  std::size_t refused = 0;      // refused by the aggregator, moved to bad/ with the reason
  std::size_t moved_aside = 0;  // unreadable files moved to the spool's bad/ folder
  bool stalled = false;         // an event got no ack: the aggregator is away, try later
};

// Sends up to `max_events` spooled events, oldest first, deleting each only after its ack.
DrainResult drain_spool(zmq::socket_t& ingest, const Spool& spool, std::size_t max_events,
                        std::chrono::milliseconds timeout_each);

}  // namespace fleetban::common
