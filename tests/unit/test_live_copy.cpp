// The relay's live copy: a snapshot replaces it, decisions update it, and its walk is what the
// relay's own snapshots serve.
#include "relay/live_copy.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

using fleetban::common::Decision;
using fleetban::common::IpPrefix;
using fleetban::relay::LiveCopy;

Decision decision(std::uint64_t sequence, std::string_view ip, bool active = true) {
  Decision d;
  d.sequence = sequence;
  d.prefix = *IpPrefix::parse(ip);
  d.active = active;
  return d;
}

std::set<std::string> walked(const LiveCopy& copy) {
  std::set<std::string> out;
  copy.for_each_active([&](Decision&& d) {
    out.insert(d.prefix.to_string());
    return true;
  });
  return out;
}

TEST(LiveCopy, IsNotReadyUntilItsFirstSnapshot) {
  LiveCopy copy;
  EXPECT_FALSE(copy.ready());
  copy.replace(0, "inc", {});
  EXPECT_TRUE(copy.ready());
  EXPECT_EQ(copy.incarnation(), "inc");
}

TEST(LiveCopy, ASnapshotReplacesEverythingAndDecisionsFollowIt) {
  LiveCopy copy;
  copy.replace(5, "inc", {decision(2, "192.0.2.1"), decision(5, "2001:db8::1")});
  copy.apply(decision(6, "192.0.2.2"));
  copy.apply(decision(7, "192.0.2.1", false));  // its end
  copy.apply(decision(8, "2001:db8::1"));       // a longer ban of what is banned: still one entry
  EXPECT_EQ(copy.sequence(), 8u);
  EXPECT_EQ(copy.active(), 2u);
  EXPECT_EQ(walked(copy), (std::set<std::string>{"192.0.2.2", "2001:db8::1"}));
  // Another incarnation's snapshot: nothing of the old copy stays, and an inactive entry in it
  // (which a snapshot never holds) is not kept either.
  copy.replace(3, "inc-2", {decision(1, "198.51.100.1"), decision(3, "198.51.100.2", false)});
  EXPECT_EQ(copy.sequence(), 3u);
  EXPECT_EQ(copy.incarnation(), "inc-2");
  EXPECT_EQ(walked(copy), (std::set<std::string>{"198.51.100.1"}));
}

TEST(LiveCopy, TheWalkStopsWhenAskedTo) {
  LiveCopy copy;
  copy.replace(3, "inc", {decision(1, "192.0.2.1"), decision(2, "192.0.2.2"), decision(3, "192.0.2.3")});
  int taken = 0;
  copy.for_each_active([&](Decision&&) { return ++taken < 2; });
  EXPECT_EQ(taken, 2);
}

}  // namespace
