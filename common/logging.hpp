#pragma once
// One spdlog logger per program, on stderr. The level comes from SPDLOG_LEVEL (default: info).
// Events are logged as `what key=value key=value` so the log can be grepped and parsed.

#include <spdlog/spdlog.h>
#include <string>

namespace fleetban::common {

void init_logging(const std::string& program);

}  // namespace fleetban::common
