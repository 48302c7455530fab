#pragma once
// Keeps an HA member's lease (aggregator/lease.hpp) while its loop's thread is busy with one long
// piece of work: loading the state. A million bans take seconds to read from PostgreSQL, longer
// than the lease's term, and the loop renews only between turns; without this, a member with a large
// state loses the lease at the end of every load, and so does the next member that takes it, and
// the group never has an active member. A thread of its own renews meanwhile, on the lease's own
// connection, which the loop's thread leaves alone until finish().

#include <condition_variable>
#include <exception>
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

}  // namespace fleetban::aggregator
