#include "aggregator/state_view.hpp"

#include "aggregator/fleet_state.hpp"

namespace fleetban::aggregator {

StateView::Decisions StateView::decisions(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  requested_ = true;
  std::uint64_t seen = generation_;
  fresh_.wait_for(lock, wait, [&] { return generation_ != seen; });
  return latest_;
}

void StateView::publish_if_requested(const FleetState& state) {
  {
    std::lock_guard lock(mutex_);
    if (!requested_) return;
    requested_ = false;
  }
  auto copy = std::make_shared<const std::vector<common::Decision>>(state.active_decisions());
  {
    std::lock_guard lock(mutex_);
    latest_ = std::move(copy);
    ++generation_;
  }
  fresh_.notify_all();
}

}  // namespace fleetban::aggregator
