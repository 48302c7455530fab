// The client's requests on the ingest endpoint (common/aggregator_client.hpp), against a real
// ROUTER on loopback that answers as the test tells it: acks, statuses, snapshots in chunks,
// replies meant for others, garbage and silence.

#include "common/aggregator_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "common/socket_factory.hpp"
#include "fake_aggregator.hpp"
#include "printers.hpp"
#include "sample_event.hpp"
#include "temp_dir.hpp"

namespace {

using namespace fleetban::common;
using fleetban::testing::dead_endpoint;
using fleetban::testing::FakeAggregator;
using fleetban::testing::TempDir;
using std::chrono::milliseconds;

// Generous: a reply that is coming comes long before; only the tests of silence wait it out.
constexpr milliseconds kPatient{10'000};
constexpr milliseconds kShort{300};

constexpr std::int64_t kMs = 1'795'652'765'000;

Event event(std::string_view ip, std::int64_t created_ms = kMs) {
  return fleetban::testing::sample_event(ip, created_ms);
}

Decision decision(std::string_view ip, std::uint64_t sequence) {
  Decision d;
  d.sequence = sequence;
  d.prefix = *IpPrefix::parse(ip);
  d.active = true;
  d.banned_at = from_unix(1'795'650'000);
  d.reporters = {"web-01"};
  d.jails = {"sshd"};
  d.reporter_count = 1;
  d.jail_count = 1;
  d.ban_count = 1;
  return d;
}

Ack ack(const EventId& id, AckOutcome outcome, std::string reason = "") {
  return Ack{.event_id = id, .outcome = outcome, .reason = std::move(reason)};
}

// A DEALER to `endpoint` as every client makes it (no CURVE here: the fake has none).
class Client {
 public:
  explicit Client(const std::string& endpoint)
      : sockets_(context_, ClientSecurity{.insecure = true}), ingest_(sockets_.ingest(endpoint)) {}
  zmq::socket_t& ingest() { return ingest_; }

 private:
  zmq::context_t context_;
  ClientSockets sockets_;
  zmq::socket_t ingest_;
};

// --- send_event ---------------------------------------------------------------------------------

TEST(AggregatorClient, SendEventReturnsTheAckOfItsEvent) {
  FakeAggregator aggregator([](const Request& request) -> std::vector<std::string> {
    const auto& e = std::get<Event>(request);
    return {FakeAggregator::frame(ack(e.id, AckOutcome::applied))};
  });
  Client client(aggregator.endpoint());
  Event sent = event("192.0.2.10");
  auto result = send_event(client.ingest(), sent, kPatient);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->event_id, sent.id);
  EXPECT_EQ(result->outcome, AckOutcome::applied);
}

TEST(AggregatorClient, SendEventSkipsGarbageAndAcksOfOtherEvents) {
  FakeAggregator aggregator([](const Request& request) -> std::vector<std::string> {
    const auto& e = std::get<Event>(request);
    return {"not a reply", FakeAggregator::frame(ack(random_event_id(), AckOutcome::refused, "someone else's")),
            FakeAggregator::frame(Status{.request_id = "x"}),
            FakeAggregator::frame(ack(e.id, AckOutcome::refused, "allowlisted"))};
  });
  Client client(aggregator.endpoint());
  auto result = send_event(client.ingest(), event("192.0.2.11"), kPatient);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->outcome, AckOutcome::refused);
  EXPECT_EQ(result->reason, "allowlisted");
}

TEST(AggregatorClient, SendEventWithoutAnAckFailsAtTheTimeout) {
  FakeAggregator aggregator([](const Request&) -> std::vector<std::string> { return {}; });
  Client client(aggregator.endpoint());
  auto result = send_event(client.ingest(), event("192.0.2.12"), kShort);
  EXPECT_FALSE(result);
  EXPECT_NE(result.error().find("no ack"), std::string::npos) << result.error();
  EXPECT_EQ(aggregator.requests(), 1u);  // it was sent, and only once
}

TEST(AggregatorClient, SendEventToNobodyIsNotReachable) {
  Client client(dead_endpoint());
  auto result = send_event(client.ingest(), event("192.0.2.13"), kShort);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().find("not reachable"), std::string::npos) << result.error();
}

