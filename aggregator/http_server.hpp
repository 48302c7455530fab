#pragma once
// The aggregator's read-only HTTP server (cpp-httplib) on `http`: GET / (the dashboard),
// GET /api/v1/bans (also ?ip= ?reporter= ?jail=), GET /metrics, GET /healthz. No request
// changes fleet state. It runs on its own thread and reads only StateView and Metrics.

#include <memory>
#include <string>

#include "aggregator/metrics.hpp"
#include "aggregator/state_view.hpp"

namespace fleetban::aggregator {

class HttpServer {
 public:
  // Binds `address` ("127.0.0.1:7782", "[::1]:7782") and starts serving. Throws UsageError for an
  // address that does not parse, RuntimeError when it cannot bind.
  HttpServer(const std::string& address, StateView& view, const Metrics& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetban::aggregator
