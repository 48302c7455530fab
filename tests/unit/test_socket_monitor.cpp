// The socket monitor helper on real TCP sockets: connections accepted and closed arrive as events,
// read without blocking; two monitors in one process do not collide; a stopped monitor keeps
// nothing queued and reports nothing more.

#include "common/socket_monitor.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <vector>

#include "common/poll.hpp"

namespace {

using fleetban::common::SocketMonitor;
using namespace std::chrono_literals;

// Events drained from `monitor` until one equal to `want` arrives, or 5 s pass.
bool saw(SocketMonitor& monitor, std::uint16_t want) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  bool found = false;
  while (!found && std::chrono::steady_clock::now() < deadline) {
    zmq::pollitem_t item{monitor.events().handle(), 0, ZMQ_POLLIN, 0};
    fleetban::common::poll_for(&item, 1, 50ms);
    monitor.drain([&](std::uint16_t event, std::uint32_t) { found = found || event == want; });
  }
  return found;
}

// A ROUTER on loopback watched for connections accepted and closed, and a DEALER connected to it.
struct Watched {
  zmq::context_t context;
  zmq::socket_t server{context, zmq::socket_type::router};
  std::optional<SocketMonitor> monitor =
      SocketMonitor::watch(context, server, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
  zmq::socket_t client{context, zmq::socket_type::dealer};

  Watched() {
    server.set(zmq::sockopt::linger, 0);
    client.set(zmq::sockopt::linger, 0);
    if (!monitor) throw std::runtime_error("libzmq cannot monitor the ROUTER");
    server.bind("tcp://127.0.0.1:*");
    client.connect(server.get(zmq::sockopt::last_endpoint));
  }
};

TEST(SocketMonitor, ReportsConnectionsAcceptedAndClosed) {
  Watched w;
  EXPECT_TRUE(saw(*w.monitor, ZMQ_EVENT_ACCEPTED));
  w.client.close();
  EXPECT_TRUE(saw(*w.monitor, ZMQ_EVENT_DISCONNECTED));
}

TEST(SocketMonitor, StopDropsWhatIsQueuedAndReportsNothingMore) {
  Watched w;
  // The accepted event is queued, unread.
  zmq::pollitem_t item{w.monitor->events().handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(fleetban::common::poll_for(&item, 1, 5s), 1);

  w.monitor->stop(w.server);
  int events = 0;
  w.monitor->drain([&](std::uint16_t, std::uint32_t) { ++events; });
  EXPECT_EQ(events, 0) << "stop() left events queued";
  w.client.close();
  fleetban::common::poll_for(&item, 1, 300ms);
  w.monitor->drain([&](std::uint16_t, std::uint32_t) { ++events; });
  EXPECT_EQ(events, 0) << "a stopped monitor still reported a disconnect";
}

TEST(SocketMonitor, TwoMonitorsEachSeeTheirOwnSocket) {
  zmq::context_t context;
  zmq::socket_t a(context, zmq::socket_type::router), b(context, zmq::socket_type::router);
  auto watch_a = SocketMonitor::watch(context, a, ZMQ_EVENT_ACCEPTED);
  auto watch_b = SocketMonitor::watch(context, b, ZMQ_EVENT_ACCEPTED);
  ASSERT_TRUE(watch_a && watch_b);
  a.bind("tcp://127.0.0.1:*");
  b.bind("tcp://127.0.0.1:*");
  zmq::socket_t client(context, zmq::socket_type::dealer);
  client.set(zmq::sockopt::linger, 0);
  client.connect(b.get(zmq::sockopt::last_endpoint));
  EXPECT_TRUE(saw(*watch_b, ZMQ_EVENT_ACCEPTED));
  bool a_saw = false;
  watch_a->drain([&](std::uint16_t, std::uint32_t) { a_saw = true; });
  EXPECT_FALSE(a_saw);
  a.set(zmq::sockopt::linger, 0);
  b.set(zmq::sockopt::linger, 0);
}

TEST(SocketMonitor, DrainNeverBlocksWhenNothingHappened) {
  zmq::context_t context;
  zmq::socket_t server(context, zmq::socket_type::router);
  server.set(zmq::sockopt::linger, 0);
  auto monitor = SocketMonitor::watch(context, server, ZMQ_EVENT_ACCEPTED);
  ASSERT_TRUE(monitor);
  int events = 0;
  monitor->drain([&](std::uint16_t, std::uint32_t) { ++events; });
  EXPECT_EQ(events, 0);
}

}  // namespace
