// The Clone client against a stand-in aggregator made of real sockets (ipc, no CURVE): a thread
// answering snapshot requests on a ROUTER with the state the test sets, and a PUB the test
// broadcasts on. Checks the order rules, the re-snapshot triggers and the receipt.

#include "common/clone_client.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/codec.hpp"
#include "common/poll.hpp"
#include "printers.hpp"
#include "temp_dir.hpp"

namespace {

using fleetban::common::CloneClient;
using fleetban::common::Decision;
using fleetban::common::IpPrefix;
using namespace std::chrono_literals;

Decision decision(std::uint64_t sequence, std::string_view ip = "192.0.2.1") {
  Decision d;
  d.sequence = sequence;
  d.prefix = *IpPrefix::parse(ip);
  d.active = true;
  return d;
}

class StandInAggregator {
 public:
  // `name` tells two stand-ins in one dir apart.
  explicit StandInAggregator(const fleetban::testing::TempDir& dir, const std::string& name = "")
      : ingest_("ipc://" + (dir / (name + "ingest")).string()),
        broadcast_("ipc://" + (dir / (name + "broadcast")).string()) {
    pub_.set(zmq::sockopt::linger, 0);
    pub_.bind(broadcast_);
    zmq::socket_t router(context_, zmq::socket_type::router);
    router.set(zmq::sockopt::linger, 0);
    router.bind(ingest_);
    thread_ = std::thread([this, r = std::move(router)]() mutable { serve(r); });
  }
  ~StandInAggregator() {
    stop_ = true;
    thread_.join();
  }

  void set_state(std::uint64_t sequence, std::vector<Decision> decisions) {
    std::lock_guard lock(mutex_);
    sequence_ = sequence;
    decisions_ = std::move(decisions);
  }
  void set_incarnation(std::string incarnation) {
    std::lock_guard lock(mutex_);
    incarnation_ = std::move(incarnation);
  }
  std::string incarnation() {
    std::lock_guard lock(mutex_);
    return incarnation_;
  }
  std::vector<fleetban::common::SnapshotRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  void publish(const fleetban::common::Broadcast& message) {
    pub_.send(zmq::buffer(fleetban::common::encode(message)), zmq::send_flags::none);
  }

  const std::string ingest_;
  const std::string broadcast_;

 private:
  void serve(zmq::socket_t& router) {
    while (!stop_) {
      zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
      fleetban::common::poll_for(&item, 1, 20ms);
      zmq::message_t identity, payload;
      if (!router.recv(identity, zmq::recv_flags::dontwait)) continue;
      if (!router.recv(payload, zmq::recv_flags::dontwait)) continue;
      auto request = fleetban::common::decode_request(payload.to_string_view());
      if (!request) continue;
      auto* snapshot = std::get_if<fleetban::common::SnapshotRequest>(&*request);
      if (snapshot == nullptr) continue;
      fleetban::common::SnapshotChunk chunk{.request_id = snapshot->request_id};
      {
        std::lock_guard lock(mutex_);
        chunk.incarnation = incarnation_;
        requests_.push_back(*snapshot);
        chunk.sequence = sequence_;
        chunk.decisions = decisions_;
        chunk.receipt = "receipt-" + std::to_string(requests_.size());
      }
      chunk.last = true;
      router.send(identity, zmq::send_flags::sndmore);
      router.send(zmq::buffer(fleetban::common::encode(fleetban::common::Reply{chunk})), zmq::send_flags::none);
    }
  }

  zmq::context_t context_;
  zmq::socket_t pub_{context_, zmq::socket_type::pub};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::uint64_t sequence_ = 0;
  std::string incarnation_ = "inc-1";
  std::vector<Decision> decisions_;
  std::vector<fleetban::common::SnapshotRequest> requests_;
  std::thread thread_;
};

struct Subject {
  fleetban::testing::TempDir dir;
  StandInAggregator aggregator{dir};
  zmq::context_t context;
  fleetban::common::ClientSockets sockets{context, fleetban::common::ClientSecurity{.insecure = true}};
  std::atomic<bool> stop{false};
  CloneClient client{sockets, {aggregator.ingest_}, {aggregator.broadcast_}, stop};

