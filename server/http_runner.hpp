#pragma once
// The thread a serving program's read-only HTTP server runs on (the aggregator's `http`, the
// relay's), with the settings both want: the port its own (SO_REUSEADDR, never SO_REUSEPORT, so a
// second instance cannot share it), no Nagle delay, short keep-alives so a stop is quick, request
// bodies of at most 64 KiB. The program adds its routes to server(), then calls start().

#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>

namespace fleetban::server {

class HttpRunner {
 public:
  explicit HttpRunner(std::size_t workers);
  // Stops the server and joins its thread.
  ~HttpRunner();
  HttpRunner(const HttpRunner&) = delete;
  HttpRunner& operator=(const HttpRunner&) = delete;

  httplib::Server& server() { return server_; }
  // Binds `address` ("HOST:PORT", "[IPV6]:PORT") and serves on a thread of its own. Throws
  // UsageError for an address that does not parse, RuntimeError (with the system's reason) when
  // it cannot bind.
  void start(const std::string& address);

 private:
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

}  // namespace fleetban::server
