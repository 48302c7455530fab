#include "bench/pg_raw_insert.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "aggregator/fleet_record.hpp"
#include "aggregator/history_store.hpp"
#include "aggregator/stored_record.hpp"
#include "bench/bench_support.hpp"
#include "common/ip_prefix.hpp"
#include "common/time.hpp"

namespace fleetban::bench {

namespace {

constexpr Oid kBytea = 17;
constexpr Oid kInt8 = 20;
// The baseline is a plain multi-row INSERT: VALUES lists of at most 1,000 rows (the store
// itself sends each column as one array, aggregator/pg_connection.hpp's PgArray).
constexpr std::size_t kRowsPerStatement = 1000;

// The columns of multi-row statements, typed as PgParams types them (bytes binary, integers text).
struct Rows {
  int columns = 0;
  std::vector<std::string> values;
  std::vector<Oid> types;
  std::vector<int> formats;
  void bytes(std::string value) {
    values.push_back(std::move(value));
    types.push_back(kBytea);
    formats.push_back(1);
  }
  void integer(std::int64_t value) {
    values.push_back(std::to_string(value));
    types.push_back(kInt8);
    formats.push_back(0);
  }
  std::size_t count() const { return values.size() / static_cast<std::size_t>(columns); }
};

struct Result {
  explicit Result(PGresult* r) : result(r) {}
  ~Result() { PQclear(result); }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  std::string_view value(int row, int column) const {
    return {PQgetvalue(result, row, column), static_cast<std::size_t>(PQgetlength(result, row, column))};
  }
  PGresult* result;
};

}  // namespace

struct RawInsert::Session {
  PGconn* conn = nullptr;
  bool have_templates = false;
  aggregator::FleetRecord record;  // a record the aggregator wrote: each raw row is it, readdressed
  std::int64_t history_kind = 0, history_fleet = 0;
  std::string history_host, history_jail, history_reason;
  std::vector<std::string> meta_keys;  // the hosts' last_event keys the aggregator wrote
  std::uint64_t next_index = 0;        // raw rows' addresses: bench_address(next_index++)
  std::uint64_t sequence = 0;
  std::mt19937_64 random{std::random_device{}()};

