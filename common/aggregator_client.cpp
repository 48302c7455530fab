#include "common/aggregator_client.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "common/poll.hpp"

namespace fleetban::common {

namespace {

using Clock = std::chrono::steady_clock;

// How often a wait looks at its `stop` flag.
constexpr std::chrono::milliseconds kStopCheck{100};

bool stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }

// Waits for the next reply until `deadline` (or `stop`); nullopt on timeout. Undecodable replies
// are skipped.
std::optional<Reply> next_reply(zmq::socket_t& socket, Clock::time_point deadline,
                                const std::atomic<bool>* stop = nullptr) {
  while (!stopped(stop)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    poll_for(&item, 1, stop != nullptr ? std::min(left, kStopCheck) : left);
    if ((item.revents & ZMQ_POLLIN) == 0) continue;
    zmq::message_t message;
    if (!socket.recv(message, zmq::recv_flags::dontwait)) continue;
    auto reply = decode_reply(message.to_string_view());
    if (reply) return std::move(*reply);
  }
  return std::nullopt;
}

// With ZMQ_IMMEDIATE a DEALER has no pipe until connected: a non-blocking send fails, so retry
// until the deadline rather than block.
bool send_until(zmq::socket_t& socket, const std::string& frame, Clock::time_point deadline,
                const std::atomic<bool>* stop = nullptr) {
  while (!socket.send(zmq::buffer(frame), zmq::send_flags::dontwait)) {
    if (Clock::now() >= deadline || stopped(stop)) return false;
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLOUT, 0};
    poll_for(&item, 1, std::chrono::milliseconds(5));
  }
  return true;
}

std::string new_request_id() {
  std::random_device device;
  return std::to_string(device()) + "-" + std::to_string(device());
}

}  // namespace

Expected<Ack> send_event(zmq::socket_t& ingest, const Event& event, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (!send_until(ingest, encode(Request{event}), deadline)) return Failure{"aggregator not reachable"};
  while (auto reply = next_reply(ingest, deadline)) {
    if (auto* ack = std::get_if<Ack>(&*reply); ack != nullptr && ack->event_id == event.id) return *ack;
  }
  return Failure{"no ack from the aggregator"};
}

namespace {

// One question and its one answer (the Answer with the question's request id).
template <typename Question, typename Answer>
Expected<Answer> ask(zmq::socket_t& ingest, std::chrono::milliseconds timeout, const char* what) {
  std::string request_id = new_request_id();
  auto deadline = Clock::now() + timeout;
  if (!send_until(ingest, encode(Request{Question{request_id}}), deadline)) return Failure{"aggregator not reachable"};
  while (auto reply = next_reply(ingest, deadline)) {
    if (auto* answer = std::get_if<Answer>(&*reply); answer != nullptr && answer->request_id == request_id) {
      return std::move(*answer);
    }
  }
  return Failure{std::string("no ") + what + " from the aggregator"};
}

}  // namespace

Expected<Status> fetch_status(zmq::socket_t& ingest, std::chrono::milliseconds timeout) {
  return ask<StatusRequest, Status>(ingest, timeout, "status");
}

Expected<Hosts> fetch_hosts(zmq::socket_t& ingest, std::chrono::milliseconds timeout) {
  return ask<HostsRequest, Hosts>(ingest, timeout, "hosts list");
}

Expected<AddressHistory> fetch_history(zmq::socket_t& ingest, const IpPrefix& prefix,
                                       std::chrono::milliseconds timeout) {
  std::string request_id = new_request_id();
  auto deadline = Clock::now() + timeout;
  if (!send_until(ingest, encode(Request{HistoryRequest{request_id, prefix}}), deadline)) {
    return Failure{"aggregator not reachable"};
  }
  while (auto reply = next_reply(ingest, deadline)) {
    if (auto* history = std::get_if<HistoryReply>(&*reply); history != nullptr && history->request_id == request_id) {
      return std::move(history->history);
    }
  }
  return Failure{"no history from the aggregator"};
}

Expected<Snapshot> fetch_snapshot(zmq::socket_t& ingest, std::chrono::milliseconds timeout, const std::string& receipt,
                                  WithGeo with_geo, const std::atomic<bool>* stop) {
  std::string request_id = new_request_id();
  auto deadline = Clock::now() + timeout;
  if (!send_until(ingest, encode(Request{SnapshotRequest{request_id, receipt, with_geo == WithGeo::yes}}), deadline,
                  stop)) {
    return Failure{stopped(stop) ? "stopped" : "aggregator not reachable"};
  }
  Snapshot snapshot;
  while (auto reply = next_reply(ingest, deadline, stop)) {
    auto* chunk = std::get_if<SnapshotChunk>(&*reply);
    if (chunk == nullptr || chunk->request_id != request_id) continue;
    snapshot.sequence = chunk->sequence;
    snapshot.incarnation = chunk->incarnation;
    for (auto& d : chunk->decisions) snapshot.decisions.push_back(std::move(d));
    if (chunk->last) {
      snapshot.receipt = std::move(chunk->receipt);
      return snapshot;
    }
    deadline = Clock::now() + timeout;
  }
  return Failure{stopped(stop) ? "stopped" : "no snapshot from the aggregator"};
}

}  // namespace fleetban::common

namespace fleetban::common {

DrainResult drain_spool(zmq::socket_t& ingest, const Spool& spool, std::size_t max_events,
                        std::chrono::milliseconds timeout_each) {
  DrainResult result;
  for (const auto& file : spool.list()) {
    if (result.sent + result.refused + result.moved_aside >= max_events) break;
    auto read = spool.read(file);
    if (!read.error.empty()) {
      spdlog::error("spool_file_unreadable {}", read.error);
      ++result.moved_aside;
      continue;
    }
    if (!read.event) continue;  // sent and removed by another process meanwhile
    auto ack = send_event(ingest, *read.event, timeout_each);
    if (!ack || ack->outcome == AckOutcome::throttled) {
      result.stalled = true;  // away, or over this host's rate limit: the file stays for later
      break;
    }
    if (ack->outcome == AckOutcome::refused) {
      // Refused for good: resending would be refused again. Kept aside, and the drain goes on.
      auto moved = spool.set_aside(file, ack->reason);
      spdlog::warn("spooled_event_refused file={} reason=\"{}\" {}", file.string(), ack->reason,
                   moved ? "moved_to=" + moved->string() : "not_moved=\"" + moved.error() + "\"");
      if (!moved) spool.remove(file);
      ++result.refused;
      continue;
    }
    spool.remove(file);
    ++result.sent;
  }
  if (result.sent + result.refused > 0 && !result.stalled) spool.mark_reachable();
  return result;
}

}  // namespace fleetban::common
