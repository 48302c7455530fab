// bench_ingest_pg (P3PG): P3 with `state = "postgresql://..."`: durable acked events per second
// into one aggregator whose state is a real PostgreSQL server started here (initdb in a temp dir,
// tests/postgres/postgres_server.hpp) with the server's own defaults: fsync on, synchronous_commit
// on, default shared_buffers (--pg-setting NAME=VALUE changes one, for both sides, to show what it
// matters). The load is P3's: 8 CURVE DEALERs with host keys of their own pipelining distinct ban
// events, only APPLIED acks counting. Baseline in the same run: the same rows written straight into
// the same server with libpq (bench/pg_raw_insert.hpp), in transactions as large as the
// aggregator's turns were at full load (measured from its event-id rows: one per turn). Round 0
// runs the aggregator first (the baseline needs its turn size and its rows as templates), later
// rounds alternate. Skips, exit 0 and no figure, where PostgreSQL's server programs are missing.
//
// Addresses are data only, never contacted: 2001:db8::/32 (documentation) and 100.64.0.0/10.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "bench/bench_support.hpp"
#include "bench/event_load.hpp"
#include "bench/pg_raw_insert.hpp"
#include "postgres_server.hpp"

namespace fleetban::bench {
namespace {

struct Turns {
  std::uint64_t turns = 0;
  std::uint64_t events = 0;
  double per_turn() const { return turns > 0 ? static_cast<double>(events) / static_cast<double>(turns) : 0.0; }
};

// The aggregator's turns that wrote events with seen_at in [from, to] (Unix seconds): each writes
// one row of event ids, 16 bytes per event.
Turns turns_between(const testing::PostgresServer& server, std::int64_t from, std::int64_t to) {
  std::istringstream row(
      server.query(fmt::format("SELECT count(*) || ' ' || coalesce(sum(length(ids)), 0) / 16 FROM seen_event_batches "
                               "WHERE seen_at BETWEEN {} AND {}",
                               from, to)));
  Turns t;
  row >> t.turns >> t.events;
  return t;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int run_bench(int argc, char** argv) {
  CLI::App app{"P3PG: durable ingest rate on PostgreSQL state against a raw multi-row INSERT of the same rows"};
  Programs programs;
  programs.bench = own_directory();
  fs::path out = "p3pg.json";
  IngestFlags flags;
  std::vector<std::string> settings;
  app.add_option("--bin", programs.bin, "fleetban's programs (build/bin)")->required();
  app.add_option("--out", out, "JSON results");
  flags.add_to(app);
  app.add_option("--pg-setting", settings, "NAME=VALUE for the PostgreSQL server (-c), repeatable; default none");
  CLI11_PARSE(app, argc, argv);

  if (testing::postgres_bin_dir().empty()) {
    const std::string why = "PostgreSQL's server programs are missing (make installs Debian's postgresql)";
    std::printf("P3PG skipped: %s\n", why.c_str());
    write_results(out, {}, {{"skipped", why}});
    return 0;
  }
  testing::PostgresServer server(settings);
  nlohmann::json details;
  for (const char* name : {"server_version", "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes",
                           "shared_buffers", "wal_buffers", "max_wal_size", "checkpoint_timeout"}) {
    details["server_settings"][name] = server.query(std::string("SHOW ") + name);
  }
  std::printf("P3PG PostgreSQL %s: fsync %s, synchronous_commit %s, shared_buffers %s\n",
              details["server_settings"]["server_version"].get<std::string>().c_str(),
              details["server_settings"]["fsync"].get<std::string>().c_str(),
              details["server_settings"]["synchronous_commit"].get<std::string>().c_str(),
              details["server_settings"]["shared_buffers"].get<std::string>().c_str());

  TempDir dir;
  Keys keys(programs, dir / "keys");
  Aggregator aggregator(programs, keys, dir / "aggregator", "", false, server.url());
  LoadOptions options = ingest_rate_load(keys, aggregator, flags);
  aggregator.start();
  RawInsert raw(server.url());

  std::vector<double> real_rates, raw_rates, raw_row_rates;
  Turns full_load;  // the aggregator's turns in its measured intervals
  double loop_cpu = 0, real_events = 0;
  auto run_aggregator = [&](int round) {
    const double started = static_cast<double>(realtime_ns()) / 1e9;
    double loop0 = main_thread_cpu_seconds(aggregator.pid());
    LoadResult r = run_event_load(options);
    loop_cpu += main_thread_cpu_seconds(aggregator.pid()) - loop0;
    real_events += static_cast<double>(r.applied);
    options.first_index = r.end_index;  // the next round bans new addresses
    // Whole seconds inside the measured interval; a run shorter than that (smoke): all of it.
    const double measured = started + flags.warmup_ms / 1000.0;
    Turns turns = turns_between(server, static_cast<std::int64_t>(std::ceil(measured)),
                                static_cast<std::int64_t>(std::floor(measured + r.seconds)) - 1);
    if (turns.turns == 0) turns = turns_between(server, static_cast<std::int64_t>(started), INT64_MAX);
    full_load.turns += turns.turns;
    full_load.events += turns.events;
    real_rates.push_back(r.acks_per_second);
    nlohmann::json run = r.to_json();
    run["turns"] = turns.turns;
    run["events_per_turn"] = turns.per_turn();
    details["aggregator"].push_back(run);
    std::printf(
        "P3PG round %d aggregator: %.0f durable acks/s (applied %llu, refused %llu, throttled %llu), "
        "%.0f events per commit\n",
        round, r.acks_per_second, static_cast<unsigned long long>(r.applied),
        static_cast<unsigned long long>(r.refused), static_cast<unsigned long long>(r.throttled),
        run["events_per_turn"].get<double>());
    require_durable(r);
  };
  auto run_raw = [&](int round) {
    const auto size = static_cast<std::size_t>(std::max(1LL, std::llround(full_load.per_turn())));
    RawInsertResult r = raw.run(size, milliseconds(flags.warmup_ms), milliseconds(flags.duration_ms));
    raw_rates.push_back(r.events_per_second);
    raw_row_rates.push_back(r.rows_per_second);
    nlohmann::json run = r.to_json();
    run["events_per_transaction"] = size;
    details["raw"].push_back(run);
    std::printf("P3PG round %d raw INSERT: %.0f events/s (%.0f rows/s, %zu events per transaction)\n", round,
                r.events_per_second, r.rows_per_second, size);
  };
  for (int round = 0; round < flags.rounds; ++round) {
    bool aggregator_first = round % 2 == 0;
    if (aggregator_first) run_aggregator(round);
    run_raw(round);
    if (!aggregator_first) run_aggregator(round);
  }

  double real = median(real_rates), baseline = median(raw_rates), baseline_rows = median(raw_row_rates);
  const double per_turn = full_load.per_turn();
  const double us_per_event = real_events > 0 ? loop_cpu / real_events * 1e6 : 0.0;
  details["threads"] = flags.threads;
  details["window"] = flags.window;
  details["duration_ms"] = flags.duration_ms;
  details["events_per_commit_at_full_load"] = per_turn;
  details["aggregator_loop_cpu_us_per_event"] = us_per_event;
  details["aggregator_rss_kb"] = status_kb(aggregator.pid(), "VmRSS");
  for (const char* table : {"records", "history", "seen_event_batches", "raw_records", "raw_history"}) {
    details["table_rows"][table] = std::stoull(server.query(std::string("SELECT count(*) FROM ") + table));
  }
  details["database_bytes"] = std::stoull(server.query("SELECT pg_database_size('fleetban')"));
  details["address_note"] = "data only, never contacted: 2001:db8::/32 and 100.64.0.0/10";
  const auto& s = details["server_settings"];
  Figure f{.id = "P3.ingest_pg",
           .label = fmt::format("durable acked ban events/s into the aggregator on PostgreSQL state ({} CURVE DEALERs, "
                                "{} in flight each; PostgreSQL {}, fsync {}, synchronous_commit {}, shared_buffers {})",
                                flags.threads, flags.window, s["server_version"].get<std::string>(),
                                s["fsync"].get<std::string>(), s["synchronous_commit"].get<std::string>(),
                                s["shared_buffers"].get<std::string>()),
           .value = real,
           .unit = "events/s",
           .baseline_label = "raw multi-row INSERT of the same rows, same server (libpq, one connection)",
           .baseline = baseline,
           .ratio = baseline > 0 ? real / baseline : 0.0,
           .target = ">= 50,000/s",
           .met = real >= 50'000,
           .note = fmt::format("median of {} rounds; {:.0f} events per commit at full load, the baseline's "
                               "transaction size; baseline {:.0f} rows/s; the loop's CPU {:.1f} us per event",
                               flags.rounds, per_turn, baseline_rows, us_per_event)};
  write_results(out, {f}, details);
  return 0;
}

}  // namespace
}  // namespace fleetban::bench

int main(int argc, char** argv) {
  return fleetban::bench::run_driver("bench_ingest_pg", fleetban::bench::run_bench, argc, argv);
}
