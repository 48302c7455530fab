#pragma once
// The aggregator's read-only HTTP server (cpp-httplib) on `http`: GET / (the dashboard),
// GET /api/v1/bans (also ?ip= ?reporter= ?jail=), GET /api/v1/bans/IP (history), GET /api/v1/hosts, GET /metrics,
// GET /healthz (a waiting member of an HA group answers 503 to all but /healthz and /metrics). No request
// changes fleet state. It runs on its own thread and reads only StateView and Metrics. Without an
// auth file it answers only requests whose Host is an IP literal or localhost (421 otherwise);
// with one, every request but /healthz needs HTTP Basic auth (http_access.hpp).

#include <filesystem>
#include <memory>
#include <string>

#include "aggregator/fleet_summary.hpp"
#include "aggregator/geoip.hpp"
#include "aggregator/history_reader.hpp"
#include "aggregator/metrics.hpp"
#include "aggregator/state_view.hpp"

namespace fleetban::aggregator {

class HttpServer {
 public:
  // Binds `address` ("127.0.0.1:7782", "[::1]:7782") and starts serving. Throws UsageError for an
  // address that does not parse or an auth file that is bad (HttpCredentials::load), RuntimeError
  // when it cannot bind. An empty `auth_file` serves without passwords. With `geoip` on, the bans
  // and the dashboard carry each address's country and network. `summary` (the loop's) gives the
  // dashboard its chart and top lists; without it the dashboard shows the table only. With
  // `history`, GET /api/v1/bans/IP answers from it (history_route.hpp); without, 404.
  HttpServer(const std::string& address, StateView& view, const Metrics& metrics,
             const std::filesystem::path& auth_file = {}, std::shared_ptr<const GeoIp> geoip = nullptr,
             SummaryKeeper* summary = nullptr, std::shared_ptr<HistoryReader> history = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetban::aggregator
