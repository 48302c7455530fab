#pragma once
// A read-only copy of the fleet's decisions for readers on other threads (the HTTP server). The
// service loop owns FleetState and never shares it; a reader asks for a fresh copy, and the loop
// makes one at the end of its next batch (within its 200 ms poll), only when asked. A copy of a
// large fleet is large (a million bans: ~250 MB), so the view lets go of it once it is no longer
// fresh; readers hold their own reference while they use it.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "common/decision.hpp"

namespace fleetban::aggregator {

class FleetState;

class StateView {
 public:
  using Decisions = std::shared_ptr<const std::vector<common::Decision>>;
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kKeepFor{10};

  // Reader side: active decisions no older than the loop's next batch; the last copy if the loop
  // does not answer within `wait` (an empty list if there is none from the last kKeepFor).
  Decisions decisions(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));

  // Service loop side: cheap unless a reader is waiting (or a copy has just grown old).
  void publish_if_requested(const FleetState& state, Clock::time_point now = Clock::now());

  bool holds_copy();  // whether the view still keeps the last copy

 private:
  std::mutex mutex_;
  std::condition_variable fresh_;
  bool requested_ = false;
  std::uint64_t generation_ = 0;
  Decisions latest_ = empty();
  Clock::time_point published_at_{};

  static Decisions empty() { return std::make_shared<const std::vector<common::Decision>>(); }
};

}  // namespace fleetban::aggregator
