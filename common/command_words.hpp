#pragma once
// How a command in host.toml (`ban_command`, `fail2ban_client`, ...) is split into words: here,
// so that load_host_config checks it by the same rule the subscriber's backends run it by
// (subscriber/command.hpp).

#include <string>
#include <string_view>
#include <vector>

#include "common/expected.hpp"

namespace fleetban::common {

// Splits on whitespace; '...' and "..." quote, backslash escapes. Unbalanced quotes fail.
Expected<std::vector<std::string>> split_command(std::string_view text);

}  // namespace fleetban::common
