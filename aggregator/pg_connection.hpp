#pragma once
// One libpq connection to the PostgreSQL state database (state = "postgresql://..."), and the few
// things every user of it needs: the URL checked and shown without its password, statements with
// typed parameters (bytes as bytea, integers as bigint, all sent without quoting), columns of many
// rows sent as one array parameter each, and results read in binary. Not thread-safe: each thread
// (the loop, the lease, a history reader) holds a connection of its own.

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetban::aggregator {

// Whether `state` names a PostgreSQL database (postgresql:// or postgres://) rather than a file.
bool is_postgres_url(std::string_view state);
// The URL with its password, if any, replaced by "***": for logs and error messages.
std::string redacted_url(std::string_view url);
// Why libpq cannot parse the URL, or nothing when it can (config.cpp reports it against `state`).
std::optional<std::string> postgres_url_error(const std::string& url);

// One column of many rows as a single parameter, a bytea[] or bigint[] in PostgreSQL's binary array
// format. A statement over any number of rows (INSERT ... SELECT * FROM unnest($1, $2), DELETE ...
// WHERE key = ANY($1)) is then parsed and planned once, with one parameter per column, where a
// multi-row VALUES list costs a parameter and a plan node per value and must be cut into chunks.
class PgArray {
 public:
  enum class Of { bytes, integers };
  explicit PgArray(Of of) : of_(of) {}
  void add(std::string_view value);  // into an array of bytes
  void add(std::int64_t value);      // into an array of integers
  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

 private:
  friend class PgParams;
  Of of_;
  std::size_t count_ = 0;
  std::string elements_;  // each a 4-byte big-endian length, then the value's bytes
};

// Statement parameters: each is bytes (bytea), an integer (bigint) or an array of either.
class PgParams {
 public:
  void bytes(std::string_view value);
  void integer(std::int64_t value);
  void array(const PgArray& values);
  std::size_t size() const { return values_.size(); }

 private:
  friend class PgConnection;
  std::vector<std::string> values_;
  std::vector<Oid> types_;
  std::vector<int> formats_;
};

// A result whose columns were asked for in binary: bytea as its bytes, integers big-endian.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result) {}
  ~PgResult() { PQclear(result_); }
  PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  PgResult& operator=(PgResult&&) = delete;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const { return PQntuples(result_); }
  bool null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
  std::string_view bytes(int row, int column) const;
  std::int64_t integer(int row, int column) const;  // int2, int4 or int8
  std::uint64_t affected() const;                   // rows an INSERT, UPDATE or DELETE touched

 private:
  friend class PgConnection;
  PGresult* result_;
};

class PgConnection {
 public:
  // Connects; throws RuntimeError naming the URL (without its password) when it cannot.
  // `settings`: SET statements run on every (re)connection.
  explicit PgConnection(std::string url, std::vector<std::string> settings = {});
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs statements without parameters or results (a schema), several separated by ';'.
  void script(const std::string& sql, const char* what);
  // Runs one statement; throws RuntimeError naming the URL and `what` when it fails.
  PgResult exec(const std::string& sql, const char* what);
  PgResult exec(const std::string& sql, const PgParams& params, const char* what);

  // Reconnects when the connection was lost (the server restarted); throws as the constructor.
  void reconnect_if_broken();
  const std::string& name() const { return name_; }  // the URL without its password

 private:
  void connect();
  [[noreturn]] void fail(const char* what, const PGresult* result = nullptr);

  std::string url_;
  std::string name_;
  std::vector<std::string> settings_;
  PGconn* conn_ = nullptr;
};

}  // namespace fleetban::aggregator
