#pragma once
// A valid ban event as a host sends it, for tests of the client requests: a fresh id each time.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "common/event.hpp"

namespace fleetban::testing {

inline constexpr std::int64_t kSampleEventMs = 1'795'652'765'000;

inline common::Event sample_event(std::string_view ip, std::int64_t created_ms = kSampleEventMs) {
  common::Event e;
  e.id = common::random_event_id();
  e.kind = common::EventKind::ban;
  e.prefix = *common::IpPrefix::parse(ip);
  e.jail = "sshd";
  e.host_id = "web-01";
  e.bantime = std::chrono::seconds(600);
  e.time = common::from_unix_ms(created_ms - 5);
  e.created = common::from_unix_ms(created_ms);
  return e;
}

}  // namespace fleetban::testing
