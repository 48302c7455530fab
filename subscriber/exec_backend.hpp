#pragma once
// The `exec` backend: runs `ban_command` once per decision and `unban_command` once per address,
// with tags replaced inside each word and no shell (common/command.hpp). Tags: <ip>, <bantime>
// (seconds left, -1 permanent), <expires> (unix seconds, or "never"), <reporters>, <jails>
// (comma-separated).

#include "common/command.hpp"
#include "subscriber/backend.hpp"

namespace fleetban::subscriber {

class ExecBackend final : public Backend {
 public:
  ExecBackend(common::CommandTemplate ban_command, common::CommandTemplate unban_command);

  std::vector<common::Decision> ban(std::span<const common::Decision> decisions) override;
  std::vector<common::IpPrefix> unban(std::span<const common::IpPrefix> prefixes) override;

  // The tags of one decision, as the commands see them.
  static common::Tags tags_for(const common::Decision& decision, common::UnixSeconds now);

 private:
  bool run(const std::vector<std::string>& argv);
  common::CommandTemplate ban_command_;
  common::CommandTemplate unban_command_;
};

}  // namespace fleetban::subscriber
