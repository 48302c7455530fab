#pragma once
// A stand-in for the aggregator's ingest ROUTER, for tests of its clients: a real ROUTER on a
// loopback port the system picks (no CURVE), answering each request with what the test's handler
// returns, on a thread of its own.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/codec.hpp"

namespace fleetban::testing {

class FakeAggregator {
 public:
  // The frames to send back for one request, in order: encode(Reply{...}), or any bytes at all.
  // Runs on the fake's thread.
  using Handler = std::function<std::vector<std::string>(const common::Request&)>;

  explicit FakeAggregator(Handler handler) : handler_(std::move(handler)) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeAggregator() {
    stop_ = true;
    thread_.join();
  }
  FakeAggregator(const FakeAggregator&) = delete;
  FakeAggregator& operator=(const FakeAggregator&) = delete;

  // "tcp://127.0.0.1:PORT"
  const std::string& endpoint() const { return endpoint_; }
  // Requests received so far (decodable or not).
  std::size_t requests() const { return requests_.load(); }

  // The reply frame of one reply.
  static std::string frame(const common::Reply& reply) { return common::encode(reply); }

 private:
  void serve() {
    while (!stop_) {
      zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(20));
      if ((item.revents & ZMQ_POLLIN) == 0) continue;
      zmq::message_t identity;
      zmq::message_t payload;
      if (!router_.recv(identity, zmq::recv_flags::dontwait)) continue;
      if (!identity.more() || !router_.recv(payload, zmq::recv_flags::dontwait)) continue;
      ++requests_;
      auto request = common::decode_request(payload.to_string_view());
      if (!request) continue;
      for (const std::string& reply : handler_(*request)) {
        router_.send(zmq::buffer(identity.to_string_view()), zmq::send_flags::sndmore);
        router_.send(zmq::buffer(reply), zmq::send_flags::none);
      }
    }
  }

  Handler handler_;
  zmq::context_t context_;
  zmq::socket_t router_{context_, zmq::socket_type::router};
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> requests_{0};
  std::thread thread_;
};

// An endpoint where nothing listens: a port that was bound a moment ago and released.
inline std::string dead_endpoint() {
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::router);
  socket.set(zmq::sockopt::linger, 0);
  socket.bind("tcp://127.0.0.1:*");
  return socket.get(zmq::sockopt::last_endpoint);
}

}  // namespace fleetban::testing
