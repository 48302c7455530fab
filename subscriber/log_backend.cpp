#include "subscriber/log_backend.hpp"

#include <spdlog/spdlog.h>

namespace fleetban::subscriber {

std::vector<common::Decision> LogBackend::ban(std::span<const common::Decision> decisions) {
  for (const auto& d : decisions) {
    const fmt::format_int expires(d.expires_at ? common::to_unix(*d.expires_at) : 0);
    spdlog::info("enforce_ban ip={} expires_at={} reporters={} jails={}", d.prefix.to_string(),
                 d.expires_at ? std::string_view(expires.data(), expires.size()) : std::string_view("never"),
                 fmt::join(d.reporters, ","), fmt::join(d.jails, ","));
  }
  return {};
}

std::vector<common::IpPrefix> LogBackend::unban(std::span<const common::IpPrefix> prefixes) {
  for (const auto& p : prefixes) spdlog::info("enforce_unban ip={}", p.to_string());
  return {};
}

}  // namespace fleetban::subscriber
