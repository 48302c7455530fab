#pragma once
// Simulated subscribers for the fan-out benchmarks (P6 fan-out, P7 failover): thousands of CURVE
// SUB connections in one process, read through one epoll set; each copy a socket receives is one
// subscriber's receipt.

#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "bench/bench_support.hpp"
#include "common/codec.hpp"

namespace fleetban::bench {

constexpr int kIoThreads = 2;  // the aggregator's server_io_threads() on this 2-CPU machine

// Clock::now() in nanoseconds: the subscribers' receipt times.
inline std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct CurveClient {
  std::string server_public;  // Z85
  std::string client_public;
  std::string client_secret;
};

class SimulatedSubscribers {
 public:
  // `connections` subscriber connections, `per_socket` on each SUB socket (all of a socket's
  // connections get every message, each copy is one subscriber's receipt): a socket costs a
  // descriptor of its own besides its connections', and this process may hold only so many.
  SimulatedSubscribers(int connections, int per_socket, const std::vector<std::string>& endpoints,
                       const CurveClient& keys);
  ~SimulatedSubscribers() { ::close(epoll_); }
  SimulatedSubscribers(const SimulatedSubscribers&) = delete;
  SimulatedSubscribers& operator=(const SimulatedSubscribers&) = delete;

  // Every connection leaves its endpoint for the one `endpoints` gives it (as the constructor
  // spreads them): a failover, where each subscriber moves to the next member's broadcast.
  void reconnect(const std::vector<std::string>& endpoints);

  std::size_t size() const { return sockets_.size(); }
  int connections() const { return connections_; }
  int connections_of(std::size_t socket) const {
    return std::min(per_socket_, connections_ - static_cast<int>(socket) * per_socket_);
  }

  // Reads until `done(i)` has been true for every socket, or the deadline. on_message(i, broadcast,
  // at_ns) sees every decoded message; returns how many sockets are done.
  template <typename OnMessage, typename Done>
  std::size_t read_until(Clock::time_point deadline, OnMessage on_message, Done done) {
    std::vector<epoll_event> events(1024);
    std::size_t finished = 0;
    // Level-triggered on libzmq's mailbox descriptors: a socket that got something since it was
    // last read dry is reported here, so no socket needs a look before the first wait.
    for (std::size_t i = 0; i < sockets_.size(); ++i) finished += done(i) ? 1 : 0;
    while (finished < sockets_.size() && Clock::now() < deadline) {
      check_interrupted();
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 50);
      for (int e = 0; e < n; ++e) finished += drain(events[static_cast<std::size_t>(e)].data.u32, on_message, done);
    }
    return finished;
  }

 private:
  // Every message the socket holds (libzmq's fd is edge-triggered: it must be read dry); 1 if the
  // socket became done.
  template <typename OnMessage, typename Done>
  std::size_t drain(std::size_t i, OnMessage& on_message, Done& done) {
    bool was_done = done(i);
    auto& socket = sockets_[i];
    zmq::message_t message;
    while (socket.get(zmq::sockopt::events) & ZMQ_POLLIN) {
      if (!socket.recv(message, zmq::recv_flags::dontwait)) break;
      const std::int64_t at = monotonic_ns();
      auto broadcast = common::decode_broadcast(message.to_string_view());
      if (broadcast) on_message(i, *broadcast, at);
    }
    return !was_done && done(i) ? 1 : 0;
  }

  zmq::context_t context_;
  int epoll_;
  int connections_;
  int per_socket_;
  std::vector<zmq::socket_t> sockets_;
  std::vector<std::vector<std::string>> connected_;  // each socket's endpoints now
};

// Waits until every connection is live: a socket is when one heartbeat (or hello) reached it as
// many times as it has connections. Says how far it got every 10 s (`what` names the row); throws
// when not all are live within `timeout`. Returns the seconds it took.
double wait_connected(SimulatedSubscribers& subscribers, std::chrono::seconds timeout, std::string_view what);

}  // namespace fleetban::bench
