#include "relay/relay_http.hpp"

#include <httplib.h>

#include "server/http_address.hpp"
#include "server/http_runner.hpp"

namespace fleetban::relay {

namespace {
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kPrometheus = "text/plain; version=0.0.4; charset=utf-8";
}  // namespace

struct RelayHttp::Impl {
  server::HttpRunner runner{2};
};

RelayHttp::RelayHttp(const std::string& address, const RelayMetrics& metrics) : impl_(std::make_unique<Impl>()) {
  httplib::Server& server = impl_->runner.server();
  server.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render_prometheus(), kPrometheus);
  });
  server.Get("/healthz", [&metrics](const httplib::Request&, httplib::Response& res) {
    if (metrics.upstream_connected.load()) return res.set_content("ok\n", kText);
    res.status = 503;
    res.set_content("not in step with any upstream\n", kText);
  });
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!server::host_is_literal_or_localhost(req.get_header_value("Host"))) {
      res.status = 421;
      res.set_content("misdirected request: use an IP address or localhost in the URL\n", kText);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
      res.set_content("method not allowed\n", kText);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty() && res.status == 404) res.set_content("not found\n", kText);
  });
  impl_->runner.start(address);
}

RelayHttp::~RelayHttp() = default;

}  // namespace fleetban::relay
