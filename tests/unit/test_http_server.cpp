#include "aggregator/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aggregator/fleet_state.hpp"
#include "common/errors.hpp"
#include "temp_dir.hpp"

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
  return round_trip(port, "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                    family);
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
                                              " /api/v1/bans HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
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
  ASSERT_TRUE(say("POST /api/v1/bans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 15\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(say("GET /x HTTP/1.1"));
  EXPECT_TRUE(read_until("read-only\n")) << answer;
  EXPECT_EQ(answer.rfind("HTTP/1.1 405 ", 0), 0u) << answer;
  answer.clear();
  ASSERT_TRUE(say("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
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

// A GET of `path` with these extra header lines (each ending in \r\n).
std::string get_with(std::uint16_t port, std::string_view path, std::string_view headers, int family = AF_INET) {
  return round_trip(
      port, "GET " + std::string(path) + " HTTP/1.1\r\n" + std::string(headers) + "Connection: close\r\n\r\n", family);
}

int status_of(const std::string& answer) {
  return answer.starts_with("HTTP/1.1 ") && answer.size() >= 12 ? std::stoi(answer.substr(9, 3)) : 0;
}

TEST_F(HttpServerTest, HostThatIsNotAnIpLiteralOrLocalhostIsMisdirected) {
  std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  HttpServer server("127.0.0.1:" + std::to_string(port), view, metrics);
  std::string p = std::to_string(port);
  for (const std::string& host : std::vector<std::string>{"evil.example", "evil.example:" + p, "localhost.evil.example",
                                                          "127.0.0.1.nip.io:" + p}) {
    for (std::string_view path : {"/", "/api/v1/bans", "/metrics", "/healthz"}) {
      std::string answer = get_with(port, path, "Host: " + host + "\r\n");
      EXPECT_EQ(status_of(answer), 421) << host << path << "\n" << answer;
    }
  }
  EXPECT_EQ(status_of(get_with(port, "/api/v1/bans", "")), 421) << "a request without Host";
  for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + p, "127.0.0.1", "localhost", "localhost:" + p,
                                                          "LOCALHOST:" + p, "[::1]:" + p, "[::1]", "192.0.2.7:" + p}) {
    std::string answer = get_with(port, "/api/v1/bans", "Host: " + host + "\r\n");
    EXPECT_EQ(status_of(answer), 200) << host << "\n" << answer;
  }
}

// Hashes made once with Python's crypt module (libcrypt's crypt(3), as mkpasswd and htpasswd -B
// use): crypt("battery staple", "$2y$05$..."), crypt("battery staple", "$2b$05$...") and
// crypt("right horse", mksalt(METHOD_SHA512)).
constexpr std::string_view kHtpasswd =
    "# fleetban dashboard users\n"
    "\n"
    "ops-y:$2y$05$ABCDEFGHIJKLMNOPQRSTUuKc95hIE.CdSSKhiXXieUyyQFdVSdFW.\n"
    "ops-b:$2b$05$abcdefghijklmnopqrstuumjewjQVmxxbBHy234HdGTOAqOuVnhhy\n"
    "ops-6:$6$6ufmSsgniVT98rCj$QyY.7YgNGOBUt/"
    "LJuKbpw5xSmsmyFXhnLOThiPUuQwAQVBhiDhVp9UIF6btOTdVCsLXHeshrOh3FwcI1tK0UG1\n";

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t chunk = static_cast<std::uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) chunk |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(in[i + 1])) << 8;
    if (i + 2 < in.size()) chunk |= static_cast<std::uint8_t>(in[i + 2]);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

// Plays the aggregator's loop for a view on its own thread: answers its requests from `state`,
// woken by the view as the real loop is.
class Loop {
 public:
  Loop(StateView& view, FleetState state) : view_(view), state_(std::move(state)) {
    view_.set_version({"inc", state_.sequence()});
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd wake{view_.wake_fd(), POLLIN, 0};
        ::poll(&wake, 1, 50);
        std::lock_guard lock(mutex_);
        view_.publish_if_requested(state_);
      }
    });
  }
  ~Loop() {
    stop_ = true;
    thread_.join();
  }
  void ban(const std::string& ip) {
    std::lock_guard lock(mutex_);
    state_.apply(ban_event(ip), common::now_seconds());
  }
  static common::Event ban_event(const std::string& ip) {
    common::Event e;
    e.id = common::random_event_id();
    e.prefix = *common::IpPrefix::parse(ip);
    e.jail = "sshd";
    e.host_id = "web-01";
    e.bantime = std::chrono::seconds(3600);
    e.time = common::now_ms();
    e.created = e.time;
    return e;
  }

 private:
  StateView& view_;
  FleetState state_;
  std::mutex mutex_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

