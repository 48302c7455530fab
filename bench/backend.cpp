// bench_backend (P5): what it costs a subscriber to enforce fleet decisions through a backend.
//
// fail2ban backend, into the jail `fleetban` of a sandboxed fail2ban-server (no firewall action):
//   - snapshot path: the aggregator holds D bans (default 1,000) when the subscriber starts; its
//     reconcile bans them in batched `fail2ban-client set fleetban banip a b c ...` calls. Timed
//     from the subscriber's "snapshot" log line to its last "fail2ban_banip" line (log timestamps).
//   - live path: L new bans (default 100) published while it follows the broadcast; timed from the
//     first event sent to the last address banned, and scaled to D.
// Baselines in the same run: L separate `fail2ban-client set fleetban banip ADDR` calls (one per
// address, as a naive integration would do), scaled to D; and the raw batched calls alone (D
// addresses, 500 per call) without fleetban.
//
// nftables backend: its batched ban() against one `nft add element` per address, in a network
// namespace of its own (measure_nftables() below).

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <regex>
#include <sstream>

#include "bench/bench_support.hpp"
#include "bench/event_load.hpp"
#include "bench/fail2ban_sandbox.hpp"
#include "subscriber/command.hpp"
#include "subscriber/nftables_backend.hpp"

namespace fleetban::bench {
namespace {

constexpr std::size_t kClientBatch = 500;  // what subscriber/fail2ban_backend.cpp sends per call

// Seconds of the day of a log line "2025-01-31T12:34:56.789 ...", or nullopt.
std::optional<double> log_time(const std::string& line) {
  int h = 0, m = 0, s = 0, ms = 0;
  if (line.size() < 23 || std::sscanf(line.c_str() + 11, "%2d:%2d:%2d.%3d", &h, &m, &s, &ms) != 4) return std::nullopt;
  return h * 3600.0 + m * 60.0 + s + ms / 1000.0;
}

double interval(double from, double to) { return to >= from ? to - from : to + 86'400.0 - from; }

// What a subscriber log says so far.
struct SubscriberLog {
  std::optional<double> snapshot_at;  // log time of the first "snapshot sequence="
  std::size_t banned = 0;             // addresses in "fail2ban_banip ... addresses=N" lines
  std::optional<double> last_ban_at;
  std::size_t ban_calls = 0;
};

SubscriberLog read_subscriber_log(const fs::path& file) {
  SubscriberLog log;
  std::istringstream lines(read_file(file));
  std::string line;
  static const std::regex banip("fail2ban_banip .*addresses=([0-9]+)");
  while (std::getline(lines, line)) {
    if (!log.snapshot_at && line.find("snapshot sequence=") != std::string::npos) log.snapshot_at = log_time(line);
    std::smatch match;
    if (std::regex_search(line, match, banip)) {
      log.banned += std::stoul(match[1].str());
      log.last_ban_at = log_time(line);
      ++log.ban_calls;
    }
  }
  return log;
}

// Bans addresses with `set fleetban banip` in calls of `batch`; returns the seconds it took.
double ban_with_client(const Fail2banSandbox& f2b, const std::vector<std::string>& addresses, std::size_t batch) {
  auto started = Clock::now();
  for (std::size_t i = 0; i < addresses.size(); i += batch) {
    auto argv = f2b.client();
    argv.insert(argv.end(), {"set", Fail2banSandbox::kJail, "banip"});
    for (std::size_t j = i; j < std::min(addresses.size(), i + batch); ++j) argv.push_back(addresses[j]);
    run_checked(argv, milliseconds(120'000));
  }
  return seconds_since(started);
}

void unban_all(const Fail2banSandbox& f2b, const std::vector<std::string>& addresses) {
  for (std::size_t i = 0; i < addresses.size(); i += kClientBatch) {
    auto argv = f2b.client();
    argv.insert(argv.end(), {"set", Fail2banSandbox::kJail, "unbanip"});
    for (std::size_t j = i; j < std::min(addresses.size(), i + kClientBatch); ++j) argv.push_back(addresses[j]);
    run_checked(argv, milliseconds(120'000));
  }
}

// nftables (P5): the backend's own batched `ban()` (one nft transaction for all D decisions) against
// one `nft add element` call per address (P timed, scaled to D), both inside a network namespace
// made for the purpose in a child process, so the machine's own ruleset is never touched. Skipped
// (no figures) where a namespace cannot be made (not root).
struct NftTimes {
  double batch_s = 0;        // ban() of D decisions
  double per_address_s = 0;  // one `nft add element` call, mean
};

std::optional<NftTimes> time_nftables_in_namespace(std::size_t decisions, std::size_t per_address) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return std::nullopt;
  pid_t child = fork();
  if (child < 0) return std::nullopt;
  if (child == 0) {
    close(pipe_fds[0]);
    if (unshare(CLONE_NEWNET) != 0) _exit(77);
    try {
      common::EnforceConfig config;
      config.backend = common::BackendKind::nftables;
      config.nft_table = *common::NftTable::parse("inet fleetban_bench");
      auto backend = subscriber::NftablesBackend::from_config(config);
      backend->setup();
      auto now = common::now_seconds();
      std::vector<common::Decision> bans;
      for (std::size_t i = 0; i < decisions; ++i) {
        common::Decision d;
        d.prefix = *common::IpPrefix::parse(bench_address(i));
        d.active = true;
        d.banned_at = now;
        d.expires_at = now + std::chrono::seconds(3600);
        d.reporters = {"bench"};
        d.jails = {"sshd"};
        bans.push_back(std::move(d));
      }
      NftTimes times;
      auto started = std::chrono::steady_clock::now();
      if (!backend->ban(bans).empty()) _exit(3);
      times.batch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const char* nft = std::getenv("FLEETBAN_NFT");
      started = std::chrono::steady_clock::now();
      for (std::size_t i = 0; i < per_address; ++i) {
        std::string address = bench_address(decisions + i);
        std::string set = address.find(':') != std::string::npos ? "v6" : "v4";
        auto result = subscriber::run_command({nft != nullptr ? nft : "nft", "add", "element", "inet", "fleetban_bench",
                                               set, "{ " + address + " timeout 3600s }"},
                                              std::chrono::seconds(10));
        if (result.exit_code != 0) _exit(4);
      }
      times.per_address_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() / double(per_address);
      backend->cleanup();
      if (write(pipe_fds[1], &times, sizeof times) != static_cast<ssize_t>(sizeof times)) _exit(5);
      _exit(0);
    } catch (...) {
      _exit(6);
    }
  }
  close(pipe_fds[1]);
  NftTimes times;
  ssize_t got = read(pipe_fds[0], &times, sizeof times);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got != static_cast<ssize_t>(sizeof times) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return times;
}

nlohmann::json measure_nftables(std::size_t decisions, std::size_t per_address, std::vector<Figure>& figures) {
  auto times = time_nftables_in_namespace(decisions, per_address);
  if (!times) {
    return {{"status", "skipped: no network namespace here (needs root), or nft is missing or failed"}};
  }
  double rate = double(decisions) / times->batch_s;
  double baseline = 1.0 / times->per_address_s;
  figures.push_back(
      {.id = "P5.nftables.batch",
       .label = "nftables backend applies " + std::to_string(decisions) +
                " decisions in one ban() (one nft transaction), in a namespace",
       .value = rate,
       .unit = "decisions/s",
       .baseline_label = "one `nft add element` call per address (" + std::to_string(per_address) + " timed)",
       .baseline = baseline,
       .ratio = rate / baseline,
       .target = ">= 50,000 decisions/s",
       .met = rate >= 50'000});
  std::printf("P5 nftables: %zu decisions in %.3f s (%.0f/s); one nft call per address: %.1f ms\n", decisions,
              times->batch_s, rate, times->per_address_s * 1000);
  return {{"status", "measured"}, {"batch_s", times->batch_s}, {"per_address_s", times->per_address_s}};
}

int run_bench(int argc, char** argv) {
  CLI::App app{"P5: enforcing decisions through the fail2ban backend"};
  Programs programs;
  programs.bench = own_directory();
  fs::path out = "p5.json";
  std::size_t decisions = 1000, per_address = 100, live = 100;
  app.add_option("--bin", programs.bin, "fleetban's programs (build/bin)")->required();
  app.add_option("--out", out, "JSON results");
  app.add_option("--decisions", decisions, "bans the subscriber applies from its snapshot");
  app.add_option("--per-address", per_address, "separate fail2ban-client calls timed (scaled to --decisions)");
  app.add_option("--live", live, "bans applied from the broadcast (scaled to --decisions)");
  CLI11_PARSE(app, argc, argv);

  nlohmann::json details;
  std::vector<Figure> nft_figures;
  details["nftables"] = measure_nftables(std::max<std::size_t>(decisions, 10'000), per_address, nft_figures);
  if (!Fail2banSandbox::available()) {
    details["fail2ban"] = {{"status", "skipped: fail2ban-server/fail2ban-client not installed"}};
    write_results(out, nft_figures, details);
    std::printf("P5 fail2ban skipped: fail2ban is not installed\n");
    return 0;
  }

  TempDir dir;
  Fail2banSandbox f2b(dir / "f2b");
  f2b.start();

  // Baseline 1: one fail2ban-client call per address.
  std::vector<std::string> single;
  for (std::size_t i = 0; i < per_address; ++i) single.push_back(doc_address(i));
  double single_s = ban_with_client(f2b, single, 1);
  double per_call = single_s / static_cast<double>(per_address);
  unban_all(f2b, single);
  // Baseline 2: the raw batched calls, without fleetban.
  std::vector<std::string> raw;
  for (std::size_t i = 0; i < decisions; ++i) raw.push_back(bench_address(10'000'000 + i));
  double raw_batched_s = ban_with_client(f2b, raw, kClientBatch);
  unban_all(f2b, raw);
  auto left = f2b.banned_count();
  if (!left || *left != 0) throw std::runtime_error("the jail is not empty after the baselines");

  // The subscriber, over a loaded aggregator.
  Keys keys(programs, dir / "keys");
  Aggregator aggregator(programs, keys, dir / "aggregator");
  keys.make("f2b-host");
  keys.make("load-0");
  aggregator.start();
  LoadOptions load;
  load.endpoint = aggregator.ingest();
  load.server_public = Keys::z85(keys.public_key("aggregator"));
  load.clients.push_back({"load-0", Keys::z85(keys.public_key("load-0")), Keys::z85(keys.secret("load-0"))});
  load.count = decisions;
  load.window = 256;
  LoadResult loaded = run_event_load(load);
  if (loaded.applied != decisions) throw std::runtime_error("loading failed: " + loaded.to_json().dump());

  HostToml host{.host_id = "f2b-host",
                .aggregator = aggregator.ingest(),
                .broadcast = aggregator.broadcast(),
                .spool_dir = dir / "f2b-host/spool",
                .timeout_ms = 2000,
                .server_key = keys.public_key("aggregator"),
                .client_key = keys.secret("f2b-host"),
                .enforce = "backend = \"fail2ban\"\njail = \"fleetban\"\nfail2ban_client = " +
                           toml_string(f2b.client_command()) + "\n"};
  write_host_toml(dir / "f2b-host/host.toml", host);
  Process subscriber({programs.subscriber(), "--config", (dir / "f2b-host/host.toml").string()},
                     dir / "f2b-host/subscriber.log");
  auto started = Clock::now();
  SubscriberLog log;
  while (true) {
    log = read_subscriber_log(subscriber.log_file());
    if (log.banned >= decisions) break;
    if (!subscriber.running()) throw std::runtime_error("subscriber exited:\n" + read_file(subscriber.log_file()));
    if (seconds_since(started) > 600) throw std::runtime_error("the subscriber did not ban everything in 600 s");
    sleep_for(milliseconds(20));
  }
  if (!log.snapshot_at || !log.last_ban_at) throw std::runtime_error("subscriber log without timestamps");
  double snapshot_apply_s = interval(*log.snapshot_at, *log.last_ban_at);
  std::size_t snapshot_calls = log.ban_calls;
  auto in_jail = f2b.banned_count();

  // Live path: new bans while it follows the broadcast.
  load.count = live;
  load.first_index = loaded.end_index;
  load.window = static_cast<unsigned>(std::max<std::size_t>(live, 1));
  auto live_started = Clock::now();
  LoadResult pushed = run_event_load(load);
  if (pushed.applied != live) throw std::runtime_error("live load failed: " + pushed.to_json().dump());
  while (true) {
    log = read_subscriber_log(subscriber.log_file());
    if (log.banned >= decisions + live) break;
    if (!subscriber.running()) throw std::runtime_error("subscriber exited:\n" + read_file(subscriber.log_file()));
    if (seconds_since(live_started) > 60.0 + 2.0 * static_cast<double>(live)) {
      throw std::runtime_error("the live bans did not all reach the jail");
    }
    sleep_for(milliseconds(10));
  }
  double live_s = seconds_since(live_started);
  std::size_t live_calls = log.ban_calls - snapshot_calls;
  auto in_jail_after = f2b.banned_count();
  subscriber.terminate();

  double scale = static_cast<double>(decisions);
  double per_address_total = per_call * scale;
  double live_scaled = live_s / static_cast<double>(live) * scale;
  details["fail2ban"] = {
      {"decisions", decisions},
      {"snapshot_apply_s", snapshot_apply_s},
      {"snapshot_ban_calls", snapshot_calls},
      {"in_jail_after_snapshot", in_jail ? nlohmann::json(*in_jail) : nlohmann::json(nullptr)},
      {"live", live},
      {"live_s", live_s},
      {"live_ban_calls", live_calls},
      {"in_jail_after_live", in_jail_after ? nlohmann::json(*in_jail_after) : nlohmann::json(nullptr)},
      {"per_address_calls", per_address},
      {"per_address_s", single_s},
      {"per_call_s", per_call},
      {"raw_batched_s", raw_batched_s},
      {"jail_action",
       "none (Fail2Ban bookkeeping only; a firewall action would add the same per-address cost to "
       "every arm)"}};
  std::printf(
      "P5 fail2ban: snapshot %zu bans in %.3f s (%zu calls); live %zu bans in %.3f s (%zu calls); "
      "one call per address %.3f s each; raw batched %zu in %.3f s\n",
      decisions, snapshot_apply_s, snapshot_calls, live, live_s, live_calls, per_call, decisions, raw_batched_s);

  std::string d = std::to_string(decisions);
  std::vector<Figure> figures = nft_figures;
  Figure snap{.id = "P5.fail2ban.snapshot",
              .label = "subscriber applies " + d + " decisions from a snapshot (batched banip)",
              .value = snapshot_apply_s,
              .unit = "s",
              .baseline_label = d + " separate `fail2ban-client set J banip ADDR` (" + std::to_string(per_address) +
                                " timed, scaled)",
              .baseline = per_address_total,
              .ratio = snapshot_apply_s / per_address_total,
              .target = "<= 0.5x one call per address",
              .met = snapshot_apply_s <= 0.5 * per_address_total};
  if (!in_jail || *in_jail != decisions) snap.note = "the jail did not hold every ban";
  figures.push_back(snap);
  Figure live_figure{
      .id = "P5.fail2ban.live",
      .label =
          "subscriber applies decisions from the broadcast (" + std::to_string(live) + " timed, scaled to " + d + ")",
      .value = live_scaled,
      .unit = "s",
      .baseline_label = "same per-address client calls, scaled",
      .baseline = per_address_total,
      .ratio = live_scaled / per_address_total,
      .target = "<= 0.5x one call per address",
      .met = live_scaled <= 0.5 * per_address_total,
      .note = std::to_string(live_calls) + " fail2ban-client calls for " + std::to_string(live) + " decisions"};
  figures.push_back(live_figure);
  figures.push_back({.id = "P5.fail2ban.raw_batched",
                     .label = "raw batched fail2ban-client calls for " + d + " addresses (no fleetban)",
                     .value = raw_batched_s,
                     .unit = "s",
                     .baseline_label = "per-address calls, scaled",
                     .baseline = per_address_total,
                     .ratio = raw_batched_s / per_address_total});
  write_results(out, figures, details);
  return 0;
}

}  // namespace
}  // namespace fleetban::bench

int main(int argc, char** argv) {
  return fleetban::bench::run_driver("bench_backend", fleetban::bench::run_bench, argc, argv);
}
