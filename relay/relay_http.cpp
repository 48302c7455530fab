#include "relay/relay_http.hpp"

#include <httplib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/errors.hpp"
#include "server/http_address.hpp"

namespace fleetban::relay {

namespace {
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kPrometheus = "text/plain; version=0.0.4; charset=utf-8";
}  // namespace

struct RelayHttp::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};

  ~Impl() {
    if (!thread.joinable()) return;
    server.stop();
    thread.join();
  }
};

RelayHttp::RelayHttp(const std::string& address, const RelayMetrics& metrics) : impl_(std::make_unique<Impl>()) {
  auto listen = server::parse_listen_address(address);
  if (!listen) throw common::UsageError("http = \"" + address + "\": expected HOST:PORT or [IPV6]:PORT");
  httplib::Server& server = impl_->server;
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
  // httplib's default sets SO_REUSEPORT, which would let a second relay share the port.
  server.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  server.set_keep_alive_timeout(2);
  server.set_payload_max_length(64 * 1024);
  errno = 0;
  if (!server.bind_to_port(listen->host, listen->port)) {
    int error = errno;
    throw common::RuntimeError("http = \"" + address + "\": cannot listen there" +
                               (error != 0 ? std::string(": ") + std::strerror(error) : std::string()));
  }
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->finished = true;
  });
  // cpp-httplib 0.11's stop() does nothing until listen has begun (as in the aggregator's server).
  while (!server.is_running() && !impl_->finished) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

RelayHttp::~RelayHttp() = default;

}  // namespace fleetban::relay
