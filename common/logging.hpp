#pragma once
// One spdlog logger per program, on stderr. The level comes from SPDLOG_LEVEL (default: info).
// Events are logged as `what key=value key=value` so the log can be grepped and parsed.

#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <string>

namespace fleetban::common {

// Each line is written to stderr at once (one write(2)), so a killed process loses none.
void init_logging(const std::string& program);

// How init_logging lays out a line: "2026-12-03T09:38:33.415 <program> <level>: <text>", local
// time (spdlog's pattern "%Y-%m-%dT%H:%M:%S.%e %n %l: %v", without its per-field machinery).
std::unique_ptr<spdlog::formatter> line_formatter();

// For a loop that logs a line per event (the aggregator): from now on, lines below `warn` gather in
// memory and are written by flush_log(), which the loop calls once per turn, or once 64 KiB have
// gathered. Warnings and errors are still written at once.
void batch_log_lines();
void flush_log();

// Per-decision tracing: at debug level the aggregator and the subscriber log one `trace seq=N ...`
// line per decision with the times of its stages. Checked once per batch, so it costs nothing when off.
inline bool tracing() { return spdlog::default_logger_raw()->should_log(spdlog::level::debug); }
// CLOCK_REALTIME in microseconds: the trace lines of different processes can be joined on it.
std::int64_t trace_clock_us();

}  // namespace fleetban::common
