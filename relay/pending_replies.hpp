#pragma once
// What the relay waits for from upstream and who asked: an event's ack goes back to each connection
// that sent that event id, and a hosts or history reply (sent upstream under a request id of the
// relay's own, so two hosts' ids cannot collide) to the connection that asked, under its own id.
// Bounded in count and in age: a reply that never comes (the upstream died, or moved on) costs an
// entry for kMaxAge at most, and a flood of requests pushes out the oldest, never grows the relay.
// Socket-free, so unit tests drive it directly.

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace fleetban::relay {

class PendingReplies {
 public:
  using Clock = std::chrono::steady_clock;
  // A publish waits timeout_ms (500 ms by default) and a spool drain as long per event: an ack
  // later than this has nobody waiting for it.
  static constexpr auto kMaxAge = std::chrono::seconds(60);
  static constexpr std::size_t kMaxEntries = 200'000;
  // Connections waiting for one event id (a publish and its own spool drain, say); more are dropped.
  static constexpr std::size_t kMaxWaitersPerKey = 4;

  struct Waiter {
    std::string route;        // the ROUTER's routing id of the connection
    std::string original_id;  // a query's own request id, restored in the reply ("" for an event)
  };

  // Remembers that `waiter` waits for the reply keyed `key` (an event id, or the relay's request id).
  void expect(const std::string& key, Waiter waiter, Clock::time_point now = Clock::now());
  // Everyone waiting for `key`, forgotten as they are handed out (empty when nobody is).
  std::vector<Waiter> take(const std::string& key);
  // Forgets what is older than kMaxAge.
  void expire(Clock::time_point now = Clock::now());
  std::size_t size() const { return waiting_.size(); }

 private:
  void drop_oldest();

  struct Entry {
    std::vector<Waiter> waiters;
    Clock::time_point since;
  };
  std::unordered_map<std::string, Entry> waiting_;
  std::deque<std::pair<std::string, Clock::time_point>> order_;  // keys as expected, oldest first
};

}  // namespace fleetban::relay
