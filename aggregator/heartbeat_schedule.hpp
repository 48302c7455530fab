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
// confirm the incarnation before it applies what it holds (common/clone_client.hpp). The first
// kAlwaysFirst ticks always send: a member that just took over is when relays and subscribers
// arrive to confirm, and each second they wait is a second their hosts enforce nothing new.

#include <cstdint>

namespace fleetban::aggregator {

class HeartbeatSchedule {
 public:
  static constexpr int kMaxSkipped = 2;
  static constexpr int kAlwaysFirst = 5;

  // At a tick, with the sequence of the last decision broadcast: whether to send a heartbeat now.
  bool due(std::uint64_t sequence) {
    const bool decisions_went_out = sequence != last_sequence_;
    last_sequence_ = sequence;
    const bool first_ticks = ticks_ < kAlwaysFirst;
    if (first_ticks) ++ticks_;
    if (decisions_went_out && skipped_ < kMaxSkipped && !first_ticks) {
      ++skipped_;
      return false;
    }
    skipped_ = 0;
    return true;
  }

 private:
  std::uint64_t last_sequence_ = 0;
  int skipped_ = 0;
  int ticks_ = 0;  // up to kAlwaysFirst
};

}  // namespace fleetban::aggregator
