#include "server/http_runner.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/errors.hpp"
#include "server/http_address.hpp"

namespace fleetban::server {

HttpRunner::HttpRunner(std::size_t workers) {
  server_.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server_.set_keep_alive_timeout(2);
  // httplib writes a response's head and body separately: with Nagle's algorithm the body waits for
  // the client's delayed ACK, 40 ms on every request of a keep-alive connection (bench P6).
  server_.set_tcp_nodelay(true);
  server_.set_payload_max_length(64 * 1024);
}

HttpRunner::~HttpRunner() {
  if (!thread_.joinable()) return;
  server_.stop();
  thread_.join();
}

void HttpRunner::start(const std::string& address) {
  // The programs' config loaders checked `http` already; this guards a caller that did not.
  auto listen = parse_listen_address(address);
  if (!listen) {
    throw common::UsageError("http = \"" + address +
                             "\": expected HOST:PORT or [IPV6]:PORT with a port from 1 to 65535, or \"\" for none");
  }
  errno = 0;
  if (!server_.bind_to_port(listen->host, listen->port)) {
    int error = errno;
    throw common::RuntimeError("http = \"" + address + "\": cannot listen there" +
                               (error != 0 ? std::string(": ") + std::strerror(error) : std::string()));
  }
  thread_ = std::thread([this] {
    if (!server_.listen_after_bind()) spdlog::error("http_server_failed: no longer serving HTTP");
    finished_ = true;
  });
  // cpp-httplib 0.11's stop() does nothing until listen has begun: wait for it, so that the
  // destructor always stops the server.
  while (!server_.is_running() && !finished_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace fleetban::server
