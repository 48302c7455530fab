// A real PostgreSQL server for tests (the unit tests of aggregator/postgres_store and the HA
// integration tests): initdb in a temp dir, run as `nobody` when the tests run as root (PostgreSQL
// refuses root), listening on 127.0.0.1 at a free port and on a unix socket in the temp dir only,
// stopped and removed by the destructor. The binaries come from Debian's `postgresql` (the Makefile
// installs it); a test calls FLEETBAN_REQUIRE_POSTGRES() (require_postgres.hpp) to skip where they
// are missing. bench P3PG (bench/ingest_pg.cpp) runs one with the server's own durable defaults.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fleetban::testing {

// The directory holding initdb and postgres (pg_config --bindir, else /usr/lib/postgresql/*/bin),
// or "" when they are missing.
std::string postgres_bin_dir();

// The settings (-c NAME=VALUE) the tests run the server with: no fsync (a test's data need not
// outlive the machine) and little shared memory, so that many servers can run side by side.
std::vector<std::string> test_server_settings();

class PostgresServer {
 public:
  // Creates the cluster and a database "fleetban", starts the server with `settings` (besides
  // listening on 127.0.0.1 only; {} for the server's own defaults: fsync on, synchronous_commit
  // on) and waits until it answers; throws std::runtime_error with the server's log when it cannot.
  explicit PostgresServer(std::vector<std::string> settings = test_server_settings());
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

  std::vector<std::string> settings_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace fleetban::testing
