// The snapshot server on a real ROUTER, with real DEALER clients (inproc): chunks bounded in count
// and bytes, and one unread snapshot per connection at most (the receipt).

#include "server/snapshot_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <zmq.hpp>

#include "common/codec.hpp"
#include "common/poll.hpp"
#include "common/socket_factory.hpp"
#include "printers.hpp"

namespace {

using fleetban::common::Decision;
using fleetban::common::IpPrefix;
using fleetban::common::Reply;
using fleetban::common::SnapshotChunk;
using fleetban::common::SnapshotRequest;
using fleetban::server::RejectReason;
using fleetban::server::SnapshotServer;

std::vector<Decision> decisions(std::size_t n, std::size_t names = 1) {
  std::vector<Decision> all;
  for (std::size_t i = 0; i < n; ++i) {
    Decision d;
    d.sequence = i + 1;
    d.prefix = *IpPrefix::parse("2001:db8::" + std::to_string(i % 65536) + ":" + std::to_string(i / 65536));
    d.active = true;
    for (std::size_t k = 0; k < names; ++k) {
      d.reporters.push_back("host-" + std::to_string(k) + std::string(50, 'r'));
      d.jails.push_back("jail-" + std::to_string(k) + std::string(50, 'j'));
    }
    all.push_back(std::move(d));
  }
  return all;
}

struct Subject {
  zmq::context_t context;
  zmq::socket_t router{context, zmq::socket_type::router};
  fleetban::server::ServerMetrics metrics;
  fleetban::server::RateLimitedLog log;
  SnapshotServer server{router, metrics, log};
  std::vector<Decision> state;

  Subject() {
    router.set(zmq::sockopt::router_mandatory, 1);
    router.bind("inproc://snapshot-server-test");
  }

  zmq::socket_t client() {
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.connect("inproc://snapshot-server-test");
    return dealer;
  }

  // Sends a request from `dealer`, takes it off the ROUTER and serves it.
  void ask(zmq::socket_t& dealer, const SnapshotRequest& request) {
    dealer.send(zmq::buffer(fleetban::common::encode(fleetban::common::Request{request})), zmq::send_flags::none);
    zmq::message_t identity, payload;
    ASSERT_TRUE(router.recv(identity));
    ASSERT_TRUE(router.recv(payload));
    auto decoded = fleetban::common::decode_request(payload.to_string_view());
    ASSERT_TRUE(decoded);
    server.serve(identity, std::get<SnapshotRequest>(*decoded), 42, "incarnation", [&](const auto& take) {
      for (auto d : state) {
        if (!take(std::move(d))) return;
      }
    });
  }

