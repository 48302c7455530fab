#include "aggregator/lease_keeper.hpp"

#include <spdlog/spdlog.h>

#include "aggregator/state_store.hpp"

namespace fleetban::aggregator {

LeaseKeeper::LeaseKeeper(Lease* lease) {
  if (lease != nullptr) thread_ = std::thread([this, lease] { run(*lease); });
}

void LeaseKeeper::run(Lease& lease) {
  // Lease::keep() renews only when a renewal is due (kRenewEvery), so looking often costs nothing.
  constexpr auto kLookEvery = Lease::kRenewEvery / 5;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    try {
      lease.keep();
    } catch (const LeadershipLost& e) {
      spdlog::error("ha_lease_lost_while_loading member={} epoch={} error=\"{}\"", lease.member(), lease.epoch(),
                    e.what());
      lock.lock();
      lost_ = std::current_exception();
      return;
    } catch (const std::exception& e) {  // keep() throws only LeadershipLost; anything else is logged
      spdlog::warn("lease_keeper error=\"{}\"", e.what());
    }
    lock.lock();
    wake_.wait_for(lock, kLookEvery, [this] { return stopping_; });
  }
}

void LeaseKeeper::stop() noexcept {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void LeaseKeeper::finish() {
  stop();
  if (lost_) std::rethrow_exception(std::exchange(lost_, nullptr));
}

LeaseKeeper::~LeaseKeeper() { stop(); }

}  // namespace fleetban::aggregator
