#pragma once
// GET /api/v1/bans/IP: the history document (common/history_json.hpp) of one address or prefix,
// read by the HTTP thread on its own read-only connection (HistoryReader). http_server.cpp routes
// it here.

#include <string>
#include <string_view>

#include "aggregator/history_reader.hpp"

namespace fleetban::aggregator {

struct JsonAnswer {
  int status = 200;
  std::string body;  // application/json
};

// 200 and the document; 400 naming `ip` when it is not an address or prefix (an IPv4-mapped IPv6
// address is the IPv4 address); 503 when the database cannot be read.
JsonAnswer history_answer(HistoryReader& reader, std::string_view ip);

}  // namespace fleetban::aggregator
