#pragma once
// Which of the aggregator's once-a-second heartbeat ticks send one.
//
// A heartbeat tells every subscriber the fleet's sequence (so it notices a decision it missed) and
// that the aggregator is there (three silent seconds and it moves on). While decisions go out they
// say both: a subscriber counts any message as heard, and a decision's sequence shows a gap. And
// each heartbeat costs the broadcast as much as a decision: one encrypted copy per subscriber (at
// 10,000 subscribers on P6's 2 CPUs, heartbeats every second made the slowest decisions about a
// third slower). So a tick is skipped when decisions went out since the last one, at most
// kMaxSkipped in a row: a heartbeat still goes out every kMaxSkipped + 1 ticks under steady
// decisions, for a subscriber that moved on to another member or relay and waits for one to
// confirm the incarnation before it applies what it holds (common/clone_client.hpp).

#include <cstdint>

namespace fleetban::aggregator {

class HeartbeatSchedule {
 public:
  static constexpr int kMaxSkipped = 2;

  // At a tick, with the sequence of the last decision broadcast: whether to send a heartbeat now.
  bool due(std::uint64_t sequence) {
    const bool decisions_went_out = sequence != last_sequence_;
    last_sequence_ = sequence;
    if (decisions_went_out && skipped_ < kMaxSkipped) {
      ++skipped_;
      return false;
    }
    skipped_ = 0;
    return true;
  }

 private:
  std::uint64_t last_sequence_ = UINT64_MAX;  // the first tick always sends
  int skipped_ = kMaxSkipped;
};

}  // namespace fleetban::aggregator
