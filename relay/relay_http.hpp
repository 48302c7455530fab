#pragma once
// The relay's HTTP server (`http`): GET /healthz (200 "ok" while it is in step with its upstream,
// 503 otherwise, so a load balancer or a check stops sending hosts to a relay that cannot ack) and
// GET /metrics. Nothing else: the dashboard and the API are the aggregator's. The same Host check
// as the aggregator's keeps DNS rebinding out.

#include <memory>
#include <string>

#include "relay/relay_metrics.hpp"

namespace fleetban::relay {

class RelayHttp {
 public:
  // Binds `address` (HOST:PORT) and serves on a thread of its own; throws RuntimeError when it
  // cannot bind.
  RelayHttp(const std::string& address, const RelayMetrics& metrics);
  ~RelayHttp();
  RelayHttp(const RelayHttp&) = delete;
  RelayHttp& operator=(const RelayHttp&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetban::relay
