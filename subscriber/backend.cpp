#include "subscriber/backend.hpp"

#include "common/errors.hpp"
#include "common/event.hpp"
#include "subscriber/exec_backend.hpp"
#include "subscriber/fail2ban_backend.hpp"
#include "subscriber/log_backend.hpp"
#include "subscriber/nftables_backend.hpp"

namespace fleetban::subscriber {

namespace {

CommandTemplate command_from(const std::string& key, const std::string& text) {
  auto command = CommandTemplate::parse(text);
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
    case common::BackendKind::fail2ban: {
      auto client = command_from("fail2ban_client", config.fail2ban_client);
      if (client.empty()) throw common::UsageError("enforce.fail2ban_client: the fail2ban backend needs a command");
      if (!common::is_valid_name(config.jail)) {
        throw common::UsageError("enforce.jail: '" + config.jail + "' is not a jail name");
      }
      return std::make_unique<Fail2banBackend>(std::move(client), config.jail);
    }
    case common::BackendKind::nftables: {
      auto backend = NftablesBackend::from_config(config);
      // Fails at start, with nft's own message (not root, no nft), rather than at the first ban.
      backend->setup();
      return backend;
    }
  }
  throw common::UsageError("enforce.backend: unknown backend");
}

}  // namespace fleetban::subscriber
