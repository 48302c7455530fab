#include "aggregator/pg_connection.hpp"

#include <arpa/inet.h>
#include <endian.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <memory>
#include <stdexcept>

#include "common/errors.hpp"

namespace fleetban::aggregator {

namespace {

constexpr Oid kByteaOid = 17;  // pg_type.h: bytea
constexpr Oid kInt8Oid = 20;   // bigint
constexpr Oid kByteaArrayOid = 1001;
constexpr Oid kInt8ArrayOid = 1016;

void append_be32(std::string& out, std::uint32_t value) {
  value = htonl(value);
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// libpq's own message, without the trailing newline.
std::string message_of(const char* text) {
  std::string message = text != nullptr ? text : "";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message.empty() ? "unknown error" : message;
}

}  // namespace

bool is_postgres_url(std::string_view state) {
  return state.starts_with("postgresql://") || state.starts_with("postgres://");
}

std::string redacted_url(std::string_view url) {
  std::string out(url);
  auto scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  auto start = scheme + 3;
  auto authority_end = out.find_first_of("/?", start);
  if (authority_end == std::string::npos) authority_end = out.size();
  auto at = out.rfind('@', authority_end);
  if (at != std::string::npos && at >= start) {
    auto colon = out.find(':', start);
    if (colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  // A password given as a query parameter (?password=... or &password=...).
  for (std::string key : {"?password=", "&password="}) {
    auto found = out.find(key);
    if (found == std::string::npos) continue;
    auto value = found + key.size();
    auto end = out.find('&', value);
    out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
  }
  return out;
}

std::optional<std::string> postgres_url_error(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    std::string message = message_of(error != nullptr ? error : "out of memory");
    PQfreemem(error);
    return message;
  }
  std::optional<std::string> problem;
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    // libpq would only find a bad port when it connects: a typo is the config's error, found now.
    std::string_view port = option->val != nullptr ? option->val : "";
    if (std::string_view(option->keyword) == "port" && !port.empty() &&
        port.find_first_not_of("0123456789,") != std::string_view::npos) {
      problem = "invalid port \"" + std::string(port) + "\"";
    }
  }
  PQconninfoFree(options);
  return problem;
}

void PgParams::bytes(std::string_view value) {
  values_.emplace_back(value);
  types_.push_back(kByteaOid);
  formats_.push_back(1);
}

void PgParams::integer(std::int64_t value) {
  values_.push_back(std::to_string(value));
  types_.push_back(kInt8Oid);
  formats_.push_back(0);
}

void PgArray::add(std::string_view value) {
  if (of_ != Of::bytes) throw std::logic_error("PgArray: bytes added to an array of integers");
  append_be32(elements_, static_cast<std::uint32_t>(value.size()));
  elements_.append(value);
  ++count_;
}

void PgArray::add(std::int64_t value) {
  if (of_ != Of::integers) throw std::logic_error("PgArray: an integer added to an array of bytes");
  append_be32(elements_, 8);
  const std::uint64_t big_endian = htobe64(static_cast<std::uint64_t>(value));
  elements_.append(reinterpret_cast<const char*>(&big_endian), sizeof big_endian);
  ++count_;
}

void PgParams::array(const PgArray& values) {
  // array_recv's format (PostgreSQL's arrayfuncs.c): dimensions, a has-nulls flag, the element
  // type; then per dimension its length and lower bound; then the elements. No dimension at all is
  // the empty array.
  const bool bytes = values.of_ == PgArray::Of::bytes;
  std::string encoded;
  encoded.reserve(20 + values.elements_.size());
  append_be32(encoded, values.empty() ? 0 : 1);
  append_be32(encoded, 0);
  append_be32(encoded, bytes ? kByteaOid : kInt8Oid);
  if (!values.empty()) {
    append_be32(encoded, static_cast<std::uint32_t>(values.count_));
    append_be32(encoded, 1);
  }
  encoded += values.elements_;
  values_.push_back(std::move(encoded));
  types_.push_back(bytes ? kByteaArrayOid : kInt8ArrayOid);
  formats_.push_back(1);
}

std::string_view PgResult::bytes(int row, int column) const {
  return {PQgetvalue(result_, row, column), static_cast<std::size_t>(PQgetlength(result_, row, column))};
}

std::int64_t PgResult::integer(int row, int column) const {
  const char* data = PQgetvalue(result_, row, column);
  switch (PQgetlength(result_, row, column)) {
    case 2: {
      std::uint16_t v = 0;
      std::memcpy(&v, data, 2);
      return static_cast<std::int16_t>(ntohs(v));
    }
    case 4: {
      std::uint32_t v = 0;
      std::memcpy(&v, data, 4);
      return static_cast<std::int32_t>(ntohl(v));
    }
    case 8: {
      std::uint64_t v = 0;
      std::memcpy(&v, data, 8);
      return static_cast<std::int64_t>(be64toh(v));
    }
    default: return 0;
  }
}

std::uint64_t PgResult::affected() const {
  const char* tuples = PQcmdTuples(result_);
  return tuples != nullptr && *tuples != '\0' ? std::stoull(tuples) : 0;
}

PgConnection::PgConnection(std::string url, std::vector<std::string> settings)
    : url_(std::move(url)), name_(redacted_url(url_)), settings_(std::move(settings)) {
  try {
    connect();
  } catch (...) {
    PQfinish(conn_);  // a constructor that throws runs no destructor
    conn_ = nullptr;
    throw;
  }
}

PgConnection::~PgConnection() { PQfinish(conn_); }

void PgConnection::connect() {
  PQfinish(conn_);
  // The URL's own settings override these defaults (expand_dbname: it comes last). Keepalives and
  // tcp_user_timeout: a server cut off mid-query fails the query within seconds rather than
  // holding the loop for the kernel's TCP timeout (the HA group's lease has long lapsed by then).
  const char* keys[] = {"connect_timeout",  "application_name", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "dbname",          nullptr};
  const char* values[] = {"10", "fleetban-aggregator", "5", "2", "3", "10000", url_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    std::string message = message_of(conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory");
    PQfinish(conn_);  // libpq hands back a connection object even when it failed
    conn_ = nullptr;
    throw common::RuntimeError("state \"" + name_ + "\": cannot connect to PostgreSQL: " + message);
  }
  // PostgreSQL's notices ("relation ... already exists, skipping") are not for the operator; its
  // warnings go to the log rather than to stderr unformatted.
  PQsetNoticeProcessor(
      conn_, [](void*, const char* message) { spdlog::warn("postgresql_notice message=\"{}\"", message_of(message)); },
      nullptr);
  script("SET client_min_messages = warning", "cannot configure the session");
  for (const auto& setting : settings_) script(setting, "cannot configure the session");
}

void PgConnection::reconnect_if_broken() {
  if (PQstatus(conn_) != CONNECTION_OK) connect();
}

void PgConnection::fail(const char* what, const PGresult* result) {
  std::string message = message_of(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  throw common::RuntimeError("state \"" + name_ + "\": " + what + ": " + message);
}

void PgConnection::script(const std::string& sql, const char* what) {
  PgResult result(PQexec(conn_, sql.c_str()));
  if (PQresultStatus(result.result_) != PGRES_COMMAND_OK) fail(what, result.result_);
}

PgResult PgConnection::exec(const std::string& sql, const char* what) { return exec(sql, PgParams{}, what); }

PgResult PgConnection::exec(const std::string& sql, const PgParams& params, const char* what) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  values.reserve(params.size());
  lengths.reserve(params.size());
  for (const auto& value : params.values_) {
    values.push_back(value.data());
    lengths.push_back(static_cast<int>(value.size()));
  }
  PgResult result(PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), params.types_.data(), values.data(),
                               lengths.data(), params.formats_.data(), 1));
  auto status = PQresultStatus(result.result_);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(what, result.result_);
  return result;
}

}  // namespace fleetban::aggregator
