#include "subscriber/backend.hpp"

#include <stdexcept>

#include "common/event.hpp"
#include "subscriber/exec_backend.hpp"
#include "subscriber/fail2ban_backend.hpp"
#include "subscriber/log_backend.hpp"
#include "subscriber/nftables_backend.hpp"

namespace fleetban::subscriber {

namespace {

// load_host_config checked every command already; a failure here is a caller's config built by hand.
CommandTemplate command_from(const std::string& key, const std::string& text, bool required) {
  auto command = CommandTemplate::parse(text);
  if (!command || (required && command->empty())) {
    throw std::logic_error("enforce." + key + " was not checked by load_host_config: '" + text + "'");
  }
  return *command;
}

}  // namespace

std::unique_ptr<Backend> make_backend(const common::EnforceConfig& config) {
  switch (config.backend) {
    case common::BackendKind::log: return std::make_unique<LogBackend>();
    case common::BackendKind::exec: {
      return std::make_unique<ExecBackend>(command_from("ban_command", config.ban_command, true),
                                           command_from("unban_command", config.unban_command, false));
    }
    case common::BackendKind::fail2ban: {
      if (!common::is_valid_name(config.jail)) {
        throw std::logic_error("enforce.jail was not checked by load_host_config: '" + config.jail + "'");
      }
      return std::make_unique<Fail2banBackend>(command_from("fail2ban_client", config.fail2ban_client, true),
                                               config.jail);
    }
    case common::BackendKind::nftables: {
      auto backend = NftablesBackend::from_config(config);
      // Fails at start, with nft's own message (not root, no nft), rather than at the first ban.
      backend->setup();
      return backend;
    }
  }
  throw std::logic_error("enforce.backend: unknown backend");
}

}  // namespace fleetban::subscriber
