#pragma once
// The `fail2ban` backend: bans into a local Fail2Ban jail (`jail`, default "fleetban") through
// `fail2ban_client`, many addresses per call (`set JAIL banip a b c`). That jail's own bantime is
// permanent and has no fleetban action: the fleet decides how long a ban lasts (the Enforcer lifts
// it at the fleet's expiry), and a fleet ban is never published again.

#include <string>

#include "subscriber/backend.hpp"
#include "subscriber/command.hpp"

namespace fleetban::subscriber {

class Fail2banBackend final : public Backend {
 public:
  Fail2banBackend(CommandTemplate client, std::string jail);

  std::vector<common::Decision> ban(std::span<const common::Decision> decisions) override;
  std::vector<common::IpPrefix> unban(std::span<const common::IpPrefix> prefixes) override;
  // `get JAIL banned`; nullopt when Fail2Ban does not answer (then the Enforcer's record is used).
  std::optional<std::vector<common::IpPrefix>> enforced() override;

  // Parses Fail2Ban's printed Python list: "['198.51.100.7', '2001:db8::5']". Entries that are not
  // addresses are skipped; nullopt when it is not a list at all.
  static std::optional<std::vector<common::IpPrefix>> parse_banned_list(std::string_view text);

 private:
  // Runs `CLIENT set JAIL VERB a b c ...` in batches; returns the addresses of failed batches.
  std::vector<std::string> run_batched(const std::string& verb, const std::vector<std::string>& addresses);

  CommandTemplate client_;
  std::string jail_;
};

}  // namespace fleetban::subscriber
