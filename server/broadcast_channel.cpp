#include "server/broadcast_channel.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "common/codec.hpp"
#include "common/errors.hpp"
#include "common/time.hpp"

namespace fleetban::server {

namespace {

constexpr int kMonitoredEvents = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED;

common::SocketMonitor monitor(zmq::context_t& context, zmq::socket_t& socket) {
  auto monitor = common::SocketMonitor::watch(context, socket, kMonitoredEvents);
  if (!monitor) throw common::RuntimeError("cannot monitor the broadcast socket");
  return std::move(*monitor);
}

}  // namespace

BroadcastChannel::BroadcastChannel(zmq::context_t& context, const ServerSockets& sockets, std::string endpoint,
                                   ServerMetrics& metrics)
    : context_(context),
      sockets_(sockets),
      endpoint_(std::move(endpoint)),
      metrics_(metrics),
      socket_(sockets_.broadcast(endpoint_)),
      monitor_(monitor(context_, socket_)) {
  metrics_.subscribers = 0;
}

BroadcastChannel::~BroadcastChannel() { monitor_.stop(socket_); }

void BroadcastChannel::send(const common::Decision& decision) {
  socket_.send(zmq::buffer(common::encode(common::Broadcast{decision})), zmq::send_flags::dontwait);
}

void BroadcastChannel::heartbeat(std::uint64_t sequence, const std::string& incarnation) {
  common::Heartbeat heartbeat{sequence, incarnation, common::now_seconds()};
  socket_.send(zmq::buffer(common::encode(common::Broadcast{heartbeat})), zmq::send_flags::dontwait);
}

void BroadcastChannel::rebind() {
  monitor_.stop(socket_);
  sockets_.release(socket_);
  socket_.close();
  // libzmq's I/O thread closes the old listener a moment later: until then the address is taken.
  for (int attempt = 1;; ++attempt) {
    try {
      socket_ = sockets_.broadcast(endpoint_);
      break;
    } catch (const common::RuntimeError&) {
      if (attempt == 100) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // The old monitor's events (its disconnects) no longer count: the new one starts from zero.
  monitor_ = monitor(context_, socket_);
  metrics_.subscribers = 0;
  spdlog::warn("broadcast_rebound reason=\"a key was revoked\"; every subscriber reconnects");
}

void BroadcastChannel::count_subscribers() {
  monitor_.drain([&](std::uint16_t event, std::uint32_t) {
    auto current = metrics_.subscribers.load();
    if (event == ZMQ_EVENT_ACCEPTED) metrics_.subscribers = current + 1;
    if (event == ZMQ_EVENT_DISCONNECTED && current > 0) metrics_.subscribers = current - 1;
  });
}

}  // namespace fleetban::server
