#include "bench/simulated_subscribers.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace fleetban::bench {

SimulatedSubscribers::SimulatedSubscribers(int connections, int per_socket, const std::vector<std::string>& endpoints,
                                           const CurveClient& keys)
    : context_(kIoThreads), epoll_(epoll_create1(EPOLL_CLOEXEC)), connections_(connections), per_socket_(per_socket) {
  const int count = (connections + per_socket - 1) / per_socket;
  context_.set(zmq::ctxopt::max_sockets, count + 100);
  sockets_.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    zmq::socket_t sub(context_, zmq::socket_type::sub);
    sub.set(zmq::sockopt::curve_serverkey, keys.server_public);
    sub.set(zmq::sockopt::curve_publickey, keys.client_public);
    sub.set(zmq::sockopt::curve_secretkey, keys.client_secret);
    sub.set(zmq::sockopt::subscribe, "");
    sub.set(zmq::sockopt::linger, 0);
    epoll_event event{.events = EPOLLIN, .data = {.u32 = static_cast<std::uint32_t>(i)}};
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, sub.get(zmq::sockopt::fd), &event) != 0) {
      throw std::runtime_error(fmt::format("epoll_ctl: {}", std::strerror(errno)));
    }
    sockets_.push_back(std::move(sub));
  }
  connected_.resize(sockets_.size());
  reconnect(endpoints);
}

void SimulatedSubscribers::reconnect(const std::vector<std::string>& endpoints) {
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    for (const auto& endpoint : connected_[i]) sockets_[i].disconnect(endpoint);
    connected_[i].clear();
    for (int c = 0; c < connections_of(i); ++c) {
      // libzmq makes one connection per endpoint text on a socket: the second goes by name.
      auto endpoint =
          endpoints[(i * static_cast<std::size_t>(per_socket_) + static_cast<std::size_t>(c)) % endpoints.size()];
      if (c == 1) endpoint.replace(endpoint.find("127.0.0.1"), 9, "localhost");
      sockets_[i].connect(endpoint);
      connected_[i].push_back(endpoint);
    }
  }
}

double wait_connected(SimulatedSubscribers& subscribers, std::chrono::seconds timeout, std::string_view what) {
  auto start = Clock::now();
  struct Heard {
    std::pair<std::uint64_t, std::int64_t> last{0, -1};  // the heartbeat's sequence and time
    int copies = 0;
    bool live = false;
  };
  std::vector<Heard> heard(subscribers.size());
  std::size_t got = 0;
  // In steps, saying how far it got: thousands of CURVE handshakes take a while.
  for (auto step = start; got < subscribers.size() && step < start + timeout;) {
    step = std::min(step + std::chrono::seconds(10), start + timeout);
    got = subscribers.read_until(
        step,
        [&](std::size_t i, const common::Broadcast& message, std::int64_t) {
          const auto* heartbeat = std::get_if<common::Heartbeat>(&message);
          if (heartbeat == nullptr) return;
          std::pair<std::uint64_t, std::int64_t> key{heartbeat->sequence, common::to_unix(heartbeat->time)};
          auto& h = heard[i];
          h.copies = key == h.last ? h.copies + 1 : 1;
          h.last = key;
          if (h.copies >= subscribers.connections_of(i)) h.live = true;
        },
        [&](std::size_t i) { return heard[i].live; });
    fmt::print("{} connecting: {} of {} sockets live after {:.0f} s\n", what, got, subscribers.size(),
               seconds_since(start));
    std::fflush(stdout);
  }
  if (got < subscribers.size()) {
    throw std::runtime_error(
        fmt::format("only {} of {} sockets connected in {} s", got, subscribers.size(), timeout.count()));
  }
  return seconds_since(start);
}

}  // namespace fleetban::bench
