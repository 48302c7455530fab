// systemd readiness notification, against a real notify socket (a Unix datagram socket made by the
// test, as systemd makes one for a Type=notify unit).

#include "common/systemd_notify.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "temp_dir.hpp"

namespace {

// NOTIFY_SOCKET set for the test's length, as systemd sets it for the service.
struct NotifySocket {
  fleetban::testing::TempDir dir;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  NotifySocket() {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string path = (dir / "notify").string();
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) throw std::runtime_error("bind");
    timeval timeout{.tv_sec = 2, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd);
  }
  std::string next() {
    char buffer[256];
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }
};

TEST(SystemdNotify, TellsSystemdReadyThenStopping) {
  NotifySocket systemd;
  fleetban::common::notify_ready();
  EXPECT_EQ(systemd.next(), "READY=1");
  fleetban::common::notify_stopping();
  EXPECT_EQ(systemd.next(), "STOPPING=1");
}

}  // namespace
