#pragma once
// Per-reporter token buckets: each reporter may send `rate` events per second, with a burst of one
// second's worth. Keeps one host from flooding the fleet; a throttled event is not lost (the
// client keeps it in its spool and retries).

#include <chrono>
#include <string>
#include <unordered_map>

namespace fleetban::server {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(unsigned rate_per_second) : rate_(rate_per_second) {}

  // True if `reporter` may send one more event at `now`.
  bool allow(const std::string& reporter, Clock::time_point now) { return allow(reporter, now, 1.0); }
  // Whether a request costing `cost` tokens may go at `now`: it may while the bucket holds a token,
  // and then takes its whole cost, which may leave the bucket in debt. So a request dearer than a
  // second's worth (a snapshot of a large state) still goes from a full bucket, and the next waits
  // until the debt is repaid at the rate.
  bool allow(const std::string& reporter, Clock::time_point now, double cost);

  void set_rate(unsigned rate_per_second) { rate_ = rate_per_second; }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated{};
  };
  unsigned rate_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace fleetban::server
