#include "server/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace {

using fleetban::server::RateLimiter;
using namespace std::chrono_literals;

const RateLimiter::Clock::time_point t0{std::chrono::hours(1000)};

int allowed(RateLimiter& limiter, const std::string& reporter, RateLimiter::Clock::time_point at, int tries) {
  int n = 0;
  for (int i = 0; i < tries; ++i) n += limiter.allow(reporter, at) ? 1 : 0;
  return n;
}

TEST(RateLimiter, NewReporterHasABurstOfOneSecondsWorth) {
  RateLimiter limiter(10);
  EXPECT_EQ(allowed(limiter, "web-01", t0, 25), 10);
}

TEST(RateLimiter, TokensComeBackAtTheRate) {
  RateLimiter limiter(10);
  allowed(limiter, "web-01", t0, 10);
  EXPECT_FALSE(limiter.allow("web-01", t0 + 50ms));
  EXPECT_TRUE(limiter.allow("web-01", t0 + 150ms));  // 1.5 tokens earned since t0 + 50 ms
  EXPECT_FALSE(limiter.allow("web-01", t0 + 150ms));
  EXPECT_EQ(allowed(limiter, "web-01", t0 + 550ms, 10), 4);  // 0.5 + 4.0 tokens
}

TEST(RateLimiter, IdleTimeNeverBuildsMoreThanTheBurst) {
  RateLimiter limiter(10);
  allowed(limiter, "web-01", t0, 10);
  EXPECT_EQ(allowed(limiter, "web-01", t0 + 1h, 25), 10);
}

TEST(RateLimiter, ReportersAreLimitedSeparately) {
  RateLimiter limiter(3);
  EXPECT_EQ(allowed(limiter, "web-01", t0, 5), 3);
  EXPECT_EQ(allowed(limiter, "web-02", t0, 5), 3);
  EXPECT_FALSE(limiter.allow("web-01", t0));
}

TEST(RateLimiter, SteadyRateAtTheLimitIsAlwaysAllowed) {
  RateLimiter limiter(100);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(limiter.allow("web-01", t0 + i * 10ms)) << i;
  }
}

TEST(RateLimiter, LoweredRateAppliesToExistingReporters) {
  RateLimiter limiter(100);
  EXPECT_TRUE(limiter.allow("web-01", t0));
  limiter.set_rate(2);
  EXPECT_EQ(allowed(limiter, "web-01", t0 + 1ms, 10), 2);
}

// A request dearer than a second's worth (a snapshot of a large state) goes from a full bucket and
// leaves it in debt: the next waits until the rate has repaid it.
TEST(RateLimiter, ACostlyRequestGoesFromAFullBucketAndTheNextWaitsOutItsDebt) {
  RateLimiter limiter(100);
  EXPECT_TRUE(limiter.allow("web-01", t0, 1000));     // 100 - 1000: 900 in debt
  EXPECT_FALSE(limiter.allow("web-01", t0 + 5s, 1));  // -400
  EXPECT_FALSE(limiter.allow("web-01", t0 + 9s, 1));  // 0: not yet a whole token
  EXPECT_TRUE(limiter.allow("web-01", t0 + 9020ms, 1000));
  EXPECT_TRUE(limiter.allow("web-02", t0, 1000));  // another reporter's bucket is its own
}

}  // namespace