  // Polls until `want` decisions have come after the first snapshot, or 5 s pass.
  std::vector<std::uint64_t> follow(std::size_t want, const std::function<void()>& publish = {}) {
    std::vector<std::uint64_t> got;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
      if (publish) publish();
      auto update = client.poll(50ms);
      for (const auto& d : update.decisions) got.push_back(d.sequence);
    }
    return got;
  }
};

TEST(CloneClient, FirstPollTakesTheSnapshot) {
  Subject s;
  s.aggregator.set_state(10, {decision(3, "192.0.2.3"), decision(9, "192.0.2.9")});
  auto update = s.client.poll(50ms);
  ASSERT_TRUE(update.snapshot);
  EXPECT_EQ(update.snapshot->sequence, 10u);
  EXPECT_EQ(update.snapshot->decisions.size(), 2u);
  EXPECT_TRUE(s.client.synced());
  EXPECT_EQ(s.client.sequence(), 10u);
  ASSERT_EQ(s.aggregator.requests().size(), 1u);
  EXPECT_TRUE(s.aggregator.requests()[0].receipt.empty());  // a new connection has none
}

TEST(CloneClient, HandsOnTheDecisionsAfterTheSnapshotInOrderAndDropsOlderOnes) {
  Subject s;
  s.aggregator.set_state(10, {});
  ASSERT_TRUE(s.client.poll(50ms).snapshot);
  bool sent = false;
  auto got = s.follow(2, [&] {
    if (sent) return;
    sent = true;
    for (std::uint64_t seq : {9u, 10u, 11u, 12u}) s.aggregator.publish(decision(seq));
  });
  // The PUB may drop what it sends before the subscription reaches it: publish again if so.
  if (got.empty()) {
    sent = false;
    got = s.follow(2, [&] {
      if (sent) return;
      sent = true;
      for (std::uint64_t seq : {9u, 10u, 11u, 12u}) s.aggregator.publish(decision(seq));
    });
  }
  EXPECT_EQ(got, (std::vector<std::uint64_t>{11, 12}));
  EXPECT_EQ(s.client.sequence(), 12u);
}

TEST(CloneClient, AGapTakesANewSnapshotWithTheLastReceipt) {
  Subject s;
  s.aggregator.set_state(10, {});
  ASSERT_TRUE(s.client.poll(50ms).snapshot);
  s.aggregator.set_state(20, {decision(20, "192.0.2.20")});
  std::optional<fleetban::common::Snapshot> second;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!second && std::chrono::steady_clock::now() < deadline) {
    s.aggregator.publish(decision(13));  // 11 and 12 missed
    second = s.client.poll(50ms).snapshot;
  }
  ASSERT_TRUE(second);
  EXPECT_EQ(second->sequence, 20u);
  EXPECT_EQ(s.client.sequence(), 20u);
  auto requests = s.aggregator.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].receipt, "receipt-1");  // the first snapshot's, on the same connection
}

TEST(CloneClient, AHeartbeatAheadOrFromANewIncarnationTakesANewSnapshot) {
  Subject s;
  s.aggregator.set_state(10, {});
  ASSERT_TRUE(s.client.poll(50ms).snapshot);
  for (auto beat : {fleetban::common::Heartbeat{15, "inc-1", {}}, fleetban::common::Heartbeat{15, "inc-2", {}}}) {
    const auto before = s.aggregator.requests().size();
    s.aggregator.set_state(beat.sequence, {});
    bool resnapped = false;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!resnapped && std::chrono::steady_clock::now() < deadline) {
      s.aggregator.publish(beat);
      resnapped = s.client.poll(50ms).snapshot.has_value();
    }
    EXPECT_TRUE(resnapped);
    EXPECT_EQ(s.aggregator.requests().size(), before + 1);
  }
}

TEST(CloneClient, AHeartbeatBehindChangesNothing) {
  Subject s;
  s.aggregator.set_state(10, {});
  ASSERT_TRUE(s.client.poll(50ms).snapshot);
  for (int i = 0; i < 20; ++i) {
    s.aggregator.publish(fleetban::common::Heartbeat{10, "inc-1", {}});
    EXPECT_FALSE(s.client.poll(20ms).snapshot);
  }
  EXPECT_EQ(s.aggregator.requests().size(), 1u);
}

