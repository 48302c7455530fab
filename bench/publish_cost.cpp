// bench_publish_cost (P1): the whole-process wall time of one `fleetban-publish ban`, beside
// /bin/true, a minimal one-shot libzmq CURVE client sending a valid event to the same aggregator
// (bench_minimal_client), and `fail2ban-client ping` to a sandboxed fail2ban-server; and the
// publish with the aggregator down, in its steady state (the first publish probes and marks the
// aggregator unreachable, the next ones go straight to the spool).
//
// Timing: hyperfine (-N, warmup, --export-json) when it is on PATH, else a fork/exec/wait timer.
// The commands run in rounds, in alternating order, so a drift in the machine's load spreads over
// all of them; the figures are medians over every timed run.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include "bench/bench_support.hpp"
#include "bench/fail2ban_sandbox.hpp"
#include "common/codec.hpp"
#include "common/ip_prefix.hpp"

namespace fleetban::bench {
namespace {

struct Command {
  std::string name;
  std::vector<std::string> argv;
};

struct Timing {
  double wall = 0;  // seconds
  double cpu = 0;   // user + system seconds
};

// One timed run, fork to reap, output to /dev/null.
Timing time_once(const std::vector<std::string>& argv) {
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  auto started = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (interrupted()) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw Interrupted();
    }
  }
  double seconds = seconds_since(started);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("command failed: " + argv[0]);
  double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  return {seconds, cpu};
}

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& a : argv) {
    if (a.find_first_of(" \t'\"\\") != std::string::npos) throw std::runtime_error("argument with spaces: " + a);
    text += (text.empty() ? "" : " ") + a;
  }
  return text;
}

// Appends each command's run times (seconds) to times[name], and its CPU seconds (user + system,
// per run, or hyperfine's mean per round) to cpu[name].
void time_round(const std::vector<Command>& commands, int warmup, int runs, bool use_hyperfine, const fs::path& dir,
                int round, std::map<std::string, std::vector<double>>& times,
                std::map<std::string, std::vector<double>>& cpu) {
  if (use_hyperfine) {
    fs::path json = dir / ("hyperfine-" + std::to_string(round) + ".json");
    std::vector<std::string> argv{*find_program("hyperfine"),
                                  "-N",
                                  "--style",
                                  "basic",
                                  "--warmup",
                                  std::to_string(warmup),
                                  "--runs",
                                  std::to_string(runs),
                                  "--export-json",
                                  json.string()};
    for (const auto& c : commands) {
      argv.insert(argv.end(), {"-n", c.name, joined(c.argv)});
    }
    auto result = run(argv, milliseconds(3'600'000));
    write_file(dir / ("hyperfine-" + std::to_string(round) + ".log"), result.out + result.err);
    if (result.exit_code != 0) throw std::runtime_error("hyperfine failed:\n" + result.out + result.err);
    auto doc = nlohmann::json::parse(read_file(json));
    for (const auto& r : doc["results"]) {
      auto name = r["command"].get<std::string>();
      auto& out = times[name];
      for (const auto& t : r["times"]) out.push_back(t.get<double>());
      cpu[name].push_back(r["user"].get<double>() + r["system"].get<double>());
    }
    return;
  }
  for (const auto& c : commands) {
    for (int i = 0; i < warmup; ++i) time_once(c.argv);
    for (int i = 0; i < runs; ++i) {
      Timing t = time_once(c.argv);
      times[c.name].push_back(t.wall);
      cpu[c.name].push_back(t.cpu);
    }
  }
}

