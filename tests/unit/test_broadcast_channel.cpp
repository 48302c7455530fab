// The broadcast channel on a real PUB (ipc in a temp dir, no CURVE), followed by real SUBs:
// decisions and heartbeats arrive encoded, subscribers are counted as they come and go, and a
// rebind cuts every subscriber off and counts the ones that come back.

#include "server/broadcast_channel.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/codec.hpp"
#include "common/poll.hpp"
#include "printers.hpp"
#include "temp_dir.hpp"

namespace {

using fleetban::common::Decision;
using fleetban::common::Heartbeat;
using fleetban::server::BroadcastChannel;
using namespace std::chrono_literals;

struct Subject {
  fleetban::testing::TempDir dir;
  zmq::context_t context;
  fleetban::server::ServerSockets sockets{context, fleetban::common::ServerSecurity{.insecure = true}};
  fleetban::server::ServerMetrics metrics;
  std::string endpoint = "ipc://" + (dir / "broadcast").string();
  BroadcastChannel channel{context, sockets, endpoint, metrics};

  zmq::socket_t subscriber() {
    zmq::socket_t sub(context, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::subscribe, "");
    sub.connect(endpoint);
    return sub;
  }

  // Counts monitor events until `want` subscribers are counted or 10 s pass.
  bool counted(std::uint64_t want) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{channel.monitor_events().handle(), 0, ZMQ_POLLIN, 0};
      fleetban::common::poll_for(&item, 1, 50ms);
      channel.count_subscribers();
      if (metrics.subscribers.load() == want) return true;
    }
    return false;
  }
};

// The next broadcast message on `sub` within 5 s, re-sending with `send` every 50 ms (a new SUB's
// subscription takes a moment to reach the PUB, and a PUB drops what nobody subscribed to yet).
fleetban::common::Broadcast next(zmq::socket_t& sub, const std::function<void()>& send) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    send();
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    fleetban::common::poll_for(&item, 1, 50ms);
    zmq::message_t message;
    if (sub.recv(message, zmq::recv_flags::dontwait)) {
      auto decoded = fleetban::common::decode_broadcast(message.to_string_view());
      if (!decoded) throw std::runtime_error("undecodable broadcast");
      return *decoded;
    }
  }
  throw std::runtime_error("nothing broadcast within 5 s");
}

TEST(BroadcastChannel, SendsDecisionsAndHeartbeatsEncoded) {
  Subject s;
  auto sub = s.subscriber();
  Decision d;
  d.sequence = 7;
  d.prefix = *fleetban::common::IpPrefix::parse("192.0.2.7");
  d.active = true;
  auto got = next(sub, [&] { s.channel.send(d); });
  ASSERT_TRUE(std::holds_alternative<Decision>(got));
  EXPECT_EQ(std::get<Decision>(got).sequence, 7u);
  EXPECT_EQ(std::get<Decision>(got).prefix, d.prefix);

  fleetban::common::Broadcast beat;
  do {
    beat = next(sub, [&] { s.channel.heartbeat(9, "inc-1"); });
  } while (!std::holds_alternative<Heartbeat>(beat));
  EXPECT_EQ(std::get<Heartbeat>(beat).sequence, 9u);
  EXPECT_EQ(std::get<Heartbeat>(beat).incarnation, "inc-1");
}

TEST(BroadcastChannel, CountsSubscribersAsTheyComeAndGo) {
  Subject s;
  auto a = s.subscriber();
  auto b = s.subscriber();
  EXPECT_TRUE(s.counted(2));
  a.close();
  EXPECT_TRUE(s.counted(1));
  b.close();
  EXPECT_TRUE(s.counted(0));
}

TEST(BroadcastChannel, RebindCutsEverySubscriberOffAndTheyComeBack) {
  Subject s;
  auto a = s.subscriber();
  auto b = s.subscriber();
  ASSERT_TRUE(s.counted(2));
  s.channel.rebind();
  EXPECT_EQ(s.metrics.subscribers.load(), 0u);
  // libzmq's SUBs reconnect by themselves; the new socket's monitor counts them from zero.
  EXPECT_TRUE(s.counted(2));
  Decision d;
  d.sequence = 1;
  d.prefix = *fleetban::common::IpPrefix::parse("198.51.100.1");
  auto got = next(a, [&] { s.channel.send(d); });
  EXPECT_TRUE(std::holds_alternative<Decision>(got));
}

}  // namespace
