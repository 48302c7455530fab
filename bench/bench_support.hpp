#pragma once
// What every benchmark driver needs: a temp dir, free ports, child processes that are always
// stopped (on every path, SIGINT/SIGTERM included), CURVE keys made with `fleetban keygen`, the
// configs of an aggregator and of hosts, timing and percentiles, and the JSON each driver writes.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fleetban::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Thrown from every wait once SIGINT/SIGTERM/SIGHUP arrived, so RAII stops what was started.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// Installs the handlers: they forward SIGTERM to every child process group still running and set
// a flag that the next wait turns into Interrupted.
void install_signal_handlers();

// Every driver's main: installs the signal handlers and runs `body`, turning Interrupted into exit
// 130 and any other exception into one line on stderr and exit 1.
int run_driver(const char* name, int (*body)(int, char**), int argc, char** argv);
bool interrupted();
void check_interrupted();
// Sleeps in small steps, throwing Interrupted when a signal arrives.
void sleep_for(milliseconds duration);

std::int64_t realtime_ns();  // CLOCK_REALTIME: comparable across processes (bench_stamp writes it)
double seconds_since(Clock::time_point start);

// A fresh short directory under /tmp (Unix socket paths must stay under 108 bytes), removed with
// everything in it unless FLEETBAN_BENCH_KEEP=1.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::uint16_t free_tcp_port();
void write_file(const fs::path& file, const std::string& content);
std::string read_file(const fs::path& file);
std::string toml_string(const std::string& text);

