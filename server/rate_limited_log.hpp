#pragma once
// A warning log that no input can flood: a few lines per 10 s, then one line counting the rest.

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace fleetban::server {

class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kLinesPerWindow = 5;
  static constexpr auto kWindow = std::chrono::seconds(10);

  void warn(const std::string& message) {
    auto now = Clock::now();
    if (now - window_start_ > kWindow) {
      if (suppressed_ > 0) spdlog::warn("rejected_input suppressed={} (in the last 10 s)", suppressed_);
      window_start_ = now;
      logged_ = 0;
      suppressed_ = 0;
    }
    if (logged_ < kLinesPerWindow) {
      ++logged_;
      spdlog::warn("{}", message);
    } else {
      ++suppressed_;
    }
  }

 private:
  Clock::time_point window_start_{};
  int logged_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace fleetban::server
