// bench_propagation (P2): how long a ban takes from `fleetban-publish` on one host to the exec
// backend of every subscriber. For each N: a fresh aggregator and N subscribers (each its own host
// key, exec backend whose ban_command is bench_stamp, which appends CLOCK_REALTIME ns, the address
// and the subscriber's name to the round's stamp file), then K publishes, spaced apart; each
// latency runs from just before the publish is forked to one subscriber's stamp. Reported per N:
// p50/p90/p99/max.
//
// The same again from a client that is already connected (this driver's own CURVE DEALER, key
// "publisher"), timed from just before the event is sent: the fleet path alone, without the
// publish process starting, reading its config and keys, and doing its CURVE handshake.
//
// Baselines measured in the same run: the exec floor (fork of bench_stamp by this driver to its
// stamp), the fan-out floor (N such forks back to back: N processes sharing this machine's CPUs)
// and the wall time of the publish process itself (which ends at its ack).
//
// Then the fleet path without a process per decision: N more subscribers with the log backend,
// events from the connected client, each latency to the subscriber's `enforce_ban` log line
// (millisecond timestamps, taken to the end of their millisecond: an upper bound).

#include <sys/resource.h>

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "bench/bench_support.hpp"
#include "common/aggregator_client.hpp"
#include "common/socket_factory.hpp"

namespace fleetban::bench {
namespace {

struct Subscriber {
  std::string name;
  std::unique_ptr<Process> process;
};

// All subscribers of a round append to one stamp file (O_APPEND: each line lands whole), so one
// cheap stat tells whether anything arrived; polling a hundred files would steal a core.
class StampFile {
 public:
  explicit StampFile(fs::path file) : file_(std::move(file)) {}
  const fs::path& path() const { return file_; }
  // Reads new complete lines: "<ns> <ip> <subscriber>".
  void poll() {
    if (file_size_or_zero(file_) <= offset_) return;
    std::string text = read_file(file_);
    auto end = text.rfind('\n');
    if (end == std::string::npos || end < offset_) return;
    std::istringstream lines(text.substr(offset_, end + 1 - offset_));
    offset_ = end + 1;
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      long long ns = 0;
      std::string address, name;
      if (words >> ns >> address >> name) seen_[address].emplace(name, ns);
    }
  }
  std::size_t reached(const std::string& ip) const {
    auto it = seen_.find(ip);
    return it == seen_.end() ? 0 : it->second.size();
  }
  const std::map<std::string, std::int64_t>& stamps(const std::string& ip) { return seen_[ip]; }

 private:
  fs::path file_;
  std::size_t offset_ = 0;
  std::map<std::string, std::map<std::string, std::int64_t>> seen_;  // ip -> subscriber -> ns
};

bool subscriber_ready(const Subscriber& s) {
  return read_file(s.process->log_file()).find("snapshot sequence=") != std::string::npos;
}

// When a subscriber's log line was written: its timestamp ("2026-11-26T05:39:44.123 ..."), in local
// time as spdlog writes it, to the END of that millisecond (so a latency from it is an upper bound).
std::optional<std::int64_t> line_time_ns(const std::string& line) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(line.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  std::time_t seconds = std::mktime(&tm);
  if (seconds == -1) return std::nullopt;
  return (static_cast<std::int64_t>(seconds) * 1000 + ms + 1) * 1'000'000;
}

// N subscribers sub-0..sub-N-1, each in round_dir/PREFIXsub-I with the [enforce] table that
// enforce(name, home) gives; returns once every one has taken its first snapshot.
std::vector<Subscriber> start_subscribers(
    const Programs& programs, Keys& keys, const Aggregator& aggregator, const fs::path& round_dir, int n,
    const std::string& prefix, const std::function<std::string(const std::string&, const fs::path&)>& enforce) {
  std::vector<Subscriber> subscribers(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& s = subscribers[static_cast<std::size_t>(i)];
    s.name = "sub-" + std::to_string(i);
    fs::path home = round_dir / (prefix + s.name);
    HostToml host{.host_id = s.name,
                  .aggregator = aggregator.ingest(),
                  .broadcast = aggregator.broadcast(),
                  .spool_dir = home / "spool",
                  .timeout_ms = 2000,
                  .server_key = keys.public_key("aggregator"),
                  .client_key = keys.secret(s.name),
                  .enforce = enforce(s.name, home)};
    write_host_toml(home / "host.toml", host);
    s.process = std::make_unique<Process>(
        std::vector<std::string>{programs.subscriber(), "--config", (home / "host.toml").string()},
        home / "subscriber.log");
  }
  auto started = Clock::now();
  for (auto& s : subscribers) {
    while (!subscriber_ready(s)) {
      if (!s.process->running()) throw std::runtime_error(s.name + " exited:\n" + read_file(s.process->log_file()));
      std::string log = read_file(s.process->log_file());
      if (log.find("refused this key") != std::string::npos || seconds_since(started) > 120) {
        throw std::runtime_error(s.name + " took no snapshot:\n" + log);
      }
      sleep_for(milliseconds(20));
    }
  }
  return subscribers;
}

// The driver's own client, connected once with the key "publisher": an event sent from it skips
// the publish process's start-up, config, keys and CURVE handshake.
class ConnectedPublisher {
 public:
  ConnectedPublisher(Keys& keys, const Aggregator& aggregator)
      : sockets_(
            context_,
            {.insecure = false, .server_key = keys.public_key("aggregator"), .client_key = keys.secret("publisher")}),
        ingest_(sockets_.ingest(aggregator.ingest())) {
    if (!common::fetch_status(ingest_, std::chrono::seconds(10))) throw std::runtime_error("no status answer");
  }

