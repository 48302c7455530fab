#pragma once
// Keeps an HA member's lease (aggregator/lease.hpp) while its loop's thread is busy with one long
// piece of work, since the loop renews only between turns:
// - loading the state (LeaseKeeper): a million bans take seconds to read from PostgreSQL, longer
//   than the lease's term. Without it, a member with a large state loses the lease at the end of
//   every load, and so does the next member that takes it: the group never has an active member.
//   A thread of its own renews meanwhile, on the lease's own connection, which the loop's thread
//   leaves alone until finish();
// - walking it for a snapshot (renewing_on_the_way): the walking thread renews as it goes.

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "aggregator/lease.hpp"

namespace fleetban::aggregator {

class LeaseKeeper {
 public:
  // Starts renewing `lease` (nullptr: a store without a lease, nothing to do).
  explicit LeaseKeeper(Lease* lease);
  // Stops renewing; rethrows the LeadershipLost the thread met (the epoch moved on, or no renewal
  // for a whole term), so the member stops before it acks or broadcasts anything. The loop's
  // thread renews again from here on.
  void finish();
  // Stops without rethrowing (unwinding from another error).
  ~LeaseKeeper();

  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

 private:
  void run(Lease& lease);
  void stop() noexcept;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::exception_ptr lost_;  // written by the thread, read after join
  std::thread thread_;
};

// For a long walk on the loop's own thread (a snapshot of the whole state: a million bans take
// seconds on a busy machine, longer than the lease's term, and a leader that stepped down for it
// would be asked again by the next member's relays): `take` wrapped so that every `every` items the
// walking thread renews `lease` itself (Lease::keep(): a round trip only when a renewal is due; it
// throws LeadershipLost, which ends the walk). With no lease, `take` itself.
template <typename Item>
std::function<bool(Item&&)> renewing_on_the_way(Lease* lease, std::function<bool(Item&&)> take,
                                                std::size_t every = 10'000) {
  if (lease == nullptr) return take;
  return [lease, take = std::move(take), every, n = std::size_t{0}](Item&& item) mutable {
    if (++n % every == 0) lease->keep();
    return take(std::move(item));
  };
}

}  // namespace fleetban::aggregator
