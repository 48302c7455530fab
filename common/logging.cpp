#include "common/logging.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace fleetban::common {

void init_logging(const std::string& program) {
  auto logger = spdlog::stderr_logger_mt(program);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::info);
  spdlog::cfg::load_env_levels();
  // stderr stays unbuffered (one write per line), so nothing is lost when a process is killed:
  // the lines before a crash are the ones an operator needs.
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace fleetban::common