// A relay republishes the heartbeats its Clone client hands on: only those that find it in step.
TEST(CloneClient, HandsOnAHeartbeatOnlyInStep) {
  Subject s;
  s.aggregator.set_state(10, {});
  ASSERT_TRUE(s.client.poll(50ms).snapshot);
  std::optional<fleetban::common::Heartbeat> handed;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; !handed && std::chrono::steady_clock::now() < deadline;) {
    s.aggregator.publish(fleetban::common::Heartbeat{10, "inc-1", {}});
    handed = s.client.poll(50ms).heartbeat;
  }
  ASSERT_TRUE(handed);
  EXPECT_EQ(handed->sequence, 10u);
  EXPECT_EQ(s.client.incarnation(), "inc-1");
  // One ahead of it means a gap: not handed on (the relay's subscribers must not hear of 12 before
  // the relay has it), and the next poll takes a snapshot instead.
  s.aggregator.set_state(12, {});
  s.aggregator.publish(fleetban::common::Heartbeat{12, "inc-1", {}});
  bool resnapped = false;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       !resnapped && std::chrono::steady_clock::now() < deadline;) {
    auto update = s.client.poll(50ms);
    if (!update.snapshot) {
      EXPECT_FALSE(update.heartbeat && update.heartbeat->sequence == 12) << "handed on out of step";
    }
    resnapped = update.snapshot.has_value();
    if (!resnapped) s.aggregator.publish(fleetban::common::Heartbeat{12, "inc-1", {}});
  }
  EXPECT_TRUE(resnapped);
}

TEST(CloneClient, ResyncTakesANewSnapshotAtTheNextPoll) {
  Subject s;
  s.aggregator.set_state(10, {});
  ASSERT_TRUE(s.client.poll(50ms).snapshot);
  s.client.resync();
  EXPECT_FALSE(s.client.synced());
  auto update = s.client.poll(50ms);
  EXPECT_TRUE(update.snapshot);
  EXPECT_TRUE(s.client.synced());
}

// Two stand-ins, as two members of an HA group (or two relays) in host.toml's lists; the second
// is another incarnation unless a test says otherwise.
struct PairOfAggregators {
  PairOfAggregators() { second.set_incarnation("inc-2"); }

  fleetban::testing::TempDir dir;
  std::unique_ptr<StandInAggregator> first = std::make_unique<StandInAggregator>(dir, "first-");
  StandInAggregator second{dir, "second-"};
  zmq::context_t context;
  fleetban::common::ClientSockets sockets{context, fleetban::common::ClientSecurity{.insecure = true}};
  std::atomic<bool> stop{false};

  // A client of [first, second], in that order.
  std::unique_ptr<CloneClient> client_of_both() {
    return std::make_unique<CloneClient>(sockets, std::vector<std::string>{first->ingest_, second.ingest_},
                                         std::vector<std::string>{first->broadcast_, second.broadcast_}, stop);
  }

  // Polls `client` until a snapshot comes (publishing heartbeats on the second meanwhile), or 30 s pass.
  std::optional<fleetban::common::Snapshot> next_snapshot(CloneClient& client) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      second.publish(fleetban::common::Heartbeat{20, second.incarnation(), {}});
      if (auto update = client.poll(50ms); update.snapshot) return std::move(update.snapshot);
    }
    return std::nullopt;
  }

  // Polls `client` until the second's decision 21 arrives, publishing it until then, or 10 s pass.
  bool follows_the_second(CloneClient& client) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      second.publish(decision(21, "192.0.2.21"));
      for (const auto& d : client.poll(50ms).decisions) {
        if (d.sequence == 21) return true;
      }
    }
    return false;
  }
};

TEST(CloneClient, MovesOnToTheNextPairWhenTheOneItFollowsGoesSilent) {
  PairOfAggregators p;
  p.first->set_state(10, {decision(10, "192.0.2.10")});
  p.second.set_state(20, {decision(20, "192.0.2.20")});
  auto owned = p.client_of_both();
  CloneClient& client = *owned;
  auto update = client.poll(50ms);
  ASSERT_TRUE(update.snapshot);
  EXPECT_EQ(update.snapshot->sequence, 10u);
  EXPECT_EQ(client.ingest_endpoint(), p.first->ingest_);
  EXPECT_TRUE(p.second.requests().empty());

  p.first.reset();  // killed: no heartbeat, no answer from now on
  auto moved = p.next_snapshot(client);
  ASSERT_TRUE(moved);
  EXPECT_EQ(client.ingest_endpoint(), p.second.ingest_);
  EXPECT_EQ(moved->sequence, 20u);
  ASSERT_EQ(moved->decisions.size(), 1u);
  EXPECT_EQ(moved->decisions[0].prefix.to_string(), "192.0.2.20");
  ASSERT_EQ(p.second.requests().size(), 1u);
  EXPECT_TRUE(p.second.requests()[0].receipt.empty());  // a new connection has none
  EXPECT_TRUE(p.follows_the_second(client));
}

