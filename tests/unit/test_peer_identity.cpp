// Who sent a frame: the User-Id the ZAP handler gave its connection, parsed, and the connection's
// address, read from real frames on loopback TCP (the CURVE case is in test_zap_handler.cpp).

#include "server/peer_identity.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "common/poll.hpp"

namespace {

using fleetban::server::parse_user_id;
using fleetban::server::PeerRole;
using namespace std::chrono_literals;

TEST(PeerIdentity, ParsesWhatTheZapHandlerWritesAndNothingElse) {
  const std::string key(64, 'f');
  auto host = parse_user_id("host:web:01:" + key);
  ASSERT_TRUE(host);
  EXPECT_EQ(host->name, "web:01");  // a name may hold ':'
  EXPECT_EQ(host->role, PeerRole::host);
  EXPECT_EQ(host->key, key);
  auto op = parse_user_id("operator:alice:" + key);
  ASSERT_TRUE(op);
  EXPECT_EQ(op->role, PeerRole::operator_);
  auto relay = parse_user_id("relay:relay-eu1:" + key);
  ASSERT_TRUE(relay);
  EXPECT_EQ(relay->role, PeerRole::relay);
  EXPECT_EQ(relay->name, "relay-eu1");
  EXPECT_FALSE(parse_user_id("admin:web-01:" + key));
  EXPECT_FALSE(parse_user_id("relays:web-01:" + key));
  EXPECT_FALSE(parse_user_id("host:web-01:short"));
  EXPECT_FALSE(parse_user_id("host::" + key));
  EXPECT_FALSE(parse_user_id("host:" + key));
  EXPECT_FALSE(parse_user_id(""));
}

// One frame sent over loopback TCP without CURVE, as the server received it.
zmq::message_t frame_over_tcp(zmq::context_t& context) {
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:*");
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(router.get(zmq::sockopt::last_endpoint));
  dealer.send(zmq::str_buffer("hello"), zmq::send_flags::none);
  zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
  fleetban::common::poll_for(&item, 1, 5000ms);
  zmq::message_t identity, payload;
  if (!router.recv(identity, zmq::recv_flags::dontwait) || !router.recv(payload, zmq::recv_flags::dontwait)) {
    throw std::runtime_error("no frame within 5 s");
  }
  return payload;
}

TEST(PeerIdentity, AFrameNamesTheAddressItCameFrom) {
  zmq::context_t context;
  auto frame = frame_over_tcp(context);
  auto sender = fleetban::server::sender_of(frame, true);
  ASSERT_TRUE(sender.address);
  EXPECT_EQ(sender.address->to_string(), "127.0.0.1");
  EXPECT_FALSE(sender.peer);  // insecure: no identity taken
}

TEST(PeerIdentity, WithoutAUserIdThereIsNoPeerEvenWhenKeysAreChecked) {
  zmq::context_t context;
  auto frame = frame_over_tcp(context);
  EXPECT_FALSE(fleetban::server::sender_of(frame, false).peer);
}

TEST(PeerIdentity, AFrameMadeInProcessHasNeitherIdentityNorAddress) {
  zmq::message_t local(std::string_view("local"));
  auto sender = fleetban::server::sender_of(local, false);
  EXPECT_FALSE(sender.peer);
  EXPECT_FALSE(sender.address);
}

}  // namespace
