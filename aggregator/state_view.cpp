#include "aggregator/state_view.hpp"

#include <malloc.h>

#include <utility>

#include "aggregator/fleet_state.hpp"

namespace fleetban::aggregator {

StateView::Decisions StateView::decisions(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  requested_ = true;
  std::uint64_t seen = generation_;
  fresh_.wait_for(lock, wait, [&] { return generation_ != seen; });
  return latest_;
}

void StateView::publish_if_requested(const FleetState& state, Clock::time_point now) {
  bool requested = false;
  Decisions stale;
  {
    std::lock_guard lock(mutex_);
    requested = std::exchange(requested_, false);
    if (!requested && !latest_->empty() && now - published_at_ > kKeepFor) stale = std::exchange(latest_, empty());
  }
  if (stale) {
    // Its many small allocations would otherwise stay with the process as free heap pages.
    stale.reset();
    ::malloc_trim(0);
  }
  if (!requested) return;
  auto copy = std::make_shared<const std::vector<common::Decision>>(state.active_decisions());
  Decisions previous;  // released outside the lock
  {
    std::lock_guard lock(mutex_);
    previous = std::exchange(latest_, std::move(copy));
    published_at_ = now;
    ++generation_;
  }
  fresh_.notify_all();
}

bool StateView::holds_copy() {
  std::lock_guard lock(mutex_);
  return !latest_->empty();
}

}  // namespace fleetban::aggregator