// --- fetch_status -------------------------------------------------------------------------------

TEST(AggregatorClient, FetchStatusTakesTheStatusOfItsOwnRequest) {
  FakeAggregator aggregator([](const Request& request) -> std::vector<std::string> {
    const auto& asked = std::get<StatusRequest>(request);
    return {FakeAggregator::frame(Status{.request_id = "other", .sequence = 1}),
            FakeAggregator::frame(ack(random_event_id(), AckOutcome::applied)),
            FakeAggregator::frame(Status{.request_id = asked.request_id,
                                         .sequence = 42,
                                         .incarnation = "inc",
                                         .active_bans = 7,
                                         .reporters = 3,
                                         .subscribers = 2})};
  });
  Client client(aggregator.endpoint());
  auto status = fetch_status(client.ingest(), kPatient);
  ASSERT_TRUE(status) << status.error();
  EXPECT_EQ(status->sequence, 42u);
  EXPECT_EQ(status->incarnation, "inc");
  EXPECT_EQ(status->active_bans, 7u);
  EXPECT_EQ(status->reporters, 3u);
  EXPECT_EQ(status->subscribers, 2u);
}

TEST(AggregatorClient, EachStatusRequestHasItsOwnId) {
  std::mutex mutex;
  std::vector<std::string> ids;
  FakeAggregator aggregator([&](const Request& request) -> std::vector<std::string> {
    const auto& asked = std::get<StatusRequest>(request);
    std::lock_guard lock(mutex);
    ids.push_back(asked.request_id);
    return {FakeAggregator::frame(Status{.request_id = asked.request_id})};
  });
  Client client(aggregator.endpoint());
  ASSERT_TRUE(fetch_status(client.ingest(), kPatient));
  ASSERT_TRUE(fetch_status(client.ingest(), kPatient));
  std::lock_guard lock(mutex);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_FALSE(ids[0].empty());
}

TEST(AggregatorClient, FetchStatusAnsweredOnlyForOthersTimesOut) {
  FakeAggregator aggregator([](const Request&) -> std::vector<std::string> {
    return {FakeAggregator::frame(Status{.request_id = "not-yours"})};
  });
  Client client(aggregator.endpoint());
  auto status = fetch_status(client.ingest(), kShort);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("no status"), std::string::npos) << status.error();
}

// --- fetch_snapshot -----------------------------------------------------------------------------

TEST(AggregatorClient, FetchSnapshotGathersEveryChunkOfItsRequest) {
  FakeAggregator aggregator([](const Request& request) -> std::vector<std::string> {
    const auto& asked = std::get<SnapshotRequest>(request);
    auto chunk = [&](std::vector<Decision> decisions, bool last) {
      return FakeAggregator::frame(SnapshotChunk{.request_id = asked.request_id,
                                                 .sequence = 9,
                                                 .incarnation = "inc",
                                                 .decisions = std::move(decisions),
                                                 .last = last});
    };
    return {chunk({decision("192.0.2.1", 3), decision("192.0.2.2", 5)}, false),
            FakeAggregator::frame(
                SnapshotChunk{.request_id = "another", .decisions = {decision("192.0.2.99", 1)}, .last = true}),
            chunk({}, false), chunk({decision("2001:db8::/48", 9)}, true)};
  });
  Client client(aggregator.endpoint());
  auto snapshot = fetch_snapshot(client.ingest(), kPatient);
  ASSERT_TRUE(snapshot) << snapshot.error();
  EXPECT_EQ(snapshot->sequence, 9u);
  EXPECT_EQ(snapshot->incarnation, "inc");
  ASSERT_EQ(snapshot->decisions.size(), 3u);
  EXPECT_EQ(snapshot->decisions[0].prefix, *IpPrefix::parse("192.0.2.1"));
  EXPECT_EQ(snapshot->decisions[1].prefix, *IpPrefix::parse("192.0.2.2"));
  EXPECT_EQ(snapshot->decisions[2].prefix, *IpPrefix::parse("2001:db8::/48"));
}

