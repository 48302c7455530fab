// The ZAP handler and the server sockets with real CURVE over loopback TCP: a key in
// authorized_dir connects and its messages carry "host:NAME:KEY"; an operator key is an operator,
// a relay key (relays/) a relay, and the names admitted under each role are known; an unknown key never gets a message
// through; a key removed and reloaded is no longer admitted; a bad key file is named at start.

#include "server/zap_handler.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "common/errors.hpp"
#include "common/keys.hpp"
#include "common/poll.hpp"
#include "server/peer_identity.hpp"
#include "server/server_sockets.hpp"
#include "temp_dir.hpp"

namespace {

using fleetban::server::PeerRole;
using fleetban::server::Sender;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct Fleet {
  fleetban::testing::TempDir dir;
  fs::path keys = dir / "keys";
  fs::path authorized = dir / "authorized";
  zmq::context_t context;
  std::optional<fleetban::server::ServerSockets> server;
  zmq::socket_t ingest;
  std::string endpoint;

  Fleet() {
    fs::create_directories(keys);
    fs::create_directories(authorized / "operators");
    fs::create_directories(authorized / "relays");
    fleetban::common::write_keypair(keys, "aggregator");
  }
  // A key pair in keys/; its public key admitted as a host, operator or relay (or not at all).
  void make_key(const std::string& name, const char* admitted_as) {
    auto [secret, pub] = fleetban::common::write_keypair(keys, name);
    if (std::string_view(admitted_as) == "host") fs::copy_file(pub, authorized / (name + ".pub"));
    if (std::string_view(admitted_as) == "operator") fs::copy_file(pub, authorized / "operators" / (name + ".pub"));
    if (std::string_view(admitted_as) == "relay") fs::copy_file(pub, authorized / "relays" / (name + ".pub"));
  }
  void start() {
    server.emplace(context, fleetban::common::ServerSecurity{false, keys / "aggregator.key", authorized});
    ingest = server->ingest("tcp://127.0.0.1:*");
    endpoint = ingest.get(zmq::sockopt::last_endpoint);
  }
  // Sends one frame with `name`'s key; what the server received (its sender), if anything in 2 s.
  std::optional<Sender> send_as(const std::string& name) {
    fleetban::common::ClientSockets client(
        context, fleetban::common::ClientSecurity{false, keys / "aggregator.pub", keys / (name + ".key")});
    zmq::socket_t dealer = client.ingest(endpoint);
    auto deadline = std::chrono::steady_clock::now() + 2s;
    bool sent = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!sent) sent = dealer.send(zmq::str_buffer("hello"), zmq::send_flags::dontwait).has_value();
      zmq::pollitem_t item{ingest.handle(), 0, ZMQ_POLLIN, 0};
      fleetban::common::poll_for(&item, 1, 20ms);
      zmq::message_t identity, payload;
      if (!ingest.recv(identity, zmq::recv_flags::dontwait)) continue;
      if (!ingest.recv(payload, zmq::recv_flags::dontwait)) continue;
      return fleetban::server::sender_of(payload, false);
    }
    return std::nullopt;
  }
};

TEST(ZapHandler, AnAdmittedHostKeyIsNamedAndTiedToItsKey) {
  Fleet f;
  f.make_key("web-01", "host");
  f.start();
  auto sender = f.send_as("web-01");
  ASSERT_TRUE(sender);
  ASSERT_TRUE(sender->peer);
  EXPECT_EQ(sender->peer->role, PeerRole::host);
  EXPECT_EQ(sender->peer->name, "web-01");
  EXPECT_EQ(sender->peer->key.size(), 64u);
  ASSERT_TRUE(sender->address);
  EXPECT_EQ(sender->address->to_string(), "127.0.0.1");
  EXPECT_TRUE(f.server->admits(*sender->peer));
}

TEST(ZapHandler, AnOperatorKeyIsAnOperator) {
  Fleet f;
  f.make_key("alice", "operator");
  f.start();
  auto sender = f.send_as("alice");
  ASSERT_TRUE(sender && sender->peer);
  EXPECT_EQ(sender->peer->role, PeerRole::operator_);
  EXPECT_EQ(sender->peer->name, "alice");
}