int run_bench(int argc, char** argv) {
  CLI::App app{"P1: the cost of one fleetban-publish"};
  Programs programs;
  programs.bench = own_directory();
  fs::path out = "p1.json";
  int runs = 100, warmup = 5, rounds = 2;
  bool no_hyperfine = false;
  app.add_option("--bin", programs.bin, "fleetban's programs (build/bin)")->required();
  app.add_option("--out", out, "JSON results");
  app.add_option("--runs", runs, "timed runs per command and round");
  app.add_option("--warmup", warmup, "untimed runs per command and round (at least 1: the spool probe)");
  app.add_option("--rounds", rounds, "rounds, in alternating command order");
  app.add_flag("--no-hyperfine", no_hyperfine, "time with the built-in fork/exec timer");
  CLI11_PARSE(app, argc, argv);
  warmup = std::max(warmup, 1);

  TempDir dir;
  Keys keys(programs, dir / "keys");
  Aggregator aggregator(programs, keys, dir / "aggregator");
  keys.make("bench-host");
  double aggregator_start = aggregator.start();

  HostToml host{.host_id = "bench-host",
                .aggregator = aggregator.ingest(),
                .broadcast = aggregator.broadcast(),
                .spool_dir = dir / "spool-up",
                .timeout_ms = 500,
                .server_key = keys.public_key("aggregator"),
                .client_key = keys.secret("bench-host"),
                .enforce = "backend = \"log\"\n"};
  write_host_toml(dir / "host.toml", host);
  // The aggregator down: a port where nothing listens.
  HostToml down = host;
  std::uint16_t dead_port = free_tcp_port();
  down.aggregator = "tcp://127.0.0.1:" + std::to_string(dead_port);
  down.broadcast = down.aggregator;
  down.spool_dir = dir / "spool-down";
  write_host_toml(dir / "host-down.toml", down);

  // The minimal client's frame: a valid event whose id it replaces with random bytes each run.
  common::Event event;
  event.id.fill(0xA5);
  event.kind = common::EventKind::ban;
  event.prefix = *common::IpPrefix::parse("192.0.2.10");
  event.jail = "sshd";
  event.host_id = "bench-host";
  event.bantime = std::chrono::seconds(600);
  event.time = common::now_ms();
  event.created = event.time;
  write_file(dir / "event.bin", common::encode(common::Request{event}));

  const std::string minimal = programs.helper("bench_minimal_client");
  std::vector<std::string> minimal_argv{minimal, aggregator.ingest(), keys.public_key("aggregator").string(),
                                        keys.secret("bench-host").string(), (dir / "event.bin").string()};
  // Check once that the floor is fair: the aggregator must apply the minimal client's event.
  {
    auto check = minimal_argv;
    check.push_back("--dump");
    auto result = run_checked(check, milliseconds(10'000));
    auto reply = common::decode_reply(result.out);
    auto* ack = reply ? std::get_if<common::Ack>(&*reply) : nullptr;
    if (ack == nullptr || ack->outcome != common::AckOutcome::applied) {
      throw std::runtime_error("the minimal client's event was not applied by the aggregator");
    }
  }

  std::vector<Command> commands{
      {"true", {"/bin/true"}},
      {"minimal_client", minimal_argv},
      {"publish",
       {programs.publish(), "ban", "--ip", "192.0.2.10", "--jail", "sshd", "--bantime", "600", "--config",
        (dir / "host.toml").string()}},
      {"publish_spool",
       {programs.publish(), "ban", "--ip", "192.0.2.11", "--jail", "sshd", "--bantime", "600", "--config",
        (dir / "host-down.toml").string()}},
  };
  std::unique_ptr<Fail2banSandbox> f2b;
  double f2b_start = 0;
  if (Fail2banSandbox::available()) {
    f2b = std::make_unique<Fail2banSandbox>(dir / "f2b");
    f2b_start = f2b->start();
    auto ping = f2b->client();
    ping.push_back("ping");
    commands.push_back({"fail2ban_ping", ping});
  }

  bool use_hyperfine = !no_hyperfine && find_program("hyperfine").has_value();
  std::map<std::string, std::vector<double>> times, cpu;
  for (int round = 0; round < rounds; ++round) {
    auto ordered = commands;
    if (round % 2 == 1) std::reverse(ordered.begin(), ordered.end());
    time_round(ordered, warmup, runs, use_hyperfine, dir.path(), round, times, cpu);
  }

  // Every "publish" run must have been acked, not spooled; every "publish_spool" run spooled.
  std::size_t spooled_up = 0, spooled_down = 0;
  for (auto& e : fs::recursive_directory_iterator(dir / "spool-up")) spooled_up += e.is_regular_file() ? 1 : 0;
  for (auto& e : fs::recursive_directory_iterator(dir / "spool-down")) spooled_down += e.is_regular_file() ? 1 : 0;

  std::map<std::string, Summary> ms;
  nlohmann::json details;
  for (auto& [name, list] : times) {
    std::vector<double> in_ms;
    for (double t : list) in_ms.push_back(t * 1000.0);
    ms[name] = summarize(in_ms);
    details["commands_ms"][name] = to_json(ms[name]);
  }
  std::map<std::string, double> cpu_ms;
  for (auto& [name, list] : cpu) {
    double sum = 0;
    for (double c : list) sum += c;
    cpu_ms[name] = list.empty() ? 0.0 : sum / static_cast<double>(list.size()) * 1000.0;
    details["cpu_ms_mean"][name] = cpu_ms[name];
  }
  details["timer"] = use_hyperfine ? "hyperfine -N" : "fork/exec/wait";
  details["runs_per_command"] = runs * rounds;
  details["warmup_per_round"] = warmup;
  details["aggregator_start_s"] = aggregator_start;
  details["fail2ban_server_start_s"] = f2b_start;
  details["spool_files_aggregator_up"] = spooled_up;
  details["spool_files_aggregator_down"] = spooled_down;
  for (const auto& c : commands) details["argv"][c.name] = joined(c.argv);

  std::vector<Figure> figures;
  double publish = ms["publish"].p50;
  double floor = ms["minimal_client"].p50;
  Figure p1{.id = "P1.publish",
            .label = "fleetban-publish ban, aggregator up (median wall time)",
            .value = publish,
            .unit = "ms",
            .baseline_label = "minimal libzmq CURVE client, same event, same aggregator",
            .baseline = floor,
            .ratio = publish / floor,
            .target = "<= 1.5x the minimal client",
            .met = publish / floor <= 1.5};
  if (spooled_up != 0) {
    p1.met = false;
    p1.note = std::to_string(spooled_up) + " publishes were spooled instead of acked: figure invalid";
  }
  figures.push_back(p1);
  // CPU time is far less sensitive to the other load on a shared machine than wall time.
  figures.push_back({.id = "P1.publish_cpu",
                     .label = "fleetban-publish ban, aggregator up: user+system CPU (mean)",
                     .value = cpu_ms["publish"],
                     .unit = "ms",
                     .baseline_label = "minimal client, user+system CPU",
                     .baseline = cpu_ms["minimal_client"],
                     .ratio = cpu_ms["publish"] / cpu_ms["minimal_client"],
                     .target = "(reference: 1.5x, for CPU)",
                     .met = cpu_ms["publish"] / cpu_ms["minimal_client"] <= 1.5});
  figures.push_back({.id = "P1.publish_vs_true",
                     .label = "fleetban-publish ban, aggregator up",
                     .value = publish,
                     .unit = "ms",
                     .baseline_label = "/bin/true (process start floor)",
                     .baseline = ms["true"].p50,
                     .ratio = publish / ms["true"].p50});
  figures.push_back({.id = "P1.minimal_vs_true",
                     .label = "minimal libzmq CURVE client",
                     .value = floor,
                     .unit = "ms",
                     .baseline_label = "/bin/true",
                     .baseline = ms["true"].p50,
                     .ratio = floor / ms["true"].p50});
  Figure spool{.id = "P1.spool",
               .label = "fleetban-publish ban, aggregator down, steady state (spool fast path)",
               .value = ms["publish_spool"].p50,
               .unit = "ms",
               .baseline_label = "minimal libzmq CURVE client (aggregator up)",
               .baseline = floor,
               .ratio = ms["publish_spool"].p50 / floor};
  if (spooled_down == 0) spool.note = "nothing was spooled: figure invalid";
  figures.push_back(spool);
  if (times.contains("fail2ban_ping")) {
    double ping = ms["fail2ban_ping"].p50;
    figures.push_back({.id = "P1.publish_vs_f2b",
                       .label = "fleetban-publish ban, aggregator up",
                       .value = publish,
                       .unit = "ms",
                       .baseline_label = "fail2ban-client ping (sandboxed fail2ban-server)",
                       .baseline = ping,
                       .ratio = publish / ping});
  }
  write_results(out, figures, details);
  for (const auto& [name, s] : ms) {
    std::printf("P1 %-16s median %8.3f ms  p90 %8.3f  min %8.3f  max %8.3f  (n=%zu)\n", name.c_str(), s.p50, s.p90,
                s.min, s.max, s.count);
  }
  return 0;
}

}  // namespace
}  // namespace fleetban::bench

int main(int argc, char** argv) {
  return fleetban::bench::run_driver("bench_publish_cost", fleetban::bench::run_bench, argc, argv);
}
