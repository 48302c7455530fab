// A client with several ingest endpoints (common/endpoint_list.hpp), against real ROUTERs on
// loopback: one that acks, one that never answers (a frozen peer that accepts TCP), and ports
// where nothing listens.

#include "common/endpoint_list.hpp"

#include <gtest/gtest.h>

#include "common/aggregator_client.hpp"
#include "fake_aggregator.hpp"
#include "printers.hpp"
#include "sample_event.hpp"

namespace {

using namespace fleetban::common;
using fleetban::testing::dead_endpoint;
using fleetban::testing::FakeAggregator;
using std::chrono::milliseconds;

// Generous: an ack that is coming comes long before; only the tests of silence wait it out.
constexpr milliseconds kPatient{10'000};
constexpr milliseconds kShort{400};

Event event(std::string_view ip) { return fleetban::testing::sample_event(ip); }

FakeAggregator::Handler acking() {
  return [](const Request& request) -> std::vector<std::string> {
    const auto& e = std::get<Event>(request);
    return {FakeAggregator::frame(Ack{.event_id = e.id, .outcome = AckOutcome::applied, .reason = {}})};
  };
}

FakeAggregator::Handler frozen() {
  return [](const Request&) -> std::vector<std::string> { return {}; };
}

struct Client {
  zmq::context_t context;
  ClientSockets sockets{context, ClientSecurity{.insecure = true}};
};

// --- send_event_to_any --------------------------------------------------------------------------

TEST(SendEventToAny, NothingListeningAtTheFirstLeavesTheSecondItsTurn) {
  FakeAggregator second(acking());
  Client client;
  Event sent = event("192.0.2.40");
  auto acked = send_event_to_any(client.sockets, {dead_endpoint(), second.endpoint()}, 0, sent, kPatient);
  ASSERT_TRUE(acked) << acked.error();
  EXPECT_EQ(acked->endpoint, 1u);
  EXPECT_EQ(acked->ack.event_id, sent.id);
  EXPECT_EQ(second.requests(), 1u);
}

TEST(SendEventToAny, AFrozenFirstLeavesTheSecondItsTurnAndBothGetTheEvent) {
  FakeAggregator first(frozen());
  FakeAggregator second(acking());
  Client client;
  auto acked =
      send_event_to_any(client.sockets, {first.endpoint(), second.endpoint()}, 0, event("192.0.2.41"), kPatient);
  ASSERT_TRUE(acked) << acked.error();
  EXPECT_EQ(acked->endpoint, 1u);
  // The same event (one id) reached both: the aggregator applies an id once.
  EXPECT_EQ(first.requests(), 1u);
  EXPECT_EQ(second.requests(), 1u);
}

TEST(SendEventToAny, StartsWithTheEndpointItIsTold) {
  FakeAggregator first(acking());
  FakeAggregator second(acking());
  Client client;
  auto acked =
      send_event_to_any(client.sockets, {first.endpoint(), second.endpoint()}, 1, event("192.0.2.42"), kPatient);
  ASSERT_TRUE(acked) << acked.error();
  EXPECT_EQ(acked->endpoint, 1u);
  // The second acked within its share (half of kPatient): the first's turn never came.
  EXPECT_EQ(first.requests(), 0u);
}

TEST(SendEventToAny, AfterTheLastItGoesRoundToTheFirst) {
  FakeAggregator first(acking());
  Client client;
  auto acked = send_event_to_any(client.sockets, {first.endpoint(), dead_endpoint()}, 1, event("192.0.2.43"), kPatient);
  ASSERT_TRUE(acked) << acked.error();
  EXPECT_EQ(acked->endpoint, 0u);
}

TEST(SendEventToAny, TheConnectionThatAckedTakesMoreRequests) {
  FakeAggregator second(acking());
  Client client;
  auto acked =
      send_event_to_any(client.sockets, {dead_endpoint(), second.endpoint()}, 0, event("192.0.2.44"), kPatient);
  ASSERT_TRUE(acked) << acked.error();
  Event next = event("192.0.2.45");
  auto ack = send_event(acked->ingest, next, kPatient);
  ASSERT_TRUE(ack) << ack.error();
  EXPECT_EQ(ack->event_id, next.id);
}

TEST(SendEventToAny, NoAckFromAnyFailsAtTheTimeout) {
  FakeAggregator frozen_one(frozen());
  Client client;
  auto acked =
      send_event_to_any(client.sockets, {dead_endpoint(), frozen_one.endpoint()}, 0, event("192.0.2.46"), kShort);
  ASSERT_FALSE(acked);
  EXPECT_NE(acked.error().find("no ack"), std::string::npos) << acked.error();
  EXPECT_EQ(frozen_one.requests(), 1u);
}

TEST(SendEventToAny, NobodyListeningAnywhereIsNotReachable) {
  Client client;
  auto acked = send_event_to_any(client.sockets, {dead_endpoint(), dead_endpoint()}, 0, event("192.0.2.47"), kShort);
  ASSERT_FALSE(acked);
  EXPECT_NE(acked.error().find("reachable"), std::string::npos) << acked.error();
}

TEST(SendEventToAny, SkipsGarbageAndAcksOfOtherEvents) {
  FakeAggregator only([](const Request& request) -> std::vector<std::string> {
    const auto& e = std::get<Event>(request);
    return {"not a reply",
            FakeAggregator::frame(
                Ack{.event_id = random_event_id(), .outcome = AckOutcome::refused, .reason = "someone else's"}),
            FakeAggregator::frame(Ack{.event_id = e.id, .outcome = AckOutcome::refused, .reason = "allowlisted"})};
  });
  Client client;
  auto acked = send_event_to_any(client.sockets, {only.endpoint(), dead_endpoint()}, 0, event("192.0.2.48"), kPatient);
  ASSERT_TRUE(acked) << acked.error();
  EXPECT_EQ(acked->ack.reason, "allowlisted");
}

// --- ask_in_turn --------------------------------------------------------------------------------

FakeAggregator::Handler status_answering() {
  return [](const Request& request) -> std::vector<std::string> {
    const auto& asked = std::get<StatusRequest>(request);
    return {FakeAggregator::frame(Status{.request_id = asked.request_id, .sequence = 77})};
  };
}

TEST(AskInTurn, AFirstThatDoesNotAnswerLeavesTheSecondItsShare) {
  FakeAggregator first(frozen());
  FakeAggregator second(status_answering());
  Client client;
  auto answered = ask_in_turn(client.sockets, {first.endpoint(), second.endpoint()}, kPatient, fetch_status);
  ASSERT_TRUE(answered) << answered.error();
  EXPECT_EQ(answered->endpoint, second.endpoint());
  EXPECT_EQ(answered->answer.sequence, 77u);
  EXPECT_EQ(first.requests(), 1u);
}

TEST(AskInTurn, TheFirstThatAnswersIsTheOnlyOneAsked) {
  FakeAggregator first(status_answering());
  FakeAggregator second(status_answering());
  Client client;
  auto answered = ask_in_turn(client.sockets, {first.endpoint(), second.endpoint()}, kPatient, fetch_status);
  ASSERT_TRUE(answered) << answered.error();
  EXPECT_EQ(answered->endpoint, first.endpoint());
  EXPECT_EQ(second.requests(), 0u);
}

TEST(AskInTurn, NoAnswerNamesEveryEndpointAndWhy) {
  FakeAggregator frozen_one(frozen());
  const std::string nobody = dead_endpoint();
  Client client;
  auto answered = ask_in_turn(client.sockets, {nobody, frozen_one.endpoint()}, kShort, fetch_status);
  ASSERT_FALSE(answered);
  EXPECT_NE(answered.error().find("not reachable at " + nobody), std::string::npos) << answered.error();
  EXPECT_NE(answered.error().find("no status from the aggregator at " + frozen_one.endpoint()), std::string::npos)
      << answered.error();
}

}  // namespace
