#include "subscriber/backend.hpp"

#include "common/errors.hpp"
#include "subscriber/exec_backend.hpp"
#include "subscriber/log_backend.hpp"

namespace fleetban::subscriber {

namespace {

common::CommandTemplate command_from(const std::string& key, const std::string& text) {
  auto command = common::CommandTemplate::parse(text);
  if (!command) throw common::UsageError("enforce." + key + ": " + command.error());
  return *command;
}

}  // namespace

std::unique_ptr<Backend> make_backend(const common::EnforceConfig& config) {
  switch (config.backend) {
    case common::BackendKind::log: return std::make_unique<LogBackend>();
    case common::BackendKind::exec: {
      auto ban = command_from("ban_command", config.ban_command);
      if (ban.empty()) throw common::UsageError("enforce.ban_command: the exec backend needs a command");
      return std::make_unique<ExecBackend>(std::move(ban), command_from("unban_command", config.unban_command));
    }
    case common::BackendKind::fail2ban:
    case common::BackendKind::nftables:
      throw common::UsageError("enforce.backend: this build does not have the fail2ban and nftables backends yet");
  }
  throw common::UsageError("enforce.backend: unknown backend");
}

}  // namespace fleetban::subscriber