FleetState fleet_of(int v4, int v6) {
  FleetState state{Policy{}};
  for (int i = 0; i < v4; ++i) state.apply(Loop::ban_event("192.0.2." + std::to_string(i + 1)), common::now_seconds());
  for (int i = 0; i < v6; ++i)
    state.apply(Loop::ban_event("2001:db8::" + std::to_string(i + 1)), common::now_seconds());
  return state;
}

std::string header_of(const std::string& answer, const std::string& name) {
  auto at = answer.find("\r\n" + name + ": ");
  if (at == std::string::npos || at > answer.find("\r\n\r\n")) return "";
  at += name.size() + 4;
  return answer.substr(at, answer.find("\r\n", at) - at);
}

// The body of a chunked answer, put back together.
std::string dechunked(const std::string& body) {
  std::string out;
  std::size_t at = 0;
  while (at < body.size()) {
    auto line_end = body.find("\r\n", at);
    if (line_end == std::string::npos) break;
    std::size_t size = std::stoul(body.substr(at, line_end - at), nullptr, 16);
    if (size == 0) break;
    out += body.substr(line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
  return out;
}

std::string basic(std::string_view user, std::string_view password) {
  return "Authorization: Basic " + base64(std::string(user) + ":" + std::string(password)) + "\r\n";
}

TEST_F(HttpServerTest, AuthFileRequiresBasicAuthOnEverythingButHealthz) {
  fleetban::testing::TempDir dir;
  auto auth_file = dir.write("htpasswd", kHtpasswd);
  std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  HttpServer server("127.0.0.1:" + std::to_string(port), view, metrics, auth_file);
  const std::string host = "Host: 127.0.0.1\r\n";

  for (std::string_view path : {"/", "/api/v1/bans", "/metrics", "/nope"}) {
    std::string answer = get_with(port, path, host);
    EXPECT_EQ(status_of(answer), 401) << path << "\n" << answer;
    EXPECT_NE(answer.find("WWW-Authenticate: Basic realm=\"fleetban\""), std::string::npos) << answer;
  }
  EXPECT_EQ(status_of(get_with(port, "/healthz", host)), 200);
  EXPECT_EQ(status_of(get_with(port, "/api/v1/bans", host + basic("ops-b", "wrong"))), 401);
  EXPECT_EQ(status_of(get_with(port, "/api/v1/bans", host + basic("ops-6", "battery staple"))), 401);
  EXPECT_EQ(status_of(get_with(port, "/api/v1/bans", host + basic("nobody", "battery staple"))), 401);
  EXPECT_EQ(status_of(get_with(port, "/api/v1/bans", host + "Authorization: Basic !!!\r\n")), 401);
  EXPECT_EQ(status_of(get_with(port, "/api/v1/bans", host + "Authorization: Bearer x\r\n")), 401);

  EXPECT_EQ(status_of(get_with(port, "/api/v1/bans", host + basic("ops-y", "battery staple"))), 200);
  EXPECT_EQ(status_of(get_with(port, "/api/v1/bans", host + basic("ops-b", "battery staple"))), 200);
  EXPECT_EQ(status_of(get_with(port, "/metrics", host + basic("ops-6", "right horse"))), 200);
  // With passwords the Host check is not needed: a rebinding page cannot send them.
  EXPECT_EQ(status_of(get_with(port, "/api/v1/bans", "Host: dashboard.example\r\n" + basic("ops-6", "right horse"))),
            200);
}

// The UsageError an HttpServer with this auth file throws, or "" when it starts.
std::string auth_file_refusal(StateView& view, Metrics& metrics, const std::filesystem::path& file) {
  try {
    HttpServer server("127.0.0.1:" + std::to_string(free_port()), view, metrics, file);
    return "";
  } catch (const common::UsageError& e) {
    return e.what();
  }
}

TEST_F(HttpServerTest, BadAuthFileIsAUsageErrorNamingFileAndLine) {
  fleetban::testing::TempDir dir;
  EXPECT_NE(auth_file_refusal(view, metrics, dir / "missing").find((dir / "missing").string() + ": cannot read"),
            std::string::npos);
  struct Case {
    std::string content;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"# users\nops:$apr1$abc$def\n", "htpasswd:2: "},  // htpasswd's default MD5: not supported
           {"ops:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", "htpasswd:1: "},
           {"ops:plaintext\n", "htpasswd:1: "},
           {"ops:$6$\n", "htpasswd:1: "},
           {"\nno colon here\n", "htpasswd:2: expected NAME:HASH"},
           {std::string(kHtpasswd) + "ops-y:$2y$05$ABCDEFGHIJKLMNOPQRSTUuKc95hIE.CdSSKhiXXieUyyQFdVSdFW.\n",
            "htpasswd:6: user 'ops-y' appears twice"},
       }) {
    auto file = dir.write("htpasswd", c.content);
    std::string message = auth_file_refusal(view, metrics, file);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.content << "\n" << message;
  }
}

