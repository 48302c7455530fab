#include "aggregator/postgres_history.hpp"

#include "aggregator/stored_record.hpp"
#include "common/errors.hpp"

namespace fleetban::aggregator {

PostgresHistoryRows::PostgresHistoryRows(PgConnection& db) : db_(db) {
  db_.script(R"sql(
CREATE TABLE IF NOT EXISTS history (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, prefix bytea NOT NULL, at bigint NOT NULL,
  kind integer NOT NULL, fleet integer NOT NULL, host bytea NOT NULL, jail bytea NOT NULL, reason bytea NOT NULL);
CREATE INDEX IF NOT EXISTS history_by_prefix ON history (prefix, id);
)sql",
             "cannot create the history table");
}

void PostgresHistoryRows::insert(const std::vector<Row>& rows) {
  if (rows.empty()) return;
  using Of = PgArray::Of;
  PgArray prefix(Of::bytes), at(Of::integers), kind(Of::integers), fleet(Of::integers), host(Of::bytes),
      jail(Of::bytes), reason(Of::bytes);
  for (const auto& row : rows) {
    const common::HistoryEntry& e = row.entry;
    prefix.add(row.key);
    at.add(common::to_unix(e.at));
    kind.add(static_cast<std::int64_t>(e.kind));
    fleet.add(std::int64_t{e.fleet ? 1 : 0});
    host.add(e.host);
    jail.add(e.jail);
    reason.add(e.reason);
  }
  PgParams params;
  for (const PgArray* column : {&prefix, &at, &kind, &fleet, &host, &jail, &reason}) params.array(*column);
  // unnest keeps the rows' order, so their ids (the table's order) follow it.
  db_.exec(
      "INSERT INTO history (prefix, at, kind, fleet, host, jail, reason) SELECT * FROM unnest($1::bytea[], "
      "$2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[], $6::bytea[], $7::bytea[])",
      params, "cannot write history");
}

std::uint64_t PostgresHistoryRows::delete_older(std::int64_t before, std::uint64_t limit) {
  PgParams params;
  params.integer(before);
  params.integer(static_cast<std::int64_t>(limit));
  return db_
      .exec("DELETE FROM history WHERE id IN (SELECT id FROM history ORDER BY id LIMIT $2) AND at < $1", params,
            "cannot prune history")
      .affected();
}

std::uint64_t PostgresHistoryRows::delete_oldest(std::uint64_t count) {
  PgParams params;
  params.integer(static_cast<std::int64_t>(count));
  return db_
      .exec("DELETE FROM history WHERE id IN (SELECT id FROM history ORDER BY id LIMIT $1)", params,
            "cannot prune history")
      .affected();
}

std::uint64_t PostgresHistoryRows::trim(const std::string& key, std::uint64_t keep) {
  PgParams params;
  params.bytes(key);
  params.integer(static_cast<std::int64_t>(keep));
  // Keeps the address's newest $2 rows: deletes those older than the $2-th newest (none if fewer).
  return db_
      .exec(
          "DELETE FROM history WHERE prefix = $1 AND id < "
          "(SELECT id FROM history WHERE prefix = $1 ORDER BY id DESC LIMIT 1 OFFSET $2 - 1)",
          params, "cannot trim history")
      .affected();
}

std::optional<std::int64_t> PostgresHistoryRows::oldest_at() noexcept {
  try {
    auto result = db_.exec("SELECT at FROM history ORDER BY id LIMIT 1", "cannot read history");
    if (result.rows() == 1) return result.integer(0, 0);
  } catch (const std::exception&) {  // what cannot be read counts as nothing; prune() corrects
  }
  return std::nullopt;
}

std::uint64_t PostgresHistoryRows::count() noexcept {
  try {
    auto result = db_.exec("SELECT count(*) FROM history", "cannot count history");
    return static_cast<std::uint64_t>(result.integer(0, 0));
  } catch (const std::exception&) {
    return 0;
  }
}

PostgresHistoryReader::PostgresHistoryReader(const std::string& url) : db_(url) {}

common::Expected<common::AddressHistory> PostgresHistoryReader::read_history(const common::IpPrefix& prefix,
                                                                             std::size_t limit) {
  std::lock_guard lock(mutex_);
  try {
    db_.reconnect_if_broken();
    // One snapshot: the decision and the rows are of the same commit.
    db_.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "cannot begin a read");
    try {
      auto history = read_locked(prefix, limit);
      db_.script("COMMIT", "cannot end a read");
      return history;
    } catch (...) {
      db_.script("ROLLBACK", "cannot end a read");
      throw;
    }
  } catch (const std::exception& e) {
    return common::Failure{e.what()};
  }
}

common::AddressHistory PostgresHistoryReader::read_locked(const common::IpPrefix& prefix, std::size_t limit) {
  common::AddressHistory history{.prefix = prefix};
  PgParams key;
  key.bytes(storage_key(prefix));
  auto record = db_.exec("SELECT record FROM records WHERE prefix = $1", key, "cannot read the record");
  if (record.rows() == 1 && !read_stored_decision(record.bytes(0, 0), history)) {
    throw common::RuntimeError("state \"" + db_.name() + "\": corrupt record of " + prefix.to_string());
  }
  auto total = db_.exec("SELECT count(*) FROM history WHERE prefix = $1", key, "cannot read history");
  history.total = static_cast<std::uint64_t>(total.integer(0, 0));
  PgParams rows_of = key;
  rows_of.integer(static_cast<std::int64_t>(limit));
  auto rows =
      db_.exec("SELECT at, kind, fleet, host, jail, reason FROM history WHERE prefix = $1 ORDER BY id DESC LIMIT $2",
               rows_of, "cannot read history");
  for (int r = 0; r < rows.rows(); ++r) {
    auto kind = common::history_kind_from(static_cast<std::uint32_t>(rows.integer(r, 1)));
    if (!kind) continue;  // written by a later version: not ours to show
    history.entries.push_back({.at = common::from_unix(rows.integer(r, 0)),
                               .kind = *kind,
                               .fleet = rows.integer(r, 2) != 0,
                               .host = std::string(rows.bytes(r, 3)),
                               .jail = std::string(rows.bytes(r, 4)),
                               .reason = std::string(rows.bytes(r, 5))});
  }
  return history;
}

}  // namespace fleetban::aggregator
