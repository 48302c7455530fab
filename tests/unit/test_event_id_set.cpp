// The aggregator's set of applied event ids, against std::set as the reference.

#include "aggregator/event_id_set.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace {

using fleetban::aggregator::EventIdSet;
using fleetban::common::EventId;

EventId id_of(std::uint64_t n) {
  EventId id{};
  for (std::size_t i = 0; i < 8; ++i) id[i] = static_cast<std::uint8_t>(n >> (8 * i));
  return id;
}

TEST(EventIdSet, EmptySetContainsNothing) {
  EventIdSet set;
  EXPECT_FALSE(set.contains(id_of(1)));
  EXPECT_FALSE(set.contains(EventId{}));
  EXPECT_EQ(set.size(), 0u);
}

TEST(EventIdSet, InsertReportsWhetherTheIdWasNew) {
  EventIdSet set;
  EXPECT_TRUE(set.insert(id_of(7)));
  EXPECT_FALSE(set.insert(id_of(7)));
  EXPECT_TRUE(set.contains(id_of(7)));
  EXPECT_FALSE(set.contains(id_of(8)));
  EXPECT_EQ(set.size(), 1u);
}

TEST(EventIdSet, TheAllZeroIdIsAnIdLikeAnyOther) {
  // Empty slots are all-zero, and a client may still send that id.
  EventIdSet set;
  EXPECT_TRUE(set.insert(EventId{}));
  EXPECT_FALSE(set.insert(EventId{}));
  EXPECT_TRUE(set.contains(EventId{}));
  EXPECT_EQ(set.size(), 1u);
  set.clear();
  EXPECT_FALSE(set.contains(EventId{}));
}

TEST(EventIdSet, AgreesWithAReferenceSetThroughManyGrowths) {
  EventIdSet set;
  std::set<EventId> reference;
  std::mt19937_64 random(42);
  for (int i = 0; i < 100'000; ++i) {
    EventId id{};
    // Half random, half sequential in the first bytes only: ids that share their low bits.
    std::uint64_t n = i % 2 == 0 ? random() : static_cast<std::uint64_t>(i) << 40;
    id = id_of(n);
    id[15] = static_cast<std::uint8_t>(i % 3);
    EXPECT_EQ(set.insert(id), reference.insert(id).second);
  }
  EXPECT_EQ(set.size(), reference.size());
  for (const auto& id : reference) ASSERT_TRUE(set.contains(id));
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(set.contains(id_of(random())), false);
}

TEST(EventIdSet, ReserveKeepsWhatIsThere) {
  EventIdSet set;
  for (std::uint64_t n = 1; n <= 500; ++n) set.insert(id_of(n));
  set.reserve(1'000'000);
  for (std::uint64_t n = 1; n <= 500; ++n) EXPECT_TRUE(set.contains(id_of(n))) << n;
  EXPECT_EQ(set.size(), 500u);
}

TEST(EventIdSet, IdsDifferingOnlyInTheirLastBytesAreDistinct) {
  // The hash reads the first 8 bytes more than the rest: equality must still look at all 16.
  EventIdSet set;
  EventId a = id_of(99), b = id_of(99);
  b[15] = 1;
  set.insert(a);
  EXPECT_FALSE(set.contains(b));
  EXPECT_TRUE(set.insert(b));
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace

namespace {

TEST(EventIdSet, EraseRemovesOnlyThatId) {
  EventIdSet set;
  set.insert(id_of(1));
  set.insert(id_of(2));
  set.insert(EventId{});
  EXPECT_TRUE(set.erase(id_of(1)));
  EXPECT_FALSE(set.erase(id_of(1)));
  EXPECT_FALSE(set.erase(id_of(3)));
  EXPECT_TRUE(set.erase(EventId{}));
  EXPECT_FALSE(set.contains(id_of(1)));
  EXPECT_FALSE(set.contains(EventId{}));
  EXPECT_TRUE(set.contains(id_of(2)));
  EXPECT_EQ(set.size(), 1u);
}

TEST(EventIdSet, PruningTheOldestKeepsEveryOtherIdFindable) {
  // The aggregator's pattern: ids come in, the oldest go out. Ids share their low bits, so probe
  // runs are long and every erase shifts ids back.
  EventIdSet set;
  std::set<EventId> reference;
  std::uint64_t oldest = 0;
  for (std::uint64_t n = 0; n < 200'000; ++n) {
    EventId id = id_of(n << 40);
    set.insert(id);
    reference.insert(id);
    if (n >= 5000) {
      EventId old = id_of(oldest++ << 40);
      ASSERT_TRUE(set.erase(old));
      reference.erase(old);
    }
  }
  EXPECT_EQ(set.size(), reference.size());
  for (const auto& id : reference) ASSERT_TRUE(set.contains(id));
  for (std::uint64_t n = 0; n < oldest; ++n) ASSERT_FALSE(set.contains(id_of(n << 40)));
}

}  // namespace
