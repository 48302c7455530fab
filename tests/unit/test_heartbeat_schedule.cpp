// Which heartbeat ticks send (aggregator/heartbeat_schedule.hpp): every one while nothing is
// decided, one in three while decisions go out, the first five always.

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
  EXPECT_EQ(ticks(schedule, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), "HHHHHHHHHH");
}

// A member that just took over: relays and subscribers are arriving to confirm its incarnation.
TEST(HeartbeatSchedule, TheFirstFiveTicksSendWhateverIsDecided) {
  HeartbeatSchedule fresh;  // at sequence 500,000, its decisions going out
  EXPECT_EQ(ticks(fresh, {500'000, 500'010, 500'020, 500'030, 500'040, 500'050, 500'060, 500'070}), "HHHHH..H");
  HeartbeatSchedule at_max;
  EXPECT_EQ(ticks(at_max, {UINT64_MAX, UINT64_MAX}), "HH");
}

// The first five ticks: every one sends, whatever is decided.
HeartbeatSchedule warmed_up() {
  HeartbeatSchedule schedule;
  EXPECT_EQ(ticks(schedule, {0, 0, 0, 0, 0}), "HHHHH");
  return schedule;
}

TEST(HeartbeatSchedule, WhileDecisionsGoOutOneTickInThreeSends) {
  HeartbeatSchedule schedule = warmed_up();
  EXPECT_EQ(ticks(schedule, {1, 5, 9, 12, 20, 21, 30, 31, 32}), "..H..H..H");
}

TEST(HeartbeatSchedule, TheTickAfterTheDecisionsStopSends) {
  HeartbeatSchedule schedule = warmed_up();
  // Decided before the 1st tick only: skipped there, sent at the 2nd (the sequence it names is the
  // last decision's, so a subscriber that missed it learns so within two ticks).
  EXPECT_EQ(ticks(schedule, {8, 8, 8}), ".HH");
  // A skip, a tick without decisions (sent), then skipping starts over.
  EXPECT_EQ(ticks(schedule, {9, 9, 10, 11, 12}), ".H..H");
}

}  // namespace