// A child in a process group of its own, stdout+stderr appended to log_file, stdin /dev/null.
// The destructor stops it (SIGTERM, then SIGKILL to its group) and reaps it.
class Process {
 public:
  Process(std::vector<std::string> argv, fs::path log_file, std::vector<std::string> extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const fs::path& log_file() const { return log_file_; }
  // Clock::now() taken just before fork.
  Clock::time_point started() const { return started_; }
  std::int64_t started_realtime_ns() const { return started_realtime_ns_; }
  bool running();
  // Exit code (128+N for signal N), or nullopt if still running after timeout.
  std::optional<int> wait_for_exit(milliseconds timeout);
  int terminate(milliseconds grace = milliseconds(10'000));

 private:
  std::vector<std::string> argv_;
  fs::path log_file_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  Clock::time_point started_;
  std::int64_t started_realtime_ns_ = 0;
};

struct RunResult {
  int exit_code = -1;  // -1: killed at the timeout
  std::string out;     // stdout (stderr goes to err)
  std::string err;
  double seconds = 0;      // wall time from just before fork to reaping
  double cpu_seconds = 0;  // user + system CPU of the command (and its waited-for children)
};

// Runs a one-shot command to its end (or kills it at the timeout). stdout goes to out, or to the
// file stdout_file when given (large documents).
RunResult run(const std::vector<std::string>& argv, milliseconds timeout = milliseconds(60'000),
              const std::optional<fs::path>& stdout_file = std::nullopt);
// As run(), but throws std::runtime_error with the output when it does not exit 0.
RunResult run_checked(const std::vector<std::string>& argv, milliseconds timeout = milliseconds(60'000));

// Where the programs are: fleetban's (build/bin) and the bench helpers (build/bench).
struct Programs {
  fs::path bin;
  fs::path bench;
  std::string fleetban() const { return (bin / "fleetban").string(); }
  std::string publish() const { return (bin / "fleetban-publish").string(); }
  std::string aggregator() const { return (bin / "fleetban-aggregator").string(); }
  std::string subscriber() const { return (bin / "fleetban-subscriber").string(); }
  std::string helper(const std::string& name) const { return (bench / name).string(); }
};
// The bench helpers' directory: the one holding this executable.
fs::path own_directory();

// CURVE keys made with `fleetban keygen`, and the aggregator's authorized_dir.
class Keys {
 public:
  Keys(const Programs& programs, fs::path dir);
  // NAME.key/NAME.pub; `authorize` copies NAME.pub into authorized_dir (a host key).
  void make(const std::string& name, bool authorize = true);
  fs::path secret(const std::string& name) const { return dir_ / (name + ".key"); }
  fs::path public_key(const std::string& name) const { return dir_ / (name + ".pub"); }
  const fs::path& authorized_dir() const { return authorized_; }
  // The Z85 text of a key file.
  static std::string z85(const fs::path& file);

 private:
  const Programs& programs_;
  fs::path dir_;
  fs::path authorized_;
};

// One aggregator with CURVE on loopback: ports, aggregator.toml, state.db, its process.
class Aggregator {
 public:
  // Makes the "aggregator" key in keys. policy_extra: more lines under [policy]. state: a
  // PostgreSQL URL (postgresql://...), or "" for state.db in dir.
  Aggregator(const Programs& programs, Keys& keys, fs::path dir, std::string policy_extra = "", bool http = false,
             const std::string& state = "");
  ~Aggregator();

  std::string ingest() const { return "tcp://127.0.0.1:" + std::to_string(ingest_port_); }
  std::string broadcast() const { return "tcp://127.0.0.1:" + std::to_string(broadcast_port_); }
  std::uint16_t http_port() const { return http_port_; }  // 0 without http
  const fs::path& state_db() const { return state_; }     // state.db, or the URL
  const fs::path& dir() const { return dir_; }

  // Starts it and waits until a status request is answered; returns the seconds that took
  // (from just before fork). Throws if it exits or does not answer within timeout.
  double start(milliseconds timeout = milliseconds(120'000));
  // SIGTERM and wait; returns the seconds it took to exit.
  double stop();
  pid_t pid() const;
  bool running() const { return process_ != nullptr; }
  std::string log() const;

  // Environment for the next start(), e.g. {"SPDLOG_LEVEL=debug"} for the per-decision trace lines.
  void set_env(std::vector<std::string> env) { env_ = std::move(env); }

  // Keys for the status poll (any authorized key).
  void set_probe_key(const std::string& name) { probe_key_ = name; }

 private:
  const Programs& programs_;
  Keys& keys_;
  fs::path dir_;
  fs::path config_;
  fs::path state_;
  std::uint16_t ingest_port_;
  std::uint16_t broadcast_port_;
  std::uint16_t http_port_ = 0;
  std::unique_ptr<Process> process_;
  int starts_ = 0;
  std::string probe_key_;
  std::vector<std::string> env_;
};

// Waits until the aggregator or relay at `endpoint` answers a StatusRequest (over a DEALER that
// reconnects every 10 ms, asking again every second); returns the status's active_bans, or
// nullopt at the timeout.
std::optional<std::uint64_t> wait_for_status(const std::string& endpoint, const fs::path& server_public,
                                             const fs::path& client_secret, milliseconds timeout,
                                             const Process* watched = nullptr);

struct HostToml {
  std::string host_id;
  std::string aggregator;
  std::string broadcast;
  fs::path spool_dir;
  int timeout_ms = 500;
  fs::path server_key;
  fs::path client_key;
  std::string enforce;  // lines of the [enforce] table
};
void write_host_toml(const fs::path& file, const HostToml& host);

// VmRSS / VmHWM of a process, in kB (0 if unreadable).
std::uint64_t status_kb(pid_t pid, const std::string& field);
std::uint64_t file_size_or_zero(const fs::path& file);
// User + system CPU seconds a process has used so far (/proc/PID/stat), 0 if unreadable.
double cpu_seconds(pid_t pid);
// The same for its main thread alone (/proc/PID/task/PID/stat).
double main_thread_cpu_seconds(pid_t pid);
// This process's own user + system CPU seconds, all threads.
double own_cpu_seconds();
// The whole machine's CPU time so far (/proc/stat's first line, seconds over all CPUs): busy
// (user, nice, system, irq, softirq), idle (idle, iowait), and steal: time the hypervisor ran
// something else while this machine had work. A delta over a row says whether its CPUs were its own.
struct MachineCpu {
  double busy = 0, idle = 0, steal = 0;
  static MachineCpu now();
  // busy / (busy + idle + steal) and steal / (busy + idle + steal) between `earlier` and this.
  double busy_fraction_since(const MachineCpu& earlier) const;
  double steal_fraction_since(const MachineCpu& earlier) const;

 private:
  double total_since(const MachineCpu& earlier) const;
};

struct Summary {
  std::size_t count = 0;
  double min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};
Summary summarize(std::vector<double> values);
nlohmann::json to_json(const Summary& s);

// One row of the results table: a figure beside the baseline measured in the same run.
struct Figure {
  std::string id;     // "P1.publish"
  std::string label;  // what was measured
  double value = 0;
  std::string unit;
  std::string baseline_label;
  std::optional<double> baseline;
  std::optional<double> ratio;  // value / baseline unless said otherwise
  std::string target;           // the target in words, "" if none
  std::optional<bool> met;      // nullopt: no target for this row, or not judged (smoke)
  std::string note;
};
nlohmann::json to_json(const Figure& f);

// Writes {"figures": [...], "details": {...}} to file.
void write_results(const fs::path& file, const std::vector<Figure>& figures, const nlohmann::json& details);

// Addresses used as data only: nothing is ever sent to them. Index i gives a distinct address:
// even i in 2001:db8::/32 (documentation), odd i in 100.64.0.0/10 (shared address space, 4 Mi
// values: documentation IPv4 ranges hold only 768).
std::string bench_address(std::uint64_t index);

// Documentation addresses for small counts (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, then
// 2001:db8:1::/64).
std::string doc_address(std::uint64_t index);

// A fleetban-relay on loopback (INTERFACE.md's relay.toml) with the key pair "relay" (the caller
// makes it and admits it upstream under relays/), following `upstream` (ingest endpoints, with
// their broadcasts in the same order) and admitting the host keys `admits` (one of them
// "bench-probe", which asks its status). Returns once the relay answers a status request.
struct RelayProcess {
  std::string ingest;
  std::string broadcast;
  std::unique_ptr<Process> process;
};
RelayProcess start_relay(const Programs& programs, Keys& keys, const std::vector<std::string>& upstream,
                         const std::vector<std::string>& upstream_broadcast, const fs::path& dir,
                         const std::vector<std::string>& admits);

// Raises this process's descriptor limit toward `wanted` (children inherit it): the soft limit up
// to the hard one, and the hard one too with CAP_SYS_RESOURCE. Returns the soft limit now.
unsigned long raise_fd_limit(unsigned long wanted);

}  // namespace fleetban::bench