TEST(ZapHandler, ARelayKeyIsARelayAndTheNamesOfEachRoleAreKnown) {
  Fleet f;
  f.make_key("relay-eu1", "relay");
  f.make_key("web-01", "host");
  f.make_key("alice", "operator");
  f.start();
  auto sender = f.send_as("relay-eu1");
  ASSERT_TRUE(sender && sender->peer);
  EXPECT_EQ(sender->peer->role, PeerRole::relay);
  EXPECT_EQ(sender->peer->name, "relay-eu1");
  EXPECT_TRUE(f.server->admits(*sender->peer));
  EXPECT_TRUE(f.server->admits_name(PeerRole::host, "web-01"));
  EXPECT_TRUE(f.server->admits_name(PeerRole::operator_, "alice"));
  EXPECT_TRUE(f.server->admits_name(PeerRole::relay, "relay-eu1"));
  EXPECT_FALSE(f.server->admits_name(PeerRole::operator_, "web-01"));
  EXPECT_FALSE(f.server->admits_name(PeerRole::host, "alice"));
  EXPECT_FALSE(f.server->admits_name(PeerRole::host, "web-02"));
  // The same key admitted as a relay is not a host of that name.
  auto as_host = *sender->peer;
  as_host.role = PeerRole::host;
  EXPECT_FALSE(f.server->admits(as_host));
}

TEST(ZapHandler, AnUnknownKeyGetsNothingThrough) {
  Fleet f;
  f.make_key("stranger", "nowhere");
  f.start();
  EXPECT_FALSE(f.send_as("stranger"));
  EXPECT_TRUE(f.server->handshake_failure());
}

TEST(ZapHandler, AKeyRemovedAndReloadedIsNoLongerAdmitted) {
  Fleet f;
  f.make_key("web-01", "host");
  f.make_key("web-02", "host");
  f.start();
  auto sender = f.send_as("web-01");
  ASSERT_TRUE(sender && sender->peer);
  fs::remove(f.authorized / "web-01.pub");
  EXPECT_TRUE(f.server->reload_keys());  // a key went: its open connections must be cut off
  EXPECT_FALSE(f.server->admits(*sender->peer));
  EXPECT_FALSE(f.send_as("web-01"));
  EXPECT_TRUE(f.send_as("web-02"));
}

TEST(ZapHandler, AKeyReplacedUnderTheSameNameIsARemovedKey) {
  Fleet f;
  f.make_key("web-01", "host");
  f.start();
  auto old_sender = f.send_as("web-01");
  ASSERT_TRUE(old_sender && old_sender->peer);
  fs::remove(f.keys / "web-01.key");
  fs::remove(f.keys / "web-01.pub");
  fs::remove(f.authorized / "web-01.pub");
  f.make_key("web-01", "host");
  EXPECT_TRUE(f.server->reload_keys());
  EXPECT_FALSE(f.server->admits(*old_sender->peer));
  auto new_sender = f.send_as("web-01");
  ASSERT_TRUE(new_sender && new_sender->peer);
  EXPECT_NE(new_sender->peer->key, old_sender->peer->key);
  EXPECT_TRUE(f.server->admits(*new_sender->peer));
}

TEST(ZapHandler, ABadKeyFileStopsTheStartNamingIt) {
  Fleet f;
  std::ofstream(f.authorized / "web-01.pub") << "not a key\n";
  try {
    f.start();
    FAIL() << "started with a bad key file";
  } catch (const fleetban::common::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("web-01.pub"), std::string::npos) << e.what();
  }
}

TEST(ZapHandler, ABadKeyFileAtReloadLeavesOutOnlyThatName) {
  Fleet f;
  f.make_key("web-01", "host");
  f.make_key("web-02", "host");
  f.start();
  auto web01 = f.send_as("web-01");
  ASSERT_TRUE(web01 && web01->peer);
  std::ofstream(f.authorized / "web-01.pub", std::ios::trunc) << "garbage\n";
  f.server->reload_keys();
  EXPECT_FALSE(f.server->admits(*web01->peer));  // fails closed for the bad file's name
  EXPECT_TRUE(f.send_as("web-02"));
}

}  // namespace