TEST(AggregatorClient, FetchSnapshotWithoutItsLastChunkFails) {
  FakeAggregator aggregator([](const Request& request) -> std::vector<std::string> {
    const auto& asked = std::get<SnapshotRequest>(request);
    return {FakeAggregator::frame(
        SnapshotChunk{.request_id = asked.request_id, .decisions = {decision("192.0.2.1", 1)}, .last = false})};
  });
  Client client(aggregator.endpoint());
  auto snapshot = fetch_snapshot(client.ingest(), kShort);
  ASSERT_FALSE(snapshot);
  EXPECT_NE(snapshot.error().find("no snapshot"), std::string::npos) << snapshot.error();
}

// A daemon that stops while it waits for a snapshot (the relay's follower, a subscriber) does not
// wait out the timeout: the stop flag ends the wait. Here the aggregator never answers and the
// timeout is an hour, so only the flag can end it.
TEST(AggregatorClient, FetchSnapshotEndsWhenTheStopFlagIsSet) {
  std::atomic<bool> stop{false};
  FakeAggregator aggregator([&stop](const Request& request) -> std::vector<std::string> {
    if (std::holds_alternative<SnapshotRequest>(request)) stop.store(true);
    return {};
  });
  Client client(aggregator.endpoint());
  auto snapshot = fetch_snapshot(client.ingest(), std::chrono::hours(1), {}, WithGeo::no, &stop);
  ASSERT_FALSE(snapshot);
  EXPECT_EQ(snapshot.error(), "stopped");
  // Already stopping, with nobody to send to: no wait for a connection either.
  Client nobody(dead_endpoint());
  auto unsent = fetch_snapshot(nobody.ingest(), std::chrono::hours(1), {}, WithGeo::no, &stop);
  ASSERT_FALSE(unsent);
  EXPECT_EQ(unsent.error(), "stopped");
}

TEST(AggregatorClient, FetchSnapshotFromNobodyIsNotReachable) {
  Client client(dead_endpoint());
  auto snapshot = fetch_snapshot(client.ingest(), kShort);
  ASSERT_FALSE(snapshot);
  EXPECT_NE(snapshot.error().find("not reachable"), std::string::npos) << snapshot.error();
}

// --- drain_spool --------------------------------------------------------------------------------

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The aggregator's answer per address, for the drain tests.
FakeAggregator::Handler answering(std::map<std::string, Ack> by_address) {
  return [by_address = std::move(by_address)](const Request& request) -> std::vector<std::string> {
    const auto& e = std::get<Event>(request);
    auto it = by_address.find(e.prefix.to_string());
    if (it == by_address.end()) return {};
    Ack answer = it->second;
    answer.event_id = e.id;
    return {FakeAggregator::frame(answer)};
  };
}

TEST(AggregatorClient, DrainSendsOldestFirstAndSetsRefusedFilesAside) {
  TempDir dir;
  Spool spool(dir / "spool", 1 << 20);
  ASSERT_TRUE(spool.put(event("192.0.2.21", kMs)));
  ASSERT_TRUE(spool.put(event("192.0.2.22", kMs + 1)));
  ASSERT_TRUE(spool.put(event("192.0.2.23", kMs + 2)));
  const auto refused_file = spool.list()[1];
  FakeAggregator aggregator(answering({{"192.0.2.21", ack({}, AckOutcome::applied)},
                                       {"192.0.2.22", ack({}, AckOutcome::refused, "allowlisted")},
                                       {"192.0.2.23", ack({}, AckOutcome::duplicate)}}));
  Client client(aggregator.endpoint());
  auto result = drain_spool(client.ingest(), spool, 10, kPatient);
  EXPECT_EQ(result.sent, 2u);  // a duplicate was applied before: done with too
  EXPECT_EQ(result.refused, 1u);
  EXPECT_EQ(result.moved_aside, 0u);
  EXPECT_FALSE(result.stalled);
  EXPECT_TRUE(spool.list().empty());
  const auto bad = dir / "spool" / "bad" / refused_file.filename();
  EXPECT_TRUE(std::filesystem::exists(bad)) << bad;
  EXPECT_NE(read_text(bad.string() + ".reason").find("allowlisted"), std::string::npos);
}

