#pragma once
// One spdlog logger per program, on stderr. The level comes from SPDLOG_LEVEL (default: info).
// Events are logged as `what key=value key=value` so the log can be grepped and parsed.

#include <spdlog/spdlog.h>
#include <string>

namespace fleetban::common {

// Each line is written to stderr at once (one write(2)), so a killed process loses none.
void init_logging(const std::string& program);

// For a loop that logs a line per event (the aggregator): from now on, lines below `warn` gather in
// memory and are written by flush_log(), which the loop calls once per turn, or once 64 KiB have
// gathered. Warnings and errors are still written at once.
void batch_log_lines();
void flush_log();

}  // namespace fleetban::common