TEST_F(HttpServerTest, BansComeInPagesThatTogetherHoldEachBanOnce) {
  std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  Loop loop(view, fleet_of(20, 17));
  HttpServer server("127.0.0.1:" + std::to_string(port), view, metrics);
  std::set<std::string> seen;
  std::size_t entries = 0, pages = 0;
  std::string path = "/api/v1/bans?limit=5";
  for (;;) {
    std::string answer = get(port, path);
    ASSERT_EQ(status_of(answer), 200) << answer;
    auto document = nlohmann::json::parse(body_of(answer));
    ++pages;
    EXPECT_LE(document["bans"].size(), 5u);
    for (const auto& ban : document["bans"]) {
      seen.insert(ban["ip"].get<std::string>());
      ++entries;
      EXPECT_EQ(ban["reporter_count"], 1);
      EXPECT_EQ(ban["jail_count"], 1);
    }
    ASSERT_TRUE(document.contains("next"));
    if (document["next"].is_null()) break;
    path = "/api/v1/bans?limit=5&after=" + document["next"].get<std::string>();
    ASSERT_LT(pages, 100u);
  }
  EXPECT_EQ(entries, 37u);
  EXPECT_EQ(seen.size(), 37u);
  EXPECT_EQ(pages, 8u);
  // The filters still apply, within each page.
  auto filtered = nlohmann::json::parse(body_of(get(port, "/api/v1/bans?limit=100&ip=192.0.2.3")));
  ASSERT_EQ(filtered["bans"].size(), 1u);
  EXPECT_TRUE(filtered["next"].is_null());
  // Without limit, the whole list as before, with no next.
  auto whole = nlohmann::json::parse(body_of(get(port, "/api/v1/bans")));
  EXPECT_EQ(whole["bans"].size(), 37u);
  EXPECT_FALSE(whole.contains("next"));
}