  // Bans ip and waits for the ack; returns CLOCK_REALTIME ns taken just before the send.
  std::int64_t ban(const std::string& ip) {
    common::Event event{.id = common::random_event_id(),
                        .kind = common::EventKind::ban,
                        .prefix = *common::IpPrefix::parse(ip),
                        .jail = "sshd",
                        .host_id = "publisher",
                        .bantime = std::chrono::seconds(3600),
                        .time = common::now_ms(),
                        .created = common::now_ms()};
    std::int64_t sent = realtime_ns();
    auto ack = common::send_event(ingest_, event, std::chrono::seconds(5));
    if (!ack || ack->outcome != common::AckOutcome::applied) throw std::runtime_error("event not applied");
    return sent;
  }

 private:
  zmq::context_t context_;
  common::ClientSockets sockets_;
  zmq::socket_t ingest_;
};

struct LogRound {
  Summary latency;
  int lost = 0;
};

// The fleet path without a process per decision: N subscribers with the log backend, events from
// an already connected client, each latency to the subscriber's `enforce_ban ip=...` line. With
// the exec backend every subscriber forks a process per decision, and 100 of them on a 2-core
// machine queue for the CPUs (the fan-out floor); this shows what fleetban itself adds.
LogRound run_log_round(const Programs& programs, Keys& keys, const Aggregator& aggregator, const fs::path& round_dir,
                       int n, int publishes, int spacing_ms, std::uint64_t& next_address) {
  std::vector<Subscriber> subscribers =
      start_subscribers(programs, keys, aggregator, round_dir, n, "log-",
                        [](const std::string&, const fs::path&) { return std::string("backend = \"log\"\n"); });
  std::map<std::string, std::int64_t> sent;  // ip -> ns just before the send
  {
    ConnectedPublisher publisher(keys, aggregator);
    for (int k = 0; k < publishes; ++k) {
      std::string ip = doc_address(next_address++);
      sent[ip] = publisher.ban(ip);
      sleep_for(milliseconds(spacing_ms));
    }
  }
  sleep_for(milliseconds(1000));  // the last decisions' lines
  std::vector<double> latencies;
  int found = 0;
  for (auto& s : subscribers) {
    s.process->terminate(milliseconds(5000));
    std::istringstream lines(read_file(s.process->log_file()));
    std::string line;
    while (std::getline(lines, line)) {
      auto at = line.find("enforce_ban ip=");
      if (at == std::string::npos) continue;
      std::string ip = line.substr(at + 15, line.find(' ', at + 15) - (at + 15));
      auto it = sent.find(ip);
      auto when = line_time_ns(line);
      if (it == sent.end() || !when) continue;
      latencies.push_back(static_cast<double>(*when - it->second) / 1e6);
      ++found;
    }
  }
  return {.latency = summarize(latencies), .lost = n * publishes - found};
}

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int run_bench(int argc, char** argv) {
  CLI::App app{"P2: propagation from publish to every subscriber's backend"};
  Programs programs;
  programs.bench = own_directory();
  fs::path out = "p2.json";
  std::vector<int> counts{1, 10, 100};
  int publishes = 50;
  int spacing_ms = 100;
  app.add_option("--bin", programs.bin, "fleetban's programs (build/bin)")->required();
  app.add_option("--out", out, "JSON results");
  app.add_option("--subscribers", counts, "subscriber counts, e.g. 1 10 100")->delimiter(',');
  app.add_option("--publishes", publishes, "publishes per subscriber count");
  app.add_option("--spacing-ms", spacing_ms, "pause after each publish has reached everyone");
  CLI11_PARSE(app, argc, argv);
  raise_fd_limit();

  TempDir dir;
  Keys keys(programs, dir / "keys");
  keys.make("publisher");
  int max_count = *std::max_element(counts.begin(), counts.end());
  for (int i = 0; i < max_count; ++i) keys.make("sub-" + std::to_string(i));
  const std::string stamp = programs.helper("bench_stamp");

  nlohmann::json details;
  std::vector<Figure> figures;

  // The exec floor: this driver forks bench_stamp directly, as the exec backend would.
  std::vector<double> exec_floor;
  for (int i = 0; i < std::max(publishes, 20); ++i) {
    fs::path file = dir / "floor.stamps";
    Process p({stamp, file.string(), "x"}, dir / "floor.log");
    p.wait_for_exit(milliseconds(5000));
    auto text = read_file(file);
    fs::remove(file);
    exec_floor.push_back(static_cast<double>(std::stoll(text) - p.started_realtime_ns()) / 1e6);
  }
  Summary floor = summarize(exec_floor);
  details["exec_floor_ms"] = to_json(floor);

  std::uint64_t next_address = 0;

  for (int n : counts) {
    // A fresh aggregator per round: subscribers starting on the bans of earlier rounds would spend
    // their first seconds enforcing them (one exec each) and delay this round's first decisions.
    fs::path round_dir = dir / ("n" + std::to_string(n));
    Aggregator aggregator(programs, keys, round_dir / "aggregator");
    aggregator.start();
    HostToml publisher{.host_id = "publisher",
                       .aggregator = aggregator.ingest(),
                       .broadcast = aggregator.broadcast(),
                       .spool_dir = round_dir / "publisher/spool",
                       .timeout_ms = 2000,
                       .server_key = keys.public_key("aggregator"),
                       .client_key = keys.secret("publisher"),
                       .enforce = "backend = \"log\"\n"};
    const fs::path publisher_toml = round_dir / "publisher/host.toml";
    write_host_toml(publisher_toml, publisher);

    // The fan-out floor: this driver forks N bench_stamp back to back, as N hosts would each run
    // their hook; latencies from the first fork. On a 2-core machine N processes queue for the
    // CPUs, which no fleet design can avoid when N subscribers share the machine.
    std::vector<double> fanout;
    for (int rep = 0; rep < 5; ++rep) {
      fs::path file = dir / "fanout.stamps";
      std::int64_t t0 = realtime_ns();
      {
        std::vector<std::unique_ptr<Process>> children;
        for (int i = 0; i < n; ++i) {
          children.push_back(
              std::make_unique<Process>(std::vector<std::string>{stamp, file.string(), "x"}, dir / "fanout.log"));
        }
        for (auto& child : children) child->wait_for_exit(milliseconds(10'000));
      }
      std::istringstream lines(read_file(file));
      long long ns = 0;
      std::string word;
      while (lines >> ns >> word) fanout.push_back(static_cast<double>(ns - t0) / 1e6);
      fs::remove(file);
      sleep_for(milliseconds(spacing_ms));
    }
    Summary fan = summarize(fanout);

    StampFile stamps(round_dir / "stamps");
    auto started = Clock::now();
    std::vector<Subscriber> subscribers = start_subscribers(
        programs, keys, aggregator, round_dir, n, "", [&](const std::string& name, const fs::path& home) {
          return "backend = \"exec\"\nban_command = " +
                 toml_string(stamp + " " + stamps.path().string() + " <ip> " + name) +
                 "\nunban_command = " + toml_string(stamp + " " + (home / "unbans").string() + " <ip>") + "\n";
        });
    double ready_s = seconds_since(started);
    std::vector<double> latencies;
    std::vector<double> publish_wall;
    int lost = 0;
    for (int k = 0; k < publishes; ++k) {
      std::string ip = doc_address(next_address++);
      Process publish({programs.publish(), "ban", "--ip", ip, "--jail", "sshd", "--bantime", "3600", "--config",
                       publisher_toml.string()},
                      round_dir / "publisher/publish.log");
      std::int64_t t0 = publish.started_realtime_ns();
      bool exited = false;
      auto deadline = Clock::now() + std::chrono::seconds(10);
      while (Clock::now() < deadline) {
        if (!exited && !publish.running()) {
          exited = true;
          publish_wall.push_back(seconds_since(publish.started()) * 1000.0);
        }
        stamps.poll();
        if (stamps.reached(ip) == subscribers.size() && exited) break;
        sleep_for(milliseconds(2));
      }
      if (!exited) publish.terminate();
      const auto& got = stamps.stamps(ip);
      lost += n - static_cast<int>(got.size());
      for (const auto& [name, ns] : got) latencies.push_back(static_cast<double>(ns - t0) / 1e6);
      sleep_for(milliseconds(spacing_ms));
    }
    // The fleet path alone: events from an already connected client.
    std::vector<double> direct;
    int direct_lost = 0;
    {
      ConnectedPublisher publisher(keys, aggregator);
      for (int k = 0; k < publishes; ++k) {
        std::string ip = doc_address(next_address++);
        std::int64_t t0 = publisher.ban(ip);
        auto deadline = Clock::now() + std::chrono::seconds(10);
        while (Clock::now() < deadline) {
          stamps.poll();
          if (stamps.reached(ip) == subscribers.size()) break;
          sleep_for(milliseconds(2));
        }
        const auto& got = stamps.stamps(ip);
        direct_lost += n - static_cast<int>(got.size());
        for (const auto& [name, ns] : got) direct.push_back(static_cast<double>(ns - t0) / 1e6);
        sleep_for(milliseconds(spacing_ms));
      }
    }
    Summary d = summarize(direct);
    Summary s = summarize(latencies);
    Summary wall = summarize(publish_wall);
    nlohmann::json round{{"subscribers", n},
                         {"publishes", publishes},
                         {"latency_ms", to_json(s)},
                         {"publish_wall_ms", to_json(wall)},
                         {"not_reached", lost},
                         {"fanout_floor_ms", to_json(fan)},
                         {"direct_latency_ms", to_json(d)},
                         {"direct_not_reached", direct_lost},
                         {"all_ready_s", ready_s}};
    details["rounds"].push_back(round);
    std::printf(
        "P2 N=%3d  p50 %7.2f ms  p90 %7.2f  p99 %7.2f  max %7.2f  (samples %zu, lost %d; publish p50 %.2f ms; "
        "exec floor p50 %.2f ms)\n",
        n, s.p50, s.p90, s.p99, s.max, s.count, lost, wall.p50, floor.p50);
    std::printf(
        "P2 N=%3d  connected client: p50 %7.2f ms  p90 %7.2f  p99 %7.2f  max %7.2f  (lost %d); fan-out floor "
        "p50 %.2f p99 %.2f ms\n",
        n, d.p50, d.p90, d.p99, d.max, direct_lost, fan.p50, fan.p99);
    Figure f{.id = "P2.p99.N" + std::to_string(n),
             .label = "publish -> every subscriber's exec backend, p99, N=" + std::to_string(n) + " (p50 " +
                      fmt::format("{:.2f}", s.p50) + " ms)",
             .value = s.p99,
             .unit = "ms",
             .baseline_label = "publish wall time p50 + fan-out floor p99 (N forks of the hook by the driver)",
             .baseline = wall.p50 + fan.p99,
             .ratio = s.p99 / (wall.p50 + fan.p99)};
    if (n >= 100) {
      f.target = "p99 < 10 ms for 100 subscribers";
      f.met = s.p99 < 10.0 && lost == 0;
    }
    if (lost > 0) f.note = std::to_string(lost) + " deliveries missing after 10 s";
    figures.push_back(f);
    Figure direct_figure{.id = "P2.direct.p99.N" + std::to_string(n),
                         .label = "event sent by a connected client -> every subscriber's exec backend, p99, N=" +
                                  std::to_string(n) + " (p50 " + fmt::format("{:.2f}", d.p50) + " ms)",
                         .value = d.p99,
                         .unit = "ms",
                         .baseline_label = "fan-out floor p99 (N forks of the hook by the driver)",
                         .baseline = fan.p99,
                         .ratio = d.p99 / fan.p99};
    if (n >= 100) {
      direct_figure.target = "(reference: p99 < 10 ms, fleet path alone)";
      direct_figure.met = d.p99 < 10.0 && direct_lost == 0;
    }
    if (direct_lost > 0) direct_figure.note = std::to_string(direct_lost) + " deliveries missing after 10 s";
    figures.push_back(direct_figure);
    // Anything a subscriber complained about (missed heartbeats, sequence gaps, failed snapshots)
    // explains an outlier.
    std::size_t warnings = 0;
    nlohmann::json samples = nlohmann::json::array();
    for (auto& sub : subscribers) {
      sub.process->terminate(milliseconds(5000));
      std::istringstream lines(read_file(sub.process->log_file()));
      std::string line;
      while (std::getline(lines, line)) {
        if (line.find(" warning: ") == std::string::npos && line.find(" error: ") == std::string::npos) continue;
        ++warnings;
        if (samples.size() < 5) samples.push_back(sub.name + ": " + line);
      }
    }
    LogRound logged = run_log_round(programs, keys, aggregator, round_dir, n, publishes, spacing_ms, next_address);
    details["rounds"].back()["log_backend_latency_ms"] = to_json(logged.latency);
    details["rounds"].back()["log_backend_not_reached"] = logged.lost;
    std::printf("P2 N=%3d  log backend, connected client: p50 %7.2f ms  p99 %7.2f  max %7.2f  (lost %d)\n", n,
                logged.latency.p50, logged.latency.p99, logged.latency.max, logged.lost);
    Figure log_figure{.id = "P2.log.p99.N" + std::to_string(n),
                      .label = "event sent by a connected client -> every subscriber's log backend line, p99, N=" +
                               std::to_string(n) + " (p50 " + fmt::format("{:.2f}", logged.latency.p50) +
                               " ms; to the end of the line's millisecond)",
                      .value = logged.latency.p99,
                      .unit = "ms",
                      .baseline_label = "the same with the exec backend (p99, above)",
                      .baseline = d.p99,
                      .ratio = logged.latency.p99 / d.p99};
    if (n >= 100) {
      log_figure.target = "p99 < 10 ms for 100 subscribers (fleet path, no process per decision)";
      log_figure.met = logged.latency.p99 < 10.0 && logged.lost == 0;
    }
    if (logged.lost > 0) log_figure.note = std::to_string(logged.lost) + " deliveries missing after 1 s";
    details["rounds"].back()["subscriber_warnings"] = warnings;
    details["rounds"].back()["subscriber_warning_samples"] = samples;
    if (warnings > 0) {
      figures[figures.size() - 2].note += (figures[figures.size() - 2].note.empty() ? "" : "; ") +
                                          std::to_string(warnings) + " subscriber warnings (see details)";
    }
    figures.push_back(log_figure);
  }
  details["exec_floor_note"] = "fork+exec of bench_stamp by the driver, to its CLOCK_REALTIME stamp";
  write_results(out, figures, details);
  return 0;
}

}  // namespace
}  // namespace fleetban::bench

int main(int argc, char** argv) {
  return fleetban::bench::run_driver("bench_propagation", fleetban::bench::run_bench, argc, argv);
}
