#pragma once
// The `exec` backend: runs `ban_command` once per decision and `unban_command` once per address,
// with tags replaced inside each word and no shell (subscriber/command.hpp). Tags: <ip>, <bantime>
// (seconds left, -1 permanent), <expires> (unix seconds, or "never"), <reporters>, <jails>
// (comma-separated). The commands run in the background (hook_runner.hpp): ban() and unban() only
// queue them, so a flood of decisions or a hanging hook never holds up the follow loop; what fails
// later comes back from take_failures().

#include <mutex>

#include "subscriber/backend.hpp"
#include "subscriber/command.hpp"
#include "subscriber/hook_runner.hpp"

namespace fleetban::subscriber {

class ExecBackend final : public Backend {
 public:
  ExecBackend(CommandTemplate ban_command, CommandTemplate unban_command, HookRunner::Options options = {});

  // Both return only what could not be queued (the queue is full), for the caller to retry.
  std::vector<common::Decision> ban(std::span<const common::Decision> decisions) override;
  std::vector<common::IpPrefix> unban(std::span<const common::IpPrefix> prefixes) override;
  Failures take_failures() override;

  // Blocks until every queued command has run.
  void wait_idle() { runner_.wait_idle(); }

  // The tags of one decision, as the commands see them.
  static Tags tags_for(const common::Decision& decision, common::UnixSeconds now);

 private:
  // Logs a failed command; true when it succeeded.
  static bool succeeded(const std::vector<std::string>& argv, const CommandResult& result);
  void log_queue_full(std::size_t refused);

  CommandTemplate ban_command_;
  CommandTemplate unban_command_;
  std::mutex failures_mutex_;
  Failures failures_;
  // Declared last: destroyed first, so that no hook's completion touches a member already gone.
  HookRunner runner_;
};

}  // namespace fleetban::subscriber
