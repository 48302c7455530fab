// bench_ingest (P3): durable acked events per second into one aggregator (CURVE, SQLite WAL with
// synchronous = FULL), from 8 client threads, each a persistent DEALER with its own host key
// (authorized_dir/ingest-T.pub, events with host_id ingest-T), pipelining distinct ban events with
// a window in flight. Only APPLIED acks count. Baseline in the same run: the same clients against
// a trivial CURVE ROUTER in this process that answers every frame with a fixed ack (the raw CURVE
// DEALER/ROUTER message rate of this machine). Rounds alternate the order of the two.
//
// Addresses are data only, never contacted: 2001:db8::/32 (documentation) and 100.64.0.0/10.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "bench/bench_support.hpp"
#include "bench/event_load.hpp"

namespace fleetban::bench {
namespace {

int run_bench(int argc, char** argv) {
  CLI::App app{"P3: durable ingest rate against the raw CURVE message rate"};
  Programs programs;
  programs.bench = own_directory();
  fs::path out = "p3.json";
  IngestFlags flags;
  app.add_option("--bin", programs.bin, "fleetban's programs (build/bin)")->required();
  app.add_option("--out", out, "JSON results");
  flags.add_to(app);
  CLI11_PARSE(app, argc, argv);

  TempDir dir;
  Keys keys(programs, dir / "keys");
  Aggregator aggregator(programs, keys, dir / "aggregator");
  LoadOptions options = ingest_rate_load(keys, aggregator, flags);
  aggregator.start();

  LoadOptions raw_options = options;
  raw_options.endpoint = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  const std::string server_secret = Keys::z85(keys.secret("aggregator"));

  nlohmann::json details;
  std::vector<double> real_rates, raw_rates;
  double loop_cpu = 0;  // the aggregator's main thread: its single-threaded loop
  double real_cpu = 0, real_events = 0, driver_cpu_real = 0;
  for (int round = 0; round < flags.rounds; ++round) {
    for (int step = 0; step < 2; ++step) {
      bool raw = (step == 0) == (round % 2 == 0);
      if (raw) {
        LoadResult r = run_raw_echo(raw_options, server_secret);
        raw_rates.push_back(r.acks_per_second);
        details["raw"].push_back(r.to_json());
        std::printf("P3 round %d raw CURVE echo: %.0f replies/s\n", round, r.acks_per_second);
      } else {
        double cpu0 = cpu_seconds(aggregator.pid());
        double loop0 = main_thread_cpu_seconds(aggregator.pid());
        double own0 = own_cpu_seconds();
        LoadResult r = run_event_load(options);
        real_cpu += cpu_seconds(aggregator.pid()) - cpu0;
        loop_cpu += main_thread_cpu_seconds(aggregator.pid()) - loop0;
        driver_cpu_real += own_cpu_seconds() - own0;
        real_events += static_cast<double>(r.applied);
        options.first_index = r.end_index;  // the next round bans new addresses
        real_rates.push_back(r.acks_per_second);
        details["aggregator"].push_back(r.to_json());
        std::printf("P3 round %d aggregator: %.0f durable acks/s (applied %llu, refused %llu, throttled %llu)\n", round,
                    r.acks_per_second, static_cast<unsigned long long>(r.applied),
                    static_cast<unsigned long long>(r.refused), static_cast<unsigned long long>(r.throttled));
        require_durable(r);
      }
    }
  }
  auto mean = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
  };
  double real = mean(real_rates), raw = mean(raw_rates);
  details["threads"] = flags.threads;
  details["window"] = flags.window;
  details["duration_ms"] = flags.duration_ms;
  details["aggregator_cpu_us_per_event"] = real_events > 0 ? real_cpu / real_events * 1e6 : 0.0;
  details["aggregator_loop_cpu_us_per_event"] = real_events > 0 ? loop_cpu / real_events * 1e6 : 0.0;
  details["driver_cpu_s_during_aggregator_runs"] = driver_cpu_real;
  details["aggregator_rss_kb"] = status_kb(aggregator.pid(), "VmRSS");
  details["state_db_bytes"] =
      file_size_or_zero(aggregator.state_db()) + file_size_or_zero(aggregator.state_db().string() + "-wal");
  details["address_note"] = "data only, never contacted: 2001:db8::/32 and 100.64.0.0/10";
  Figure f{.id = "P3.ingest",
           .label = "durable acked ban events/s into the aggregator (" + std::to_string(flags.threads) +
                    " CURVE DEALERs, " + std::to_string(flags.window) + " in flight each)",
           .value = real,
           .unit = "events/s",
           .baseline_label = "raw CURVE DEALER/ROUTER echo, same clients",
           .baseline = raw,
           .ratio = real / raw,
           .target = ">= 200,000/s and >= 0.3x raw",
           .met = real >= 200'000 && real / raw >= 0.3};
  // The ceiling is the loop's: ZeroMQ's I/O thread (CURVE, TCP) runs beside it on the other core.
  double us_per_event = real_events > 0 ? loop_cpu / real_events * 1e6 : 0.0;
  Figure ceiling{.id = "P3.cpu_ceiling",
                 .label =
                     "the aggregator loop's CPU per durable event, as a rate: 1 s / (main-thread CPU per event), "
                     "one whole core",
                 .value = us_per_event > 0 ? 1e6 / us_per_event : 0.0,
                 .unit = "events/s",
                 .baseline_label = "measured rate (above)",
                 .baseline = real,
                 .ratio = us_per_event > 0 ? (1e6 / us_per_event) / real : 0.0,
                 .target = "(reference: >= 200,000/s)",
                 .met = us_per_event > 0 && 1e6 / us_per_event >= 200'000,
                 .note = fmt::format("{:.1f} us of main-thread CPU per event, {:.1f} us with the ZeroMQ I/O "
                                     "thread; an upper bound on an idle core, as the loop is single-threaded",
                                     us_per_event, real_events > 0 ? real_cpu / real_events * 1e6 : 0.0)};
  write_results(out, {f, ceiling}, details);
  return 0;
}

}  // namespace
}  // namespace fleetban::bench

int main(int argc, char** argv) {
  return fleetban::bench::run_driver("bench_ingest", fleetban::bench::run_bench, argc, argv);
}
