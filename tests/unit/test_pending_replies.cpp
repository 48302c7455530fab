// Who waits for which upstream reply at a relay: bounded in count and in age.
#include "relay/pending_replies.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using fleetban::relay::PendingReplies;
using namespace std::chrono_literals;

TEST(PendingReplies, AReplyGoesToEveryConnectionThatWaitsForItOnce) {
  PendingReplies pending;
  pending.expect("event-1", {"host-a", ""});
  pending.expect("event-1", {"host-b", ""});
  pending.expect("event-1", {"host-a", ""});  // the same connection again: one ack is enough
  pending.expect("query-1", {"host-c", "its-own-id"});
  auto waiters = pending.take("event-1");
  ASSERT_EQ(waiters.size(), 2u);
  EXPECT_EQ(waiters[0].route, "host-a");
  EXPECT_EQ(waiters[1].route, "host-b");
  EXPECT_TRUE(pending.take("event-1").empty());  // handed out once
  auto query = pending.take("query-1");
  ASSERT_EQ(query.size(), 1u);
  EXPECT_EQ(query[0].original_id, "its-own-id");
  EXPECT_TRUE(pending.take("never-asked").empty());
  EXPECT_EQ(pending.size(), 0u);
}

TEST(PendingReplies, WaitersPerKeyAreBounded) {
  PendingReplies pending;
  for (int i = 0; i < 100; ++i) pending.expect("event", {"host-" + std::to_string(i), ""});
  EXPECT_EQ(pending.take("event").size(), PendingReplies::kMaxWaitersPerKey);
}

TEST(PendingReplies, WhatNobodyAnswersIsForgottenAfterMaxAge) {
  PendingReplies pending;
  const auto start = PendingReplies::Clock::now();
  pending.expect("old", {"host-a", ""}, start);
  pending.expect("new", {"host-b", ""}, start + PendingReplies::kMaxAge);
  pending.expire(start + PendingReplies::kMaxAge + 1s);
  EXPECT_TRUE(pending.take("old").empty());
  EXPECT_EQ(pending.take("new").size(), 1u);
}

TEST(PendingReplies, AFloodPushesOutTheOldestNeverGrowsPastTheBound) {
  PendingReplies pending;
  const auto now = PendingReplies::Clock::now();
  for (std::size_t i = 0; i < PendingReplies::kMaxEntries + 10; ++i) pending.expect(std::to_string(i), {"h", ""}, now);
  EXPECT_EQ(pending.size(), PendingReplies::kMaxEntries);
  EXPECT_TRUE(pending.take("0").empty());  // among the oldest, pushed out
  EXPECT_EQ(pending.take(std::to_string(PendingReplies::kMaxEntries + 9)).size(), 1u);
}

TEST(PendingReplies, AKeyTakenAndExpectedAgainIsNotForgottenByItsOldPlace) {
  PendingReplies pending;
  const auto start = PendingReplies::Clock::now();
  pending.expect("id", {"host-a", ""}, start);
  ASSERT_EQ(pending.take("id").size(), 1u);
  pending.expect("id", {"host-b", ""}, start + 50s);
  pending.expire(start + PendingReplies::kMaxAge + 1s);  // the first place is old, the second not
  auto waiters = pending.take("id");
  ASSERT_EQ(waiters.size(), 1u);
  EXPECT_EQ(waiters[0].route, "host-b");
}

}  // namespace
