#include "aggregator/history_route.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/history_json.hpp"

namespace fleetban::aggregator {

namespace {

JsonAnswer error(int status, const std::string& message) {
  // Replaces invalid UTF-8 from the path rather than throwing.
  return {status, nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace

JsonAnswer history_answer(HistoryReader& reader, std::string_view ip) {
  auto prefix = common::IpPrefix::parse(ip);
  if (!prefix) return error(400, "\"" + std::string(ip.substr(0, 128)) + "\" is not an IPv4 or IPv6 address or prefix");
  auto history = reader.read(*prefix);
  if (!history) {
    spdlog::error("history_unreadable ip={} error=\"{}\"", prefix->to_string(), history.error());
    return error(503, "the history could not be read; try again");
  }
  return {200, common::history_json(*history)};
}

}  // namespace fleetban::aggregator
