#include "subscriber/exec_backend.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace fleetban::subscriber {

namespace {
constexpr auto kCommandTimeout = std::chrono::seconds(30);
}

ExecBackend::ExecBackend(common::CommandTemplate ban_command, common::CommandTemplate unban_command)
    : ban_command_(std::move(ban_command)), unban_command_(std::move(unban_command)) {}

common::Tags ExecBackend::tags_for(const common::Decision& d, common::UnixSeconds now) {
  std::string bantime = "-1";
  std::string expires = "never";
  if (d.expires_at) {
    bantime = std::to_string(std::max<std::int64_t>(0, (*d.expires_at - now).count()));
    expires = std::to_string(common::to_unix(*d.expires_at));
  }
  return {{"ip", d.prefix.to_string()},
          {"bantime", bantime},
          {"expires", expires},
          {"reporters", fmt::format("{}", fmt::join(d.reporters, ","))},
          {"jails", fmt::format("{}", fmt::join(d.jails, ","))}};
}

bool ExecBackend::run(const std::vector<std::string>& argv) {
  auto result = common::run_command(argv, kCommandTimeout);
  if (result.exit_code == 0) return true;
  spdlog::error("command_failed command=\"{}\" exit={} timed_out={} error=\"{}\"", fmt::join(argv, " "),
                result.exit_code, result.timed_out, result.error);
  return false;
}

std::vector<common::Decision> ExecBackend::ban(std::span<const common::Decision> decisions) {
  std::vector<common::Decision> failed;
  auto now = common::now_seconds();
  for (const auto& d : decisions) {
    if (!run(ban_command_.expand(tags_for(d, now)))) failed.push_back(d);
  }
  return failed;
}

std::vector<common::IpPrefix> ExecBackend::unban(std::span<const common::IpPrefix> prefixes) {
  std::vector<common::IpPrefix> failed;
  for (const auto& p : prefixes) {
    if (unban_command_.empty()) continue;
    if (!run(unban_command_.expand({{"ip", p.to_string()}}))) failed.push_back(p);
  }
  return failed;
}

}  // namespace fleetban::subscriber
