// The serving side's sockets on loopback, without CURVE (CURVE and the ZAP handler: see
// test_zap_handler.cpp): the ROUTER says when a reply cannot go (ROUTER_MANDATORY) instead of
// dropping it, drops frames over 64 KiB unread, a taken address is named, and both listen with a
// backlog sized for a whole fleet reconnecting.

#include "server/server_sockets.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "common/errors.hpp"
#include "common/poll.hpp"

namespace {

using fleetban::server::ServerSockets;
using namespace std::chrono_literals;

struct Subject {
  zmq::context_t context;
  ServerSockets sockets{context, fleetban::common::ServerSecurity{.insecure = true}};
};

TEST(ServerSockets, WithoutCurveEveryoneIsAdmittedAndNothingToReload) {
  Subject s;
  EXPECT_TRUE(s.sockets.insecure());
  EXPECT_TRUE(s.sockets.authenticator_alive());
  EXPECT_TRUE(s.sockets.admits({fleetban::server::PeerRole::host, "anyone", std::string(64, '0')}));
  EXPECT_FALSE(s.sockets.reload_keys());
}

TEST(ServerSockets, AReplyToAnUnknownConnectionFailsLoudly) {
  Subject s;
  auto ingest = s.sockets.ingest("tcp://127.0.0.1:*");
  zmq::message_t nobody(std::string_view("\0nobody", 7));
  try {
    ingest.send(nobody, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    FAIL() << "sent to a connection that does not exist";
  } catch (const zmq::error_t& e) {
    EXPECT_EQ(e.num(), EHOSTUNREACH);
  }
}

TEST(ServerSockets, AFrameOverSixtyFourKibibytesIsDroppedUnread) {
  Subject s;
  auto ingest = s.sockets.ingest("tcp://127.0.0.1:*");
  const std::string endpoint = ingest.get(zmq::sockopt::last_endpoint);
  zmq::socket_t big(s.context, zmq::socket_type::dealer);
  big.set(zmq::sockopt::linger, 0);
  big.connect(endpoint);
  big.send(zmq::buffer(std::string(fleetban::common::kMaxIngestMessageBytes + 1, 'x')), zmq::send_flags::none);
  zmq::socket_t small(s.context, zmq::socket_type::dealer);
  small.set(zmq::sockopt::linger, 0);
  small.connect(endpoint);
  small.send(zmq::str_buffer("small"), zmq::send_flags::none);
  // Only the small frame arrives (the big one's connection is closed by libzmq).
  std::vector<std::string> got;
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < deadline) {
    zmq::pollitem_t item{ingest.handle(), 0, ZMQ_POLLIN, 0};
    fleetban::common::poll_for(&item, 1, 100ms);
    zmq::message_t identity, payload;
    if (ingest.recv(identity, zmq::recv_flags::dontwait) && ingest.recv(payload, zmq::recv_flags::dontwait)) {
      got.push_back(payload.to_string());
    }
  }
  EXPECT_EQ(got, std::vector<std::string>{"small"});
}

TEST(ServerSockets, ATakenAddressIsNamed) {
  Subject s;
  auto first = s.sockets.broadcast("tcp://127.0.0.1:*");
  const std::string endpoint = first.get(zmq::sockopt::last_endpoint);
  try {
    auto second = s.sockets.ingest(endpoint);
    FAIL() << "bound " << endpoint << " twice";
  } catch (const fleetban::common::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot bind " + endpoint), std::string::npos) << e.what();
  }
}

TEST(ServerSockets, ABadEndpointIsAUsageError) {
  Subject s;
  EXPECT_THROW(s.sockets.ingest("nonsense"), fleetban::common::UsageError);
}

}  // namespace

// After an aggregator restart the whole fleet reconnects at once: libzmq's default listen backlog
// (100) would drop most of their SYNs, each then waiting out TCP's retransmission back-off.
TEST(ServerSockets, BothSocketsListenWithAFleetSizedBacklog) {
  Subject s;
  auto ingest = s.sockets.ingest("tcp://127.0.0.1:*");
  auto broadcast = s.sockets.broadcast("tcp://127.0.0.1:*");
  EXPECT_EQ(ingest.get(zmq::sockopt::backlog), fleetban::server::kListenBacklog);
  EXPECT_EQ(broadcast.get(zmq::sockopt::backlog), fleetban::server::kListenBacklog);
  EXPECT_GE(fleetban::server::kListenBacklog, 1024);
}
