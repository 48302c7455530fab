// The client side of common/socket_factory.hpp: ClientSockets' ingest DEALER and broadcast SUB,
// against real sockets on loopback, and HandshakeMonitor telling a CURVE mismatch, a wrong server
// key and a refused key apart instead of leaving a silent timeout.

#include "common/socket_factory.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "common/errors.hpp"
#include "common/keys.hpp"
#include "temp_dir.hpp"
#include "usage_error.hpp"

namespace {

using namespace fleetban::common;
using fleetban::testing::has;
using fleetban::testing::TempDir;
using fleetban::testing::usage_error_of;
using Clock = std::chrono::steady_clock;

// Generous, and only waited out when something is wrong.
constexpr std::chrono::seconds kPatient{15};

// Answers every ZAP request in its context with 400: every key is refused.
class RefuseEveryKey {
 public:
  explicit RefuseEveryKey(zmq::context_t& context) : socket_(context, zmq::socket_type::rep) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind("inproc://zeromq.zap.01");
    thread_ = std::thread([this] { serve(); });
  }
  ~RefuseEveryKey() {
    stop_ = true;
    thread_.join();
  }

 private:
  void serve() {
    while (!stop_) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(20));
      if ((item.revents & ZMQ_POLLIN) == 0) continue;
      std::vector<std::string> request;
      zmq::message_t frame;
      do {
        if (!socket_.recv(frame)) return;
        request.push_back(frame.to_string());
      } while (frame.more());
      // version, request id, status code, status text, user id, metadata
      const std::string request_id = request.size() > 1 ? request[1] : "";
      socket_.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
      socket_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
      socket_.send(zmq::str_buffer("400"), zmq::send_flags::sndmore);
      socket_.send(zmq::str_buffer("refused"), zmq::send_flags::sndmore);
      socket_.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
      socket_.send(zmq::str_buffer(""), zmq::send_flags::none);
    }
  }
  zmq::socket_t socket_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A ROUTER on loopback standing in for the aggregator: with CURVE (its secret key) or without.
class TestServer {
 public:
  explicit TestServer(std::optional<KeyPair> curve, bool refuse_every_key = false) {
    if (refuse_every_key) zap_ = std::make_unique<RefuseEveryKey>(context_);
    router_.set(zmq::sockopt::linger, 0);
    if (curve) {
      router_.set(zmq::sockopt::curve_server, 1);
      router_.set(zmq::sockopt::curve_secretkey, curve->secret_key);
      router_.set(zmq::sockopt::zap_domain, "test");
    }
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  }
  const std::string& endpoint() const { return endpoint_; }

  // The next message's payload, within the deadline.
  std::optional<std::string> receive() {
    zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(kPatient));
    if ((item.revents & ZMQ_POLLIN) == 0) return std::nullopt;
    zmq::message_t identity;
    zmq::message_t payload;
    if (!router_.recv(identity) || !router_.recv(payload)) return std::nullopt;
    return payload.to_string();
  }

 private:
  zmq::context_t context_;
  std::unique_ptr<RefuseEveryKey> zap_;
  zmq::socket_t router_{context_, zmq::socket_type::router};
  std::string endpoint_;
};

// Key files for a host, and the aggregator's key pair.
struct Keys {
  TempDir dir;
  KeyPair aggregator;
  ClientSecurity client;

  Keys() {
    auto [aggregator_secret, aggregator_public] = write_keypair(dir.path(), "aggregator");
    aggregator = read_secret_key(aggregator_secret);
    client.server_key = aggregator_public;
    client.client_key = write_keypair(dir.path(), "web-01").first;
  }
};

