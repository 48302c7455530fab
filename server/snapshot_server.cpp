#include "server/snapshot_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/socket_factory.hpp"

namespace fleetban::server {

static_assert(SnapshotServer::kChunkBytes * 4 <= static_cast<std::size_t>(common::kMaxReplyMessageBytes));

SnapshotServer::SnapshotServer(zmq::socket_t& router, ServerMetrics& metrics, RateLimitedLog& throttled)
    : router_(router), metrics_(metrics), throttled_(throttled) {}

bool SnapshotServer::may_serve(const std::string& connection, const common::SnapshotRequest& request) {
  auto it = unread_.find(connection);
  if (it == unread_.end() || it->second == request.receipt) return true;
  metrics_.count_rejected(RejectReason::rate_limited);
  throttled_.warn(
      "snapshot_refused reason=\"this connection has not read its last snapshot (no receipt): one at a time\"");
  return false;
}

void SnapshotServer::remember(const std::string& connection, std::string receipt) {
  auto [it, inserted] = unread_.insert_or_assign(connection, std::move(receipt));
  if (!inserted) return;
  tracked_.push_back(connection);
  if (tracked_.size() > kTrackedConnections) {
    unread_.erase(tracked_.front());
    tracked_.pop_front();
  }
}

void SnapshotServer::serve(const zmq::message_t& identity, const common::SnapshotRequest& request,
                           std::uint64_t sequence, const std::string& incarnation, const DecisionWalk& walk) {
  const std::string connection = identity.to_string();
  if (!may_serve(connection, request)) return;
  std::size_t sent = 0;
  bool dropped = false;
  std::size_t chunk_bytes = 0;
  common::SnapshotChunk chunk{.request_id = request.request_id, .sequence = sequence, .incarnation = incarnation};
  auto flush = [&](bool last) {
    sent += chunk.decisions.size();
    chunk.last = last;
    if (last) chunk.receipt = fmt::format("{:016x}", random_());
    dropped = !send(identity, common::Reply{chunk});
    chunk.decisions.clear();
    chunk_bytes = 0;
  };
  // A chunk goes out when the next decision would take it past either bound (count or bytes); the
  // last one after the walk, empty only when nothing is banned.
  walk([&](common::Decision&& d) {
    std::size_t bytes = common::encoded_size_bound(d);
    if (!chunk.decisions.empty() && (chunk.decisions.size() == kChunkDecisions || chunk_bytes + bytes > kChunkBytes)) {
      flush(false);
    }
    chunk_bytes += bytes;
    chunk.decisions.push_back(std::move(d));
    return !dropped;  // a peer that does not read its replies gets no more of the walk
  });
  if (!dropped) flush(true);
  if (dropped) {
    // Gone, or not reading: this connection gets no other snapshot (a receipt nobody was given).
    // A client that timed out on it connects anew and asks on the new connection.
    remember(connection, fmt::format("{:016x}", random_()));
    metrics_.count_rejected(RejectReason::rate_limited);
    throttled_.warn("snapshot_dropped reason=\"the client's send queue is full: it does not read its replies\"");
    return;
  }
  remember(connection, chunk.receipt);
  metrics_.snapshots_served.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("snapshot_sent sequence={} decisions={}", sequence, sent);
}

bool SnapshotServer::send(const zmq::message_t& identity, const common::Reply& reply) {
  zmq::message_t to;
  to.copy(const_cast<zmq::message_t&>(identity));
  try {
    if (!router_.send(to, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    router_.send(zmq::buffer(common::encode(reply)), zmq::send_flags::dontwait);
    return true;
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) throw;
    return false;
  }
}

}  // namespace fleetban::server
