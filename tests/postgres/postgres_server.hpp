// A real PostgreSQL server for tests (the unit tests of aggregator/postgres_store and the HA
// integration tests): initdb in a temp dir, run as `nobody` when the tests run as root (PostgreSQL
// refuses root), listening on 127.0.0.1 at a free port and on a unix socket in the temp dir only,
// stopped and removed by the destructor. The binaries come from Debian's `postgresql` (the Makefile
// installs it); a test calls FLEETBAN_REQUIRE_POSTGRES() to skip where they are missing.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace fleetban::testing {

// The directory holding initdb and postgres (pg_config --bindir, else /usr/lib/postgresql/*/bin),
// or "" when they are missing.
std::string postgres_bin_dir();

class PostgresServer {
 public:
  // Creates the cluster and a database "fleetban", starts the server and waits until it answers;
  // throws std::runtime_error with the server's log when it cannot.
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // postgresql://fleetban:secret@127.0.0.1:PORT/DATABASE (trust authentication: the password is
  // there so tests can check that it is never shown).
  std::string url(std::string_view database = "fleetban") const;
  std::uint16_t port() const { return port_; }
  void create_database(std::string_view name) const;
  // Runs one statement on `database`; returns the first column of the first row ("" if none).
  // Throws std::runtime_error with PostgreSQL's message on failure.
  std::string query(std::string_view sql, std::string_view database = "fleetban") const;
  std::string log() const;

 private:
  bool start();  // false when the server exited at once (the port was taken meanwhile)
  void stop();

  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace fleetban::testing

#define FLEETBAN_REQUIRE_POSTGRES()                                                                   \
  do {                                                                                                \
    if (::fleetban::testing::postgres_bin_dir().empty())                                              \
      GTEST_SKIP() << "PostgreSQL's server programs are missing (make installs Debian's postgresql)"; \
  } while (false)
