#pragma once
// A read-only copy of the fleet's decisions for readers on other threads (the HTTP server). The
// service loop owns FleetState and never shares it; a reader asks for a fresh copy, and the loop
// makes one at the end of its next batch (within its 200 ms poll), only when asked.

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

  // Reader side: active decisions no older than the loop's next batch; the last copy if the loop
  // does not answer within `wait` (an empty list before the first one).
  Decisions decisions(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));

  // Service loop side: cheap unless a reader is waiting.
  void publish_if_requested(const FleetState& state);

 private:
  std::mutex mutex_;
  std::condition_variable fresh_;
  bool requested_ = false;
  std::uint64_t generation_ = 0;
  Decisions latest_ = std::make_shared<const std::vector<common::Decision>>();
};

}  // namespace fleetban::aggregator
