// bench_soak (SOAK): hours of churn compressed into minutes, to show the aggregator's state stays
// bounded. A steady rate of bans of distinct addresses, each lasting 1-2 s, against an aggregator
// with a forget_after of a few seconds: every record is made, ends and is forgotten dozens of
// times over during the run, as a month of a real fleet's churn would with forget_after = 30 days.
// Every few seconds it samples the aggregator's VmRSS, `fleetban_records` (/metrics) and the size
// of state.db + WAL, and reports for each the slope over the second half of the run beside the
// slope over the first: flat means the second half grows by less than 5% of its level.
// Not part of `make bench` (it runs minutes): `bench/run.sh --only SOAK`.
//
// Addresses are data only, never contacted: 2001:db8::/32 (documentation) and 100.64.0.0/10.

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include "bench/bench_support.hpp"
#include "bench/event_load.hpp"

namespace fleetban::bench {
namespace {

// The port of `http = "127.0.0.1:PORT"` in the aggregator's config.
std::uint16_t http_port(const fs::path& config) {
  std::istringstream lines(read_file(config));
  for (std::string line; std::getline(lines, line);) {
    auto at = line.find("\"127.0.0.1:");
    if (line.rfind("http", 0) == 0 && at != std::string::npos) {
      return static_cast<std::uint16_t>(std::stoi(line.substr(at + 11)));
    }
  }
  throw std::runtime_error(config.string() + ": no http address");
}

// One unlabelled series of GET /metrics on 127.0.0.1:port (HTTP/1.0, so the body ends with the
// connection), or nullopt.
std::optional<double> metric(std::uint16_t port, const std::string& name) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
        response.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  std::istringstream lines(response);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return std::nullopt;
}

struct Sample {
  double t = 0;  // seconds since the load started
  double rss_mb = 0;
  double records = 0;
  double db_mb = 0;      // state.db
  double db_wal_mb = 0;  // state.db + WAL
};

// Least-squares slope of y over t, per minute.
double slope_per_minute(const std::vector<Sample>& samples, double Sample::*y) {
  double n = static_cast<double>(samples.size());
  if (n < 2) return 0;
  double st = 0, sy = 0, stt = 0, sty = 0;
  for (const auto& s : samples) {
    st += s.t;
    sy += s.*y;
    stt += s.t * s.t;
    sty += s.t * (s.*y);
  }
  double denominator = n * stt - st * st;
  return denominator == 0 ? 0 : 60.0 * (n * sty - st * sy) / denominator;
}

double mean_of(const std::vector<Sample>& samples, double Sample::*y) {
  double sum = 0;
  for (const auto& s : samples) sum += s.*y;
  return samples.empty() ? 0 : sum / static_cast<double>(samples.size());
}

int run_bench(int argc, char** argv) {
  CLI::App app{"SOAK: hours of churn in minutes; RSS, records and state.db stay flat"};
  Programs programs;
  programs.bench = own_directory();
  fs::path out = "soak.json";
  int duration_s = 180, forget_after_s = 3, sample_s = 3;
  std::uint64_t rate = 400;
  unsigned threads = 2;
  app.add_option("--bin", programs.bin, "fleetban's programs (build/bin)")->required();
  app.add_option("--out", out, "JSON results");
  app.add_option("--duration", duration_s, "seconds of load");
  app.add_option("--rate", rate, "new addresses banned per second");
  app.add_option("--forget-after", forget_after_s, "the aggregator's [policy] forget_after, seconds");
  app.add_option("--sample", sample_s, "seconds between samples");
  app.add_option("--threads", threads, "loading threads (one host key each)");
  CLI11_PARSE(app, argc, argv);

  TempDir dir;
  Keys keys(programs, dir / "keys");
  // report_window compressed too: a ban that arrives after its 1 s is over is kept as a report,
  // and its record lives until the report leaves the window.
  Aggregator aggregator(programs, keys, dir / "aggregator",
                        "forget_after = " + std::to_string(forget_after_s) + "\nreport_window = 1\n", true);
  const std::uint16_t port = http_port(aggregator.dir() / "aggregator.toml");
  LoadOptions options;
  options.endpoint = aggregator.ingest();
  options.server_public = Keys::z85(keys.public_key("aggregator"));
  options.window = 64;
  for (unsigned t = 0; t < threads; ++t) {
    std::string name = "soak-" + std::to_string(t);
    keys.make(name);
    options.clients.push_back({name, Keys::z85(keys.public_key(name)), Keys::z85(keys.secret(name))});
  }
  aggregator.start();

  std::vector<Sample> samples;
  std::uint64_t applied = 0, refused = 0, sent = 0;
  auto started = Clock::now();
  auto next_sample = started;
  for (std::uint64_t second = 0; seconds_since(started) < duration_s; ++second) {
    auto tick = Clock::now();
    options.count = rate;
    options.first_index = second * rate;  // every address distinct
    options.bantime = 1 + second % 2;     // bans of 1 and 2 s
    LoadResult load = run_event_load(options);
    applied += load.applied;
    refused += load.refused;
    sent += load.sent;
    if (Clock::now() >= next_sample) {
      Sample s{.t = seconds_since(started),
               .rss_mb = static_cast<double>(status_kb(aggregator.pid(), "VmRSS")) / 1024.0,
               .records = metric(port, "fleetban_records").value_or(-1),
               .db_mb = static_cast<double>(file_size_or_zero(aggregator.state_db())) / (1024.0 * 1024.0),
               .db_wal_mb = static_cast<double>(file_size_or_zero(aggregator.state_db()) +
                                                file_size_or_zero(aggregator.state_db().string() + "-wal")) /
                            (1024.0 * 1024.0)};
      samples.push_back(s);
      std::printf("SOAK t=%5.0f s  events %8llu  RSS %6.1f MB  records %7.0f  state.db %6.2f MB  +WAL %6.2f MB\n", s.t,
                  static_cast<unsigned long long>(applied), s.rss_mb, s.records, s.db_mb, s.db_wal_mb);
      std::fflush(stdout);
      next_sample += std::chrono::seconds(sample_s);
    }
    auto left = std::chrono::seconds(1) - (Clock::now() - tick);
    if (left > Clock::duration::zero()) sleep_for(std::chrono::duration_cast<milliseconds>(left));
  }
  if (samples.size() < 4) throw std::runtime_error("too few samples: run longer or sample more often");

  std::vector<Sample> first(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 2));
  std::vector<Sample> second(samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 2), samples.end());
  double half_minutes = (second.back().t - second.front().t) / 60.0;
  std::vector<Figure> figures;
  nlohmann::json details;
  auto judge = [&](const std::string& id, const std::string& label, double Sample::*y, const std::string& unit) {
    double early = slope_per_minute(first, y), late = slope_per_minute(second, y), level = mean_of(second, y);
    bool flat = late * half_minutes <= 0.05 * level;
    figures.push_back({.id = id,
                       .label = label + ": slope over the second half of the run",
                       .value = late,
                       .unit = unit + "/min",
                       .baseline_label = "slope over the first half",
                       .baseline = early,
                       .ratio = std::nullopt,
                       .target = "flat: < 5% of its level over the second half",
                       .met = flat,
                       .note = fmt::format("mean {:.2f} {} in the first half, {:.2f} in the second", mean_of(first, y),
                                           unit, level)});
  };
  judge("SOAK.rss", "aggregator VmRSS", &Sample::rss_mb, "MB");
  judge("SOAK.records", "fleetban_records", &Sample::records, "records");
  judge("SOAK.state_db", "state.db", &Sample::db_mb, "MB");
  // The WAL grows until wal_autocheckpoint (10,000 pages, about 40 MB) and is then reused from its
  // start: a cap, reached after a few minutes of this load.
  judge("SOAK.state_db_wal", "state.db + WAL", &Sample::db_wal_mb, "MB");
  figures.push_back(
      {.id = "SOAK.churn",
       .label = fmt::format("distinct addresses banned (bans of 1-2 s, forget_after = {} s)", forget_after_s),
       .value = static_cast<double>(applied),
       .unit = "bans",
       .note = fmt::format("{:.0f} s at {} a second; each record lived and was forgotten about {:.0f} "
                           "times over the run",
                           seconds_since(started), rate, seconds_since(started) / (2.0 + forget_after_s))});
  nlohmann::json series = nlohmann::json::array();
  for (const auto& s : samples) series.push_back({s.t, s.rss_mb, s.records, s.db_mb, s.db_wal_mb});
  details["samples"] = {{"columns", {"t_s", "rss_mb", "records", "state_db_mb", "state_db_wal_mb"}}, {"rows", series}};
  details["events"] = {{"sent", sent}, {"applied", applied}, {"refused", refused}};
  details["address_note"] = "data only, never contacted: 2001:db8::/32 and 100.64.0.0/10";
  write_results(out, figures, details);
  return 0;
}

}  // namespace
}  // namespace fleetban::bench

int main(int argc, char** argv) {
  return fleetban::bench::run_driver("bench_soak", fleetban::bench::run_bench, argc, argv);
}
