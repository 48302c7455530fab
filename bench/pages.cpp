// bench_pages (P8): what one page of GET /api/v1/bans costs with N active bans (default 1,000,000),
// loaded through the ingest endpoint as P4 loads them. Walks `--pages` pages of `?limit=100&after=`
// (each asking after the previous page's "next") over one keep-alive HTTP connection, timing each
// request to its last byte, and watches the aggregator's resident memory: VmRSS before and after
// the walk, and its peak during the walk (VmHWM, reset just before it through /proc/PID/clear_refs).
// Baseline, same run and connection: GET /healthz, one before each page, so both see the same load.
//
// Addresses are data only, never contacted: 2001:db8::/32 (documentation) and 100.64.0.0/10.

#include <fmt/format.h>
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "bench/bench_support.hpp"
#include "bench/event_load.hpp"

namespace fleetban::bench {
namespace {

// One GET to its last byte; throws if there is no 200.
double timed_get(httplib::Client& client, const std::string& path, std::string* body = nullptr) {
  auto start = Clock::now();
  auto result = client.Get(path);
  double seconds = seconds_since(start);
  if (!result) throw std::runtime_error("GET " + path + ": " + httplib::to_string(result.error()));
  if (result->status != 200) {
    throw std::runtime_error("GET " + path + ": HTTP " + std::to_string(result->status) + " " + result->body);
  }
  if (body != nullptr) *body = std::move(result->body);
  return seconds;
}

// Resets the process's peak resident size (VmHWM) to its current one (Linux >= 4.0, same user).
bool reset_peak_rss(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

int run_bench(int argc, char** argv) {
  CLI::App app{"P8: one page of GET /api/v1/bans with a million active bans"};
  Programs programs;
  programs.bench = own_directory();
  fs::path out = "p8.json";
  std::uint64_t bans = 1'000'000;
  unsigned threads = 8, window = 256;
  std::size_t pages = 1000, limit = 100;
  app.add_option("--bin", programs.bin, "fleetban's programs (build/bin)")->required();
  app.add_option("--out", out, "JSON results");
  app.add_option("--bans", bans, "active bans to load");
  app.add_option("--threads", threads, "loading threads");
  app.add_option("--window", window, "events in flight per thread");
  app.add_option("--pages", pages, "pages to walk (fewer if the list ends first)");
  app.add_option("--limit", limit, "bans per page");
  CLI11_PARSE(app, argc, argv);

  TempDir dir;
  Keys keys(programs, dir / "keys");
  Aggregator aggregator(programs, keys, dir / "aggregator", "", true);
  LoadOptions options = lasting_ban_load(keys, aggregator, bans, threads, window);
  aggregator.start();
  std::printf("P8 loading %llu bans...\n", static_cast<unsigned long long>(bans));
  std::fflush(stdout);
  LoadResult load = run_event_load(options);
  if (load.applied != bans) throw std::runtime_error("not every ban was applied: " + load.to_json().dump());
  std::printf("P8 loaded: %.0f events/s\n", load.acks_per_second);

  httplib::Client client("127.0.0.1", aggregator.http_port());
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  client.set_read_timeout(std::chrono::seconds(30));
  // One warm-up of each, so the first timed page does not pay for the connection.
  timed_get(client, "/healthz");
  std::string body;
  timed_get(client, "/api/v1/bans?limit=1", &body);

  const pid_t pid = aggregator.pid();
  const std::uint64_t rss_before = status_kb(pid, "VmRSS");
  const bool peak_reset = reset_peak_rss(pid);
  std::vector<double> page_ms, health_ms;
  std::uint64_t listed = 0;
  std::string after;
  for (std::size_t i = 0; i < pages; ++i) {
    check_interrupted();
    health_ms.push_back(timed_get(client, "/healthz") * 1000.0);
    std::string path = "/api/v1/bans?limit=" + std::to_string(limit) + (after.empty() ? "" : "&after=" + after);
    page_ms.push_back(timed_get(client, path, &body) * 1000.0);
    auto page = nlohmann::json::parse(body);
    listed += page.at("bans").size();
    if (page.at("next").is_null()) break;
    after = page.at("next").get<std::string>();
  }
  const std::uint64_t rss_after = status_kb(pid, "VmRSS");
  const std::uint64_t peak = status_kb(pid, "VmHWM");
  Summary pages_summary = summarize(page_ms), health = summarize(health_ms);
  std::printf("P8 %zu pages of %zu (%llu bans): p50 %.2f p99 %.2f max %.2f ms; /healthz p50 %.2f p99 %.2f ms\n",
              page_ms.size(), limit, static_cast<unsigned long long>(listed), pages_summary.p50, pages_summary.p99,
              pages_summary.max, health.p50, health.p99);
  std::printf("P8 VmRSS %llu -> %llu kB, peak during the walk %llu kB%s\n", static_cast<unsigned long long>(rss_before),
              static_cast<unsigned long long>(rss_after), static_cast<unsigned long long>(peak),
              peak_reset ? "" : " (peak not reset: since start)");

  nlohmann::json details;
  details["bans"] = bans;
  details["load"] = load.to_json();
  details["pages"] = {
      {"walked", page_ms.size()}, {"limit", limit}, {"bans_listed", listed}, {"ms", to_json(pages_summary)}};
  details["healthz_ms"] = to_json(health);
  details["rss_kb"] = {{"before", rss_before}, {"after", rss_after}, {"peak", peak}, {"peak_reset", peak_reset}};
  details["address_note"] = "data only, never contacted: 2001:db8::/32 and 100.64.0.0/10";

  const std::string n = std::to_string(bans);
  const std::string of = std::to_string(page_ms.size()) + " pages of " + std::to_string(limit);
  // Without the reset, VmHWM holds the loading's peak: then only VmRSS after the walk says anything.
  const std::uint64_t highest = peak_reset ? std::max(peak, rss_after) : rss_after;
  const double growth_mb = static_cast<double>(highest > rss_before ? highest - rss_before : 0) / 1024.0;
  std::vector<Figure> figures;
  figures.push_back({.id = "P8.page.p99",
                     .label = "GET /api/v1/bans?limit=" + std::to_string(limit) + "&after=... with " + n +
                              " bans, p99 of " + of + " walked in order",
                     .value = pages_summary.p99,
                     .unit = "ms",
                     .baseline_label = "GET /healthz p99, interleaved on the same connection",
                     .baseline = health.p99,
                     .ratio = pages_summary.p99 / health.p99,
                     .target = "milliseconds: < 50 ms",
                     .met = pages_summary.p99 < 50.0 && listed > 0,
                     .note = fmt::format("p50 {:.2f}, max {:.2f} ms", pages_summary.p50, pages_summary.max)});
  figures.push_back({.id = "P8.page.p50",
                     .label = "the same, median",
                     .value = pages_summary.p50,
                     .unit = "ms",
                     .baseline_label = "GET /healthz p50",
                     .baseline = health.p50,
                     .ratio = pages_summary.p50 / health.p50});
  figures.push_back({.id = "P8.rss_growth",
                     .label = "aggregator resident memory gained during the walk (peak VmHWM or VmRSS after, over "
                              "VmRSS before)",
                     .value = growth_mb,
                     .unit = "MB",
                     .baseline_label = "VmRSS before the walk",
                     .baseline = static_cast<double>(rss_before) / 1024.0,
                     .ratio = std::nullopt,
                     .target = "no big allocation: < 16 MB",
                     .met = growth_mb < 16.0,
                     .note = peak_reset ? "" : "VmHWM could not be reset: VmRSS after the walk only"});
  write_results(out, figures, details);
  return 0;
}

}  // namespace
}  // namespace fleetban::bench

int main(int argc, char** argv) {
  return fleetban::bench::run_driver("bench_pages", fleetban::bench::run_bench, argc, argv);
}
