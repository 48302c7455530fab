#include "aggregator/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include "common/errors.hpp"

namespace fleetban::aggregator {
namespace {

// A TCP socket bound to 127.0.0.1 (or ::1) on a port the kernel picks; -1 if it cannot.
int bound_socket(int family) {
  int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int rc = -1;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    rc = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::uint16_t port_of(int fd) {
  sockaddr_storage a{};
  socklen_t size = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size);
  return ntohs(a.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&a)->sin_port
                                      : reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
}

// A port that was free a moment ago (0 if none could be found).
std::uint16_t free_port(int family = AF_INET) {
  int fd = bound_socket(family);
  if (fd < 0) return 0;
  std::uint16_t port = port_of(fd);
  close(fd);
  return port;
}

// Sends one raw HTTP/1.1 request and returns the whole answer ("" if it cannot connect).
std::string round_trip(std::uint16_t port, std::string_view request, int family = AF_INET) {
  int fd = socket(family, SOCK_STREAM, 0);
  int rc = -1;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_loopback;
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  std::string answer;
  if (rc == 0 && send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return answer;
}

std::string get(std::uint16_t port, std::string_view path, int family = AF_INET) {
  return round_trip(port, "GET " + std::string(path) + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", family);
}

std::string body_of(const std::string& answer) {
  auto at = answer.find("\r\n\r\n");
  return at == std::string::npos ? "" : answer.substr(at + 4);
}

struct HttpServerTest : ::testing::Test {
  StateView view;
  Metrics metrics;
};

TEST_F(HttpServerTest, AddressThatDoesNotParseIsAUsageErrorNamingIt) {
  for (std::string bad : {"", "7782", "127.0.0.1", "127.0.0.1:", ":7782", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:77x", "127.0.0.1:-1", "::1:7782", "[::1]7782", "[::1]:", "[nonsense]:7782",
                          "[127.0.0.1]:7782", "web 01:7782", "http://127.0.0.1:7782"}) {
    try {
      HttpServer server(bad, view, metrics);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const common::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("\"" + bad + "\""), std::string::npos) << e.what();
    }
  }
}

TEST_F(HttpServerTest, PortInUseIsARuntimeError) {
  std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  std::string address = "127.0.0.1:" + std::to_string(port);
  HttpServer first(address, view, metrics);
  // Not even another fleetban: httplib's default SO_REUSEPORT would have let two share it.
  EXPECT_THROW(HttpServer second(address, view, metrics), common::RuntimeError);
}

TEST_F(HttpServerTest, ServesHealthzAndRefusesEverythingElse) {
  std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  HttpServer server("127.0.0.1:" + std::to_string(port), view, metrics);

  std::string health = get(port, "/healthz");
  EXPECT_EQ(health.rfind("HTTP/1.1 200 ", 0), 0u) << health;
  EXPECT_EQ(body_of(health), "ok");

  std::string metrics_answer = get(port, "/metrics");
  EXPECT_EQ(metrics_answer.rfind("HTTP/1.1 200 ", 0), 0u) << metrics_answer;
  EXPECT_NE(metrics_answer.find("Content-Type: text/plain; version=0.0.4\r\n"), std::string::npos) << metrics_answer;
  EXPECT_NE(body_of(metrics_answer).find("# TYPE fleetban_events_total counter"), std::string::npos);

  std::string missing = get(port, "/nope");
  EXPECT_EQ(missing.rfind("HTTP/1.1 404 ", 0), 0u) << missing;

  std::string bad_ip = get(port, "/api/v1/bans?ip=not-an-ip");
  EXPECT_EQ(bad_ip.rfind("HTTP/1.1 400 ", 0), 0u) << bad_ip;
  EXPECT_NE(body_of(bad_ip).find("not-an-ip"), std::string::npos) << bad_ip;

  for (std::string_view method : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}) {
    std::string answer = round_trip(port, std::string(method) +
                                              " /api/v1/bans HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
                                              "Content-Length: 2\r\n\r\n{}");
    EXPECT_EQ(answer.rfind("HTTP/1.1 405 ", 0), 0u) << method << "\n" << answer;
    EXPECT_NE(answer.find("Allow: GET, HEAD\r\n"), std::string::npos) << answer;
  }
}

TEST_F(HttpServerTest, RefusedWriteLeavesAKeepAliveConnectionInStep) {
  std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  HttpServer server("127.0.0.1:" + std::to_string(port), view, metrics);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto say = [fd](std::string_view text) {
    return send(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
  };
  std::string answer;
  auto read_until = [&](std::string_view marker) {
    char buffer[4096];
    while (answer.find(marker) == std::string::npos) {
      ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      answer.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  };
  // The body comes apart from the head: a server that answered without reading it would take it
  // for the next request.
  ASSERT_TRUE(say("POST /api/v1/bans HTTP/1.1\r\nHost: test\r\nContent-Length: 15\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(say("GET /x HTTP/1.1"));
  EXPECT_TRUE(read_until("read-only\n")) << answer;
  EXPECT_EQ(answer.rfind("HTTP/1.1 405 ", 0), 0u) << answer;
  answer.clear();
  ASSERT_TRUE(say("GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
  read_until(std::string_view("\0", 1));  // to the end of the connection: no NUL comes
  close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u) << answer;
  EXPECT_EQ(body_of(answer), "ok");
}

TEST_F(HttpServerTest, ListensOnAnIpv6Address) {
  std::uint16_t port = free_port(AF_INET6);
  if (port == 0) GTEST_SKIP() << "no IPv6 loopback here";
  HttpServer server("[::1]:" + std::to_string(port), view, metrics);
  EXPECT_EQ(body_of(get(port, "/healthz", AF_INET6)), "ok");
}

TEST_F(HttpServerTest, DestructorStopsPromptlyAndFreesThePort) {
  std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  std::string address = "127.0.0.1:" + std::to_string(port);
  for (int round = 0; round < 3; ++round) {
    auto started = std::chrono::steady_clock::now();
    {
      HttpServer server(address, view, metrics);
      EXPECT_EQ(body_of(get(port, "/healthz")), "ok");
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  }
  // Constructed and destroyed at once, before its thread may even have begun to listen.
  for (int round = 0; round < 20; ++round) {
    HttpServer server(address, view, metrics);
  }
}

}  // namespace
}  // namespace fleetban::aggregator
