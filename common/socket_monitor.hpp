#pragma once
// One place for libzmq's socket monitor (zmq_socket_monitor): the events a socket reports about
// its connections (handshakes failed, connections accepted and closed), read without blocking.

#include <cstdint>
#include <functional>
#include <optional>
#include <zmq.hpp>

namespace fleetban::common {

class SocketMonitor {
 public:
  // Watches `socket` for `events` (ZMQ_EVENT_* bits); nullopt if libzmq cannot (the caller decides
  // whether that is fatal). Call before the socket connects or binds, or its first events are missed.
  static std::optional<SocketMonitor> watch(zmq::context_t& context, zmq::socket_t& socket, int events);

  // Calls fn(event, value) for every event waiting; never blocks.
  void drain(const std::function<void(std::uint16_t event, std::uint32_t value)>& fn);
  // The PAIR the events arrive on, to poll beside other sockets.
  zmq::socket_t& events() { return pair_; }
  // Stops libzmq from monitoring `socket` (the one watched) and drops the events still queued.
  // Call it before the socket or this monitor is closed: libzmq frees neither an event it sends
  // to a PAIR that is gone nor one left unread in the inproc pipe (LeakSanitizer sees both).
  void stop(zmq::socket_t& socket);

 private:
  explicit SocketMonitor(zmq::socket_t pair) : pair_(std::move(pair)) {}
  zmq::socket_t pair_;
};

}  // namespace fleetban::common
