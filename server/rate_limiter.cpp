#include "server/rate_limiter.hpp"

#include <algorithm>

namespace fleetban::server {

bool RateLimiter::allow(const std::string& reporter, Clock::time_point now, double cost) {
  auto [it, inserted] = buckets_.try_emplace(reporter);
  Bucket& bucket = it->second;
  double capacity = static_cast<double>(rate_);
  if (inserted) {
    bucket.tokens = capacity;
  } else {
    double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
    bucket.tokens = std::min(capacity, bucket.tokens + elapsed * capacity);
  }
  bucket.updated = now;
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= cost;
  return true;
}

}  // namespace fleetban::server