// Polls the monitor until a handshake failure is reported, or the deadline passes.
std::optional<std::string> wait_for_failure(const ClientSockets& sockets) {
  auto deadline = Clock::now() + kPatient;
  while (Clock::now() < deadline) {
    if (auto failure = sockets.handshake_failure()) return failure;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

bool send(zmq::socket_t& socket, std::string_view text) {
  auto deadline = Clock::now() + kPatient;
  // With ZMQ_IMMEDIATE, a DEALER takes nothing before it is connected.
  while (!socket.send(zmq::buffer(text), zmq::send_flags::dontwait)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST(ClientSockets, CurveIngestReachesAServerWithTheRightKeys) {
  Keys keys;
  TestServer server(keys.aggregator);
  zmq::context_t context;
  ClientSockets sockets(context, keys.client);
  auto ingest = sockets.ingest(server.endpoint());
  ASSERT_TRUE(send(ingest, "hello"));
  EXPECT_EQ(server.receive(), "hello");
  EXPECT_EQ(sockets.handshake_failure(), std::nullopt);
}

TEST(ClientSockets, InsecureIngestReachesAnInsecureServerWithoutKeyFiles) {
  TestServer server(std::nullopt);
  zmq::context_t context;
  ClientSockets sockets(context, ClientSecurity{.insecure = true, .server_key = "/nonexistent.pub"});
  auto ingest = sockets.ingest(server.endpoint());
  ASSERT_TRUE(send(ingest, "plain"));
  EXPECT_EQ(server.receive(), "plain");
}

TEST(ClientSockets, IngestQueuesNothingWhileNotConnected) {
  // ZMQ_IMMEDIATE: an event is not left in a socket queue, it goes to the spool.
  zmq::context_t context;
  ClientSockets sockets(context, ClientSecurity{.insecure = true});
  auto ingest = sockets.ingest("tcp://127.0.0.1:1");  // nothing listens on port 1
  EXPECT_FALSE(ingest.send(zmq::str_buffer("x"), zmq::send_flags::dontwait));
  EXPECT_EQ(ingest.get(zmq::sockopt::linger), 0);
}

// A long-lived client (a subscriber's or a relay's Clone client) makes a new pair of sockets each
// time it moves on to the next aggregator, every few seconds for as long as none answers. The
// handshake monitor of a socket it releases must go with it: a context holds at most 1,023
// sockets (ZMQ_MAX_SOCKETS), and each monitor is one more, so keeping them all stopped such a
// client with EMFILE ("Too many open files") after about 500 moves: with its aggregators down for
// an hour or two, every subscriber. And failures are still told after all that.
TEST(ClientSockets, SocketsMadeAndClosedThousandsOfTimesLeaveNoMonitorBehind) {
  Keys keys;
  zmq::context_t context;
  ClientSockets sockets(context, keys.client);
  // 1,200 pairs: 2,400 monitors if kept. The pause lets libzmq's reaper thread close each pair
  // (asynchronously, after zmq_close) as it would between a real client's moves, which come
  // seconds apart: without it, closed sockets pile up faster than the reaper ends them.
  for (int i = 0; i < 1'200; ++i) {
    auto ingest = sockets.ingest("tcp://127.0.0.1:1");
    auto broadcast = sockets.broadcast("tcp://127.0.0.1:1");
    sockets.release(ingest);
    sockets.release(broadcast);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  TestServer insecure_server(std::nullopt);
  auto ingest = sockets.ingest(insecure_server.endpoint());
  // Which words depend on the handshake's timing (describe_handshake_failure); that one is told.
  EXPECT_TRUE(wait_for_failure(sockets));
}

TEST(ClientSockets, BroadcastReceivesEverythingPublished) {
  zmq::context_t server_context;
  zmq::socket_t pub(server_context, zmq::socket_type::pub);
  pub.set(zmq::sockopt::linger, 0);
  pub.bind("tcp://127.0.0.1:*");
  zmq::context_t context;
  ClientSockets sockets(context, ClientSecurity{.insecure = true});
  auto sub = sockets.broadcast(pub.get(zmq::sockopt::last_endpoint));
  // A subscription takes a moment to reach the publisher: publish until one arrives.
  auto deadline = Clock::now() + kPatient;
  std::optional<std::string> got;
  while (!got && Clock::now() < deadline) {
    pub.send(zmq::str_buffer("any topic at all"), zmq::send_flags::none);
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(50));
    zmq::message_t message;
    if ((item.revents & ZMQ_POLLIN) != 0 && sub.recv(message, zmq::recv_flags::dontwait)) got = message.to_string();
  }
  EXPECT_EQ(got, "any topic at all");
}

TEST(ClientSockets, EndpointThatDoesNotParseIsAUsageErrorNamingIt) {
  zmq::context_t context;
  ClientSockets sockets(context, ClientSecurity{.insecure = true});
  for (const char* bad : {"", "tcp://no-port", "nonsense"}) {
    std::string message = usage_error_of([&] { (void)sockets.ingest(bad); });
    EXPECT_TRUE(has(message, "'" + std::string(bad) + "'")) << message;
    message = usage_error_of([&] { (void)sockets.broadcast(bad); });
    EXPECT_TRUE(has(message, "'" + std::string(bad) + "'")) << message;
  }
}

TEST(ClientSockets, MissingKeyFileIsAUsageErrorNamingIt) {
  Keys keys;
  zmq::context_t context;
  ClientSecurity missing_server = keys.client;
  missing_server.server_key = keys.dir / "nope.pub";
  std::string message = usage_error_of([&] { ClientSockets sockets(context, missing_server); });
  EXPECT_TRUE(has(message, "nope.pub")) << message;
  ClientSecurity missing_client = keys.client;
  missing_client.client_key = keys.dir / "nope.key";
  message = usage_error_of([&] { ClientSockets sockets(context, missing_client); });
  EXPECT_TRUE(has(message, "nope.key")) << message;
}

// --- handshake failures, told apart -------------------------------------------------------------

// What a client with `security` is told when it connects to `server`: "" when nothing failed.
std::string handshake_failure(const TestServer& server, const ClientSecurity& security) {
  zmq::context_t context;
  ClientSockets sockets(context, security);
  auto ingest = sockets.ingest(server.endpoint());
  return wait_for_failure(sockets).value_or("");
}

TEST(HandshakeMonitor, CurveClientAndInsecureServerIsASecurityMismatch) {
  Keys keys;
  TestServer server(std::nullopt);
  std::string failure = handshake_failure(server, keys.client);
  EXPECT_TRUE(has(failure, "insecure = true")) << "'" << failure << "'";
}

TEST(HandshakeMonitor, InsecureClientAndCurveServerIsASecurityMismatch) {
  Keys keys;
  TestServer server(keys.aggregator);
  std::string failure = handshake_failure(server, ClientSecurity{.insecure = true});
  EXPECT_TRUE(has(failure, "security mismatch")) << "'" << failure << "'";
}

TEST(HandshakeMonitor, WrongServerKeyIsNamed) {
  Keys keys;
  TestServer server(generate_keypair());  // not the key the client expects
  std::string failure = handshake_failure(server, keys.client);
  EXPECT_TRUE(has(failure, "server_key")) << "'" << failure << "'";
}

TEST(HandshakeMonitor, KeyTheServerRefusesIsNamed) {
  Keys keys;
  TestServer server(keys.aggregator, /*refuse_every_key=*/true);
  std::string failure = handshake_failure(server, keys.client);
  EXPECT_TRUE(has(failure, "refused this key")) << "'" << failure << "'";
  EXPECT_TRUE(has(failure, "authorized_dir")) << "'" << failure << "'";
}

}  // namespace
