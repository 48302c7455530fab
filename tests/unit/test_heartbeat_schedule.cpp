// Which heartbeat ticks send (aggregator/heartbeat_schedule.hpp): every one while nothing is
// decided, one in three while decisions go out, the first always.

#include "aggregator/heartbeat_schedule.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using fleetban::aggregator::HeartbeatSchedule;

// The ticks' answers as a string: 'H' a heartbeat, '.' skipped.
std::string ticks(HeartbeatSchedule& schedule, std::initializer_list<std::uint64_t> sequences) {
  std::string out;
  for (auto sequence : sequences) out += schedule.due(sequence) ? 'H' : '.';
  return out;
}

TEST(HeartbeatSchedule, EveryTickSendsWhileNothingIsDecided) {
  HeartbeatSchedule schedule;
  EXPECT_EQ(ticks(schedule, {0, 0, 0, 0, 0}), "HHHHH");
}

TEST(HeartbeatSchedule, TheFirstTickSendsWhateverTheSequence) {
  HeartbeatSchedule fresh;  // a member that just took the lease, at sequence 500,000
  EXPECT_EQ(ticks(fresh, {500'000}), "H");
  HeartbeatSchedule at_max;
  EXPECT_EQ(ticks(at_max, {UINT64_MAX, UINT64_MAX}), "HH");
}

TEST(HeartbeatSchedule, WhileDecisionsGoOutOneTickInThreeSends) {
  HeartbeatSchedule schedule;
  EXPECT_EQ(ticks(schedule, {1, 5, 9, 12, 20, 21, 30, 31, 32}), "H..H..H..");
}

TEST(HeartbeatSchedule, TheTickAfterTheDecisionsStopSends) {
  HeartbeatSchedule schedule;
  // Decided before the 2nd tick only: skipped there, sent at the 3rd (the sequence it names is the
  // last decision's, so a subscriber that missed it learns so within two ticks).
  EXPECT_EQ(ticks(schedule, {7, 8, 8, 8}), "H.HH");
  // A skip, a tick without decisions (sent), then skipping starts over.
  EXPECT_EQ(ticks(schedule, {9, 9, 10, 11, 12}), ".H..H");
}

}  // namespace