  std::uint64_t refused() const { return metrics.rejected[static_cast<std::size_t>(RejectReason::rate_limited)]; }
};

// Every chunk waiting on `dealer` (none left after 200 ms of quiet).
std::vector<SnapshotChunk> read_chunks(zmq::socket_t& dealer) {
  std::vector<SnapshotChunk> chunks;
  while (true) {
    zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
    fleetban::common::poll_for(&item, 1, std::chrono::milliseconds(200));
    if ((item.revents & ZMQ_POLLIN) == 0) return chunks;
    zmq::message_t message;
    if (!dealer.recv(message, zmq::recv_flags::dontwait)) continue;
    EXPECT_LE(message.size(), static_cast<std::size_t>(fleetban::common::kMaxReplyMessageBytes));
    auto reply = fleetban::common::decode_reply(message.to_string_view());
    EXPECT_TRUE(reply);
    if (reply) chunks.push_back(std::get<SnapshotChunk>(std::move(*reply)));
  }
}

std::size_t last_chunks(const std::vector<SnapshotChunk>& chunks) {
  return static_cast<std::size_t>(std::count_if(chunks.begin(), chunks.end(), [](const auto& c) { return c.last; }));
}

TEST(SnapshotServer, StreamsEveryDecisionInChunksOfAtMostTenThousand) {
  Subject s;
  s.state = decisions(25'000);
  auto dealer = s.client();
  s.ask(dealer, {"r1", ""});
  auto chunks = read_chunks(dealer);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].decisions.size(), 10'000u);
  EXPECT_EQ(chunks[1].decisions.size(), 10'000u);
  EXPECT_EQ(chunks[2].decisions.size(), 5'000u);
  for (const auto& c : chunks) {
    EXPECT_EQ(c.request_id, "r1");
    EXPECT_EQ(c.sequence, 42u);
    EXPECT_EQ(c.incarnation, "incarnation");
  }
  EXPECT_FALSE(chunks[0].last);
  EXPECT_TRUE(chunks[2].last);
  EXPECT_FALSE(chunks[2].receipt.empty());
  EXPECT_TRUE(chunks[0].receipt.empty());
  EXPECT_EQ(s.metrics.snapshots_served, 1u);
}

TEST(SnapshotServer, ChunksAreBoundedInBytesWhateverTheDecisionsHold) {
  Subject s;
  s.state = decisions(2'000, 64);  // 64 long names each way: several KB a decision
  auto dealer = s.client();
  s.ask(dealer, {"r1", ""});
  auto chunks = read_chunks(dealer);
  ASSERT_GT(chunks.size(), 1u);
  std::size_t total = 0;
  for (const auto& c : chunks) {
    EXPECT_LE(fleetban::common::encode(Reply{c}).size(), SnapshotServer::kChunkBytes + 64 * 1024);
    total += c.decisions.size();
  }
  EXPECT_EQ(total, 2'000u);
}

TEST(SnapshotServer, NothingBannedIsOneEmptyLastChunk) {
  Subject s;
  auto dealer = s.client();
  s.ask(dealer, {"r1", ""});
  auto chunks = read_chunks(dealer);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_TRUE(chunks[0].last);
  EXPECT_TRUE(chunks[0].decisions.empty());
}

TEST(SnapshotServer, AConnectionGetsItsNextSnapshotOnlyWithTheLastOnesReceipt) {
  Subject s;
  s.state = decisions(10);
  auto dealer = s.client();
  s.ask(dealer, {"r1", ""});
  auto first = read_chunks(dealer);
  ASSERT_EQ(last_chunks(first), 1u);

  s.ask(dealer, {"r2", ""});  // no receipt: refused
  EXPECT_TRUE(read_chunks(dealer).empty());
  s.ask(dealer, {"r3", "not-the-receipt"});
  EXPECT_TRUE(read_chunks(dealer).empty());
  EXPECT_EQ(s.refused(), 2u);

  s.ask(dealer, {"r4", first.back().receipt});
  auto second = read_chunks(dealer);
  ASSERT_EQ(last_chunks(second), 1u);
  EXPECT_EQ(second.back().request_id, "r4");
  EXPECT_NE(second.back().receipt, first.back().receipt);  // a receipt is good once
  s.ask(dealer, {"r5", first.back().receipt});
  EXPECT_TRUE(read_chunks(dealer).empty());
}

TEST(SnapshotServer, AClientThatDoesNotReadGetsOneSnapshotQueuedNotFifty) {
  Subject s;
  s.state = decisions(20'000);
  auto flooder = s.client();
  for (int i = 0; i < 50; ++i) s.ask(flooder, {"flood-" + std::to_string(i), ""});
  // Another connection is served as usual.
  auto other = s.client();
  s.ask(other, {"other", ""});
  auto others = read_chunks(other);
  EXPECT_EQ(last_chunks(others), 1u);

  auto queued = read_chunks(flooder);
  EXPECT_EQ(last_chunks(queued), 1u);
  EXPECT_EQ(queued.size(), 2u);  // 20,000 decisions: two chunks, once
  EXPECT_EQ(s.refused(), 49u);
}

TEST(SnapshotServer, AReplyToAConnectionThatIsGoneIsDroppedNotQueued) {
  Subject s;
  zmq::message_t nobody(std::string_view("\0nobody", 7));
  EXPECT_FALSE(s.server.send(nobody, Reply{fleetban::common::Status{.request_id = "x"}}));
}

}  // namespace