TEST_F(HttpServerTest, BadPageParametersAre400NamingTheParameter) {
  std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  Loop loop(view, fleet_of(3, 0));
  HttpServer server("127.0.0.1:" + std::to_string(port), view, metrics);
  for (std::string bad : {"limit=0", "limit=-1", "limit=abc", "limit=10001", "limit=", "limit=5x", "limit=1e3",
                          "limit=5&after=nope", "after=192.0.2.300", "limit=5&after=198.51.100.1"}) {
    std::string answer = get(port, "/api/v1/bans?" + bad);
    EXPECT_EQ(status_of(answer), 400) << bad << "\n" << answer;
    std::string name = bad.find("after") != std::string::npos ? "after=" : "limit=";
    auto document = nlohmann::json::parse(body_of(answer), nullptr, false);
    ASSERT_FALSE(document.is_discarded()) << answer;
    EXPECT_NE(document["error"].get<std::string>().find(name), std::string::npos) << bad << "\n" << answer;
  }
  EXPECT_EQ(status_of(get(port, "/api/v1/bans?limit=10000")), 200);
}

TEST_F(HttpServerTest, BlocklistHoldsTheActivePrefixesAndAnswers304WhileNothingChanged) {
  std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  auto loop = std::make_unique<Loop>(view, fleet_of(4, 3));
  HttpServer server("127.0.0.1:" + std::to_string(port), view, metrics);
  auto lines = [](const std::string& text) {
    std::multiset<std::string> out;
    std::size_t at = 0;
    for (auto end = text.find('\n'); end != std::string::npos; at = end + 1, end = text.find('\n', at)) {
      out.insert(text.substr(at, end - at));
    }
    EXPECT_EQ(at, text.size()) << "the last line ends with a newline";
    return out;
  };
  std::string both = get(port, "/api/v1/blocklist.txt");
  ASSERT_EQ(status_of(both), 200) << both;
  EXPECT_EQ(header_of(both, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(lines(dechunked(body_of(both))),
            (std::multiset<std::string>{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "2001:db8::1",
                                        "2001:db8::2", "2001:db8::3"}));
  EXPECT_EQ(lines(dechunked(body_of(get(port, "/api/v1/blocklist.txt?family=6")))),
            (std::multiset<std::string>{"2001:db8::1", "2001:db8::2", "2001:db8::3"}));
  std::string v4 = get(port, "/api/v1/blocklist.txt?family=4");
  EXPECT_EQ(lines(dechunked(body_of(v4))).size(), 4u);

  std::string etag = header_of(both, "ETag");
  ASSERT_FALSE(etag.empty()) << both;
  EXPECT_NE(header_of(v4, "ETag"), etag);  // another list, another tag
  auto conditional = [&](const std::string& path, const std::string& tag) {
    return round_trip(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: " + tag +
                                "\r\nConnection: close\r\n\r\n");
  };
  std::string unchanged = conditional("/api/v1/blocklist.txt", etag);
  EXPECT_EQ(status_of(unchanged), 304) << unchanged;
  EXPECT_EQ(body_of(unchanged), "");
  EXPECT_EQ(status_of(conditional("/api/v1/blocklist.txt", "\"other\", W/" + etag)), 304);

  loop->ban("198.51.100.7");
  std::string changed;
  for (int i = 0; i < 200 && status_of(changed = conditional("/api/v1/blocklist.txt", etag)) == 304; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(status_of(changed), 200) << changed;
  std::string new_tag = header_of(changed, "ETag");
  EXPECT_NE(new_tag, etag);
  EXPECT_EQ(lines(dechunked(body_of(changed))).count("198.51.100.7"), 1u);

  // A 304 needs nothing from the loop: it is answered with the loop gone.
  loop.reset();
  EXPECT_EQ(status_of(conditional("/api/v1/blocklist.txt", new_tag)), 304);

  std::string bad = get(port, "/api/v1/blocklist.txt?family=5");
  EXPECT_EQ(status_of(bad), 400) << bad;
  EXPECT_NE(body_of(bad).find("family="), std::string::npos) << bad;
}

TEST_F(HttpServerTest, DashboardWithABadAfterIs400) {
  std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  HttpServer server("127.0.0.1:" + std::to_string(port), view, metrics);
  std::string answer = get(port, "/?after=nope");
  EXPECT_EQ(status_of(answer), 400) << answer;
  EXPECT_NE(body_of(answer).find("after="), std::string::npos) << answer;
}

}  // namespace
}  // namespace fleetban::aggregator
