// Placeholder until the HTTP server lands: see http_server.hpp. Constructing it fails loudly.
#include "aggregator/http_server.hpp"

#include "common/errors.hpp"

namespace fleetban::aggregator {

struct HttpServer::Impl {};

HttpServer::HttpServer(const std::string& address, StateView&, const Metrics&) {
  throw common::UsageError("http = \"" + address + "\": the HTTP server is not built yet; set http = \"\"");
}

HttpServer::~HttpServer() = default;

}  // namespace fleetban::aggregator
