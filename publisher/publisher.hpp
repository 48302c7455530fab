#pragma once
// fleetban-publish: one ban or unban event from the Fail2Ban action to the aggregator. It waits for
// the ack at most timeout_ms; without one the event goes to the spool, so Fail2Ban is never held up.

#include <chrono>
#include <string>

#include "common/event.hpp"
#include "common/host_config.hpp"

namespace fleetban::publisher {

struct PublishRequest {
  common::EventKind kind = common::EventKind::ban;
  common::IpPrefix prefix;
  std::string jail;
  std::chrono::seconds bantime = common::kBantimeNotGiven;
  std::uint32_t failures = 0;
  std::uint32_t bancount = 0;
  common::TimePoint time;  // when the ban started
  bool restored = false;   // Fail2Ban replaying its database at start: not sent again
};

// Parses the flag values of one publish; throws UsageError naming the flag and value at fault.
PublishRequest parse_publish_request(common::EventKind kind, const std::string& ip, const std::string& jail,
                                     std::int64_t bantime, std::int64_t failures, std::int64_t bancount,
                                     const std::string& time, int restored);

// Sends the event and returns the exit status: 0 acked or spooled, 1 neither was possible.
int publish(const common::HostConfig& config, const PublishRequest& request);

}  // namespace fleetban::publisher
