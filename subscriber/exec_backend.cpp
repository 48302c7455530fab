#include "subscriber/exec_backend.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <utility>

namespace fleetban::subscriber {

ExecBackend::ExecBackend(CommandTemplate ban_command, CommandTemplate unban_command, HookRunner::Options options)
    : ban_command_(std::move(ban_command)), unban_command_(std::move(unban_command)), runner_(options) {}

Tags ExecBackend::tags_for(const common::Decision& d, common::UnixSeconds now) {
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

bool ExecBackend::succeeded(const std::vector<std::string>& argv, const CommandResult& result) {
  if (result.exit_code == 0) return true;
  spdlog::error("command_failed command=\"{}\" exit={} timed_out={} error=\"{}\"", fmt::join(argv, " "),
                result.exit_code, result.timed_out, result.error);
  return false;
}

void ExecBackend::log_queue_full(std::size_t refused) {
  if (refused == 0) return;
  spdlog::warn("hook_queue_full refused={} reason=\"hooks are slower than the decisions arriving\"; retried later",
               refused);
}

std::vector<common::Decision> ExecBackend::ban(std::span<const common::Decision> decisions) {
  std::vector<common::Decision> refused;
  auto now = common::now_seconds();
  for (const auto& d : decisions) {
    auto argv = ban_command_.expand(tags_for(d, now));
    auto on_done = [this, d, argv](const CommandResult& result) {
      if (succeeded(argv, result)) return;
      std::lock_guard lock(failures_mutex_);
      failures_.bans.push_back(d);
    };
    if (!runner_.submit(d.prefix.to_string(), argv, std::move(on_done))) refused.push_back(d);
  }
  log_queue_full(refused.size());
  return refused;
}

std::vector<common::IpPrefix> ExecBackend::unban(std::span<const common::IpPrefix> prefixes) {
  std::vector<common::IpPrefix> refused;
  if (unban_command_.empty()) return refused;
  for (const auto& p : prefixes) {
    auto argv = unban_command_.expand({{"ip", p.to_string()}});
    auto on_done = [this, p, argv](const CommandResult& result) {
      if (succeeded(argv, result)) return;
      std::lock_guard lock(failures_mutex_);
      failures_.unbans.push_back(p);
    };
    if (!runner_.submit(p.to_string(), argv, std::move(on_done))) refused.push_back(p);
  }
  log_queue_full(refused.size());
  return refused;
}

Backend::Failures ExecBackend::take_failures() {
  std::lock_guard lock(failures_mutex_);
  return std::exchange(failures_, {});
}

}  // namespace fleetban::subscriber