TEST(AggregatorClient, DrainStopsAtTheFirstEventWithoutAnAck) {
  TempDir dir;
  Spool spool(dir / "spool", 1 << 20);
  ASSERT_TRUE(spool.put(event("192.0.2.31", kMs)));
  ASSERT_TRUE(spool.put(event("192.0.2.32", kMs + 1)));  // no answer for this one
  ASSERT_TRUE(spool.put(event("192.0.2.33", kMs + 2)));
  FakeAggregator aggregator(
      answering({{"192.0.2.31", ack({}, AckOutcome::applied)}, {"192.0.2.33", ack({}, AckOutcome::applied)}}));
  Client client(aggregator.endpoint());
  auto result = drain_spool(client.ingest(), spool, 10, kShort);
  EXPECT_EQ(result.sent, 1u);
  EXPECT_TRUE(result.stalled);
  EXPECT_EQ(spool.list().size(), 2u);  // the unanswered one and the one after it wait
}

TEST(AggregatorClient, DrainLeavesAThrottledEventForLater) {
  TempDir dir;
  Spool spool(dir / "spool", 1 << 20);
  ASSERT_TRUE(spool.put(event("192.0.2.41", kMs)));
  FakeAggregator aggregator(answering({{"192.0.2.41", ack({}, AckOutcome::throttled)}}));
  Client client(aggregator.endpoint());
  auto result = drain_spool(client.ingest(), spool, 10, kPatient);
  EXPECT_EQ(result.sent, 0u);
  EXPECT_TRUE(result.stalled);
  EXPECT_EQ(spool.list().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir / "spool" / "bad"));
}

TEST(AggregatorClient, DrainSendsNoMoreThanAsked) {
  TempDir dir;
  Spool spool(dir / "spool", 1 << 20);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(spool.put(event("192.0.2." + std::to_string(50 + i), kMs + i)));
  FakeAggregator aggregator(answering({{"192.0.2.50", ack({}, AckOutcome::applied)},
                                       {"192.0.2.51", ack({}, AckOutcome::applied)},
                                       {"192.0.2.52", ack({}, AckOutcome::applied)}}));
  Client client(aggregator.endpoint());
  auto result = drain_spool(client.ingest(), spool, 2, kPatient);
  EXPECT_EQ(result.sent, 2u);
  EXPECT_FALSE(result.stalled);
  ASSERT_EQ(spool.list().size(), 1u);
  EXPECT_EQ(spool.read(spool.list()[0]).event->prefix, *IpPrefix::parse("192.0.2.52"));  // the newest stays
}

TEST(AggregatorClient, DrainMovesAnUnreadableFileAsideAndGoesOn) {
  TempDir dir;
  Spool spool(dir / "spool", 1 << 20);
  ASSERT_TRUE(spool.put(event("192.0.2.61", kMs)));
  // A file with a spool name that does not hold an event, sorted before the good one.
  const auto garbage = dir / "spool" / "0000000000000001-garbage.event";
  std::ofstream(garbage) << "not an event";
  ASSERT_EQ(spool.list().size(), 2u);
  FakeAggregator aggregator(answering({{"192.0.2.61", ack({}, AckOutcome::applied)}}));
  Client client(aggregator.endpoint());
  auto result = drain_spool(client.ingest(), spool, 10, kPatient);
  EXPECT_EQ(result.moved_aside, 1u);
  EXPECT_EQ(result.sent, 1u);
  EXPECT_TRUE(spool.list().empty());
  EXPECT_TRUE(std::filesystem::exists(dir / "spool" / "bad" / garbage.filename()));
}

}  // namespace