  // One statement, text results unless `binary`; throws with PostgreSQL's message.
  std::unique_ptr<Result> exec(const std::string& sql, const Rows* rows = nullptr, std::size_t first = 0,
                               std::size_t count = 0, bool binary = false) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    const Oid* types = nullptr;
    const int* formats = nullptr;
    if (rows != nullptr) {
      const std::size_t begin = first * static_cast<std::size_t>(rows->columns);
      const std::size_t end = (first + count) * static_cast<std::size_t>(rows->columns);
      for (std::size_t i = begin; i < end; ++i) {
        values.push_back(rows->values[i].data());
        lengths.push_back(static_cast<int>(rows->values[i].size()));
      }
      types = rows->types.data() + begin;
      formats = rows->formats.data() + begin;
    }
    auto result = std::make_unique<Result>(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), types,
                                                        values.data(), lengths.data(), formats, binary ? 1 : 0));
    auto status = PQresultStatus(result->result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw std::runtime_error("raw insert: " + sql.substr(0, 80) + ": " + PQresultErrorMessage(result->result));
    }
    return result;
  }

  // head VALUES ($1,..),(..) tail, for every row, in chunks of kRowsPerStatement rows.
  void insert(const std::string& head, const std::string& tail, const Rows& rows) {
    for (std::size_t first = 0; first < rows.count(); first += kRowsPerStatement) {
      const std::size_t count = std::min(kRowsPerStatement, rows.count() - first);
      std::string sql = head + " VALUES ";
      int n = 0;
      for (std::size_t r = 0; r < count; ++r) {
        sql += r == 0 ? "(" : ",(";
        for (int c = 0; c < rows.columns; ++c) sql += (c == 0 ? "$" : ",$") + std::to_string(++n);
        sql += ')';
      }
      exec(sql + " " + tail, &rows, first, count);
    }
  }

  void read_templates() {
    auto record = exec("SELECT record FROM records WHERE record IS NOT NULL LIMIT 1", nullptr, 0, 0, true);
    auto history =
        exec("SELECT at::text, kind::text, fleet::text, host, jail, reason FROM history LIMIT 1", nullptr, 0, 0, true);
    auto meta = exec("SELECT key FROM meta WHERE key LIKE 'last_event:%'::bytea", nullptr, 0, 0, true);
    if (PQntuples(record->result) != 1 || PQntuples(history->result) != 1) {
      throw std::runtime_error("raw insert: the aggregator has written no records yet (it runs first)");
    }
    auto bytes = record->value(0, 0);
    auto decoded = aggregator::decode_record(bytes.data(), static_cast<int>(bytes.size()));
    if (!decoded) throw std::runtime_error("raw insert: the aggregator's record does not decode: " + decoded.error());
    this->record = *decoded;
    history_kind = std::stoll(std::string(history->value(0, 1)));
    history_fleet = std::stoll(std::string(history->value(0, 2)));
    history_host = history->value(0, 3);
    history_jail = history->value(0, 4);
    history_reason = history->value(0, 5);
    for (int r = 0; r < PQntuples(meta->result); ++r) meta_keys.emplace_back(meta->value(r, 0));
    have_templates = true;
  }

  // One transaction of `events` events, as PostgresStore::write_pending orders its statements.
  // Returns the rows written.
  std::uint64_t transaction(std::size_t events) {
    const std::int64_t now = common::to_unix(common::now_seconds());
    Rows records{.columns = 2}, seen{.columns = 2}, meta{.columns = 2}, history{.columns = 7};
    std::string ids;
    ids.reserve(events * 16);
    for (std::size_t e = 0; e < events; ++e) {
      record.decision.prefix = *common::IpPrefix::parse(bench_address(next_index++));
      record.decision.sequence = ++sequence;
      const std::string key = aggregator::storage_key(record.decision.prefix);
      records.bytes(key);
      records.bytes(aggregator::encode_record(record));
      history.bytes(aggregator::storage_key(record.decision.prefix));
      history.integer(now);
      history.integer(history_kind);
      history.integer(history_fleet);
      history.bytes(history_host);
      history.bytes(history_jail);
      history.bytes(history_reason);
      for (int half = 0; half < 2; ++half) {
        std::uint64_t r = random();
        ids.append(reinterpret_cast<const char*>(&r), sizeof r);
      }
    }
    seen.integer(now);
    seen.bytes(std::move(ids));
    for (const auto& key : meta_keys) {
      meta.bytes(key);
      meta.bytes(std::to_string(now));
    }
    meta.bytes("sequence");
    meta.bytes(std::to_string(sequence));
    exec("BEGIN");
    insert("INSERT INTO raw_records (prefix, record)", "ON CONFLICT (prefix) DO UPDATE SET record = EXCLUDED.record",
           records);
    insert("INSERT INTO raw_seen_event_batches (seen_at, ids)", "", seen);
    insert("INSERT INTO raw_meta (key, value)", "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", meta);
    insert("INSERT INTO raw_history (prefix, at, kind, fleet, host, jail, reason)", "", history);
    exec("COMMIT");
    return records.count() + seen.count() + meta.count() + history.count();
  }
};

nlohmann::json RawInsertResult::to_json() const {
  return {{"events", events},
          {"rows", rows},
          {"transactions", transactions},
          {"seconds", seconds},
          {"events_per_second", events_per_second},
          {"rows_per_second", rows_per_second}};
}

RawInsert::RawInsert(const std::string& url) : session_(std::make_unique<Session>()) {
  session_->conn = PQconnectdb(url.c_str());
  if (PQstatus(session_->conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(session_->conn);
    PQfinish(session_->conn);
    throw std::runtime_error("raw insert: cannot connect: " + message);
  }
  for (const char* table : {"records", "history", "seen_event_batches", "meta"}) {
    session_->exec(std::string("CREATE TABLE raw_") + table + " (LIKE " + table + " INCLUDING ALL)");
  }
}

RawInsert::~RawInsert() { PQfinish(session_->conn); }

RawInsertResult RawInsert::run(std::size_t events_per_transaction, std::chrono::milliseconds warmup,
                               std::chrono::milliseconds duration) {
  Session& s = *session_;
  if (!s.have_templates) s.read_templates();
  events_per_transaction = std::max<std::size_t>(events_per_transaction, 1);
  for (auto end = Clock::now() + warmup; Clock::now() < end;) {
    check_interrupted();
    s.transaction(events_per_transaction);
  }
  RawInsertResult result;
  auto t0 = Clock::now();
  for (auto end = t0 + duration; Clock::now() < end;) {
    check_interrupted();
    result.rows += s.transaction(events_per_transaction);
    result.events += events_per_transaction;
    ++result.transactions;
  }
  result.seconds = seconds_since(t0);
  result.events_per_second = static_cast<double>(result.events) / result.seconds;
  result.rows_per_second = static_cast<double>(result.rows) / result.seconds;
  return result;
}

}  // namespace fleetban::bench
