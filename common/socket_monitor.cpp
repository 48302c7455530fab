#include "common/socket_monitor.hpp"

#include <atomic>
#include <cstring>
#include <string>

namespace fleetban::common {

std::optional<SocketMonitor> SocketMonitor::watch(zmq::context_t& context, zmq::socket_t& socket, int events) {
  // Every monitor needs an inproc endpoint of its own, in every context of the process.
  static std::atomic<unsigned> next{0};
  std::string endpoint = "inproc://fleetban-socket-monitor-" + std::to_string(next++);
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(), events) != 0) return std::nullopt;
  zmq::socket_t pair(context, zmq::socket_type::pair);
  pair.set(zmq::sockopt::linger, 0);
  pair.connect(endpoint);
  return SocketMonitor(std::move(pair));
}

void SocketMonitor::drain(const std::function<void(std::uint16_t, std::uint32_t)>& fn) {
  zmq::message_t event;
  while (pair_.recv(event, zmq::recv_flags::dontwait)) {
    // Frame 1: a 16-bit event id and a 32-bit value; frame 2: the endpoint.
    if (event.size() >= sizeof(std::uint16_t) + sizeof(std::uint32_t)) {
      std::uint16_t id = 0;
      std::uint32_t value = 0;
      std::memcpy(&id, event.data(), sizeof id);
      std::memcpy(&value, static_cast<const char*>(event.data()) + sizeof id, sizeof value);
      fn(id, value);
    }
    zmq::message_t endpoint;
    if (event.more()) (void)pair_.recv(endpoint, zmq::recv_flags::dontwait);
  }
}

void SocketMonitor::stop(zmq::socket_t& socket) {
  // After zmq_socket_monitor(NULL) returns, libzmq sends no more events: whatever was sent is in
  // the pipe now, and reading it until there is none leaves nothing behind.
  zmq_socket_monitor(socket.handle(), nullptr, 0);
  drain([](std::uint16_t, std::uint32_t) {});
}

}  // namespace fleetban::common
