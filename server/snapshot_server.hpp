#pragma once
// The snapshot and status server: replies on the ingest ROUTER. A snapshot streams the active
// decisions in chunks bounded in count and bytes, straight from the caller's walk of its state (no
// copy of the fleet). Each connection has at most one snapshot it has not read: the last chunk
// carries a random receipt, and the connection's next snapshot request must return it, so a peer
// that does not read its replies cannot make the ROUTER queue snapshot after snapshot for it.

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <unordered_map>
#include <zmq.hpp>

#include "common/codec.hpp"
#include "server/rate_limited_log.hpp"
#include "server/server_metrics.hpp"

namespace fleetban::server {

class SnapshotServer {
 public:
  // Calls `take` with each active decision until it returns false.
  using DecisionWalk = std::function<void(const std::function<bool(common::Decision&&)>& take)>;

  static constexpr std::size_t kChunkDecisions = 10'000;
  // A quarter of what clients accept (kMaxReplyMessageBytes), whatever the decisions hold.
  static constexpr std::size_t kChunkBytes = 4 * 1024 * 1024;
  // Connections whose unread snapshot is remembered; beyond it the oldest is forgotten (one more
  // snapshot for that connection, if it is still there: each forgotten one costs a new connection).
  static constexpr std::size_t kTrackedConnections = 65'536;

  SnapshotServer(zmq::socket_t& router, ServerMetrics& metrics, RateLimitedLog& throttled);

  // Answers a snapshot request from the connection `identity` with the state at `sequence`.
  void serve(const zmq::message_t& identity, const common::SnapshotRequest& request, std::uint64_t sequence,
             const std::string& incarnation, const DecisionWalk& walk);

  // Sends one reply; false when it was dropped: the client went away, or its send queue is full
  // (it does not read its replies). Never blocks: such a client must not stall the fleet, and
  // ROUTER_MANDATORY makes libzmq say so rather than drop the reply silently.
  bool send(const zmq::message_t& identity, const common::Reply& reply);

 private:
  bool may_serve(const std::string& connection, const common::SnapshotRequest& request);
  void remember(const std::string& connection, std::string receipt);

  zmq::socket_t& router_;
  ServerMetrics& metrics_;
  RateLimitedLog& throttled_;
  std::unordered_map<std::string, std::string> unread_;  // routing id -> receipt of its last snapshot
  std::deque<std::string> tracked_;                      // routing ids in unread_, oldest first
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace fleetban::server