// An HA group's new active member carries on the sequence and the incarnation: no snapshot.
TEST(CloneClient, MovesOnWithoutASnapshotWhenTheNextPairCarriesOnItsIncarnation) {
  PairOfAggregators p;
  p.first->set_state(10, {decision(10, "192.0.2.10")});
  p.second.set_incarnation("inc-1");
  p.second.set_state(10, {decision(10, "192.0.2.10")});
  auto owned = p.client_of_both();
  CloneClient& client = *owned;
  ASSERT_TRUE(client.poll(50ms).snapshot);
  p.first.reset();

  // Decision 11 is applied, whether it comes before the second's first heartbeat (held until the
  // heartbeat says "inc-1") or after it. No heartbeat says 11: a dropped message (before the
  // subscription is live) cannot make the client look behind.
  std::vector<std::uint64_t> got;
  bool snapshot = false;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (got.empty() && std::chrono::steady_clock::now() < deadline) {
    p.second.publish(fleetban::common::Heartbeat{10, "inc-1", {}});
    p.second.publish(decision(11, "192.0.2.11"));
    auto update = client.poll(50ms);
    snapshot = snapshot || update.snapshot.has_value();
    for (const auto& d : update.decisions) got.push_back(d.sequence);
  }
  EXPECT_EQ(got, std::vector<std::uint64_t>{11});
  EXPECT_FALSE(snapshot);
  EXPECT_TRUE(p.second.requests().empty());
  EXPECT_EQ(client.ingest_endpoint(), p.second.ingest_);
  EXPECT_EQ(client.sequence(), 11u);
}

// The same incarnation, but the second is ahead of what reached the client: a snapshot after all.
TEST(CloneClient, MovesOnWithASnapshotWhenTheNextPairIsAhead) {
  PairOfAggregators p;
  p.first->set_state(10, {});
  p.second.set_incarnation("inc-1");
  p.second.set_state(15, {decision(15, "192.0.2.15")});
  auto owned = p.client_of_both();
  CloneClient& client = *owned;
  ASSERT_TRUE(client.poll(50ms).snapshot);
  p.first.reset();
  std::optional<fleetban::common::Snapshot> next;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!next && std::chrono::steady_clock::now() < deadline) {
    p.second.publish(fleetban::common::Heartbeat{15, "inc-1", {}});
    next = client.poll(50ms).snapshot;
  }
  ASSERT_TRUE(next);
  EXPECT_EQ(next->sequence, 15u);
  EXPECT_EQ(client.ingest_endpoint(), p.second.ingest_);
}

TEST(CloneClient, MovesOnToTheNextPairWhenTheFirstDoesNotAnswer) {
  PairOfAggregators p;
  const std::string nobody_ingest = "ipc://" + (p.dir / "nobody-ingest").string();
  const std::string nobody_broadcast = "ipc://" + (p.dir / "nobody-broadcast").string();
  p.second.set_state(20, {decision(20, "192.0.2.20")});
  CloneClient client{p.sockets, {nobody_ingest, p.second.ingest_}, {nobody_broadcast, p.second.broadcast_}, p.stop};
  auto snapshot = p.next_snapshot(client);
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->sequence, 20u);
  EXPECT_EQ(client.ingest_endpoint(), p.second.ingest_);
  EXPECT_TRUE(p.follows_the_second(client));
}

TEST(CloneClient, ListsOfDifferentLengthsAreAProgrammingError) {
  PairOfAggregators p;
  EXPECT_THROW((CloneClient{p.sockets, {p.second.ingest_}, {}, p.stop}), std::logic_error);
  EXPECT_THROW((CloneClient{p.sockets, {}, {}, p.stop}), std::logic_error);
}

}  // namespace
