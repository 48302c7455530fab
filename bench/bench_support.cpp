#include "bench/bench_support.hpp"

#include <cstdio>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <zmq.hpp>

#include "common/codec.hpp"
#include "common/ip_prefix.hpp"

extern char** environ;

namespace fleetban::bench {

namespace {

// Children that a signal must reach: one slot per live process group. Plain atomics, so the
// handler can read them.
constexpr std::size_t kSlots = 1024;
std::array<std::atomic<pid_t>, kSlots> g_children{};
std::atomic<bool> g_interrupted{false};

void register_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
}

void unregister_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

extern "C" void on_signal(int) {
  g_interrupted.store(true);
  for (auto& slot : g_children) {
    pid_t pid = slot.load();
    if (pid > 0) ::kill(-pid, SIGTERM);
  }
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Reads what is available on fd into out; false at EOF.
bool drain_fd(int fd, std::string& out) {
  std::array<char, 65536> buffer{};
  ssize_t n = ::read(fd, buffer.data(), buffer.size());
  if (n > 0) {
    out.append(buffer.data(), static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  return false;
}

std::vector<char*> c_argv(std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

bool interrupted() { return g_interrupted.load(); }

void check_interrupted() {
  if (interrupted()) throw Interrupted();
}

void sleep_for(milliseconds duration) {
  auto until = Clock::now() + duration;
  while (true) {
    check_interrupted();
    auto left = until - Clock::now();
    if (left <= Clock::duration::zero()) return;
    std::this_thread::sleep_for(std::min<Clock::duration>(left, milliseconds(20)));
  }
}

std::int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

TempDir::TempDir() {
  std::string pattern = "/tmp/fleetban-bench.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp: " + std::string(strerror(errno)));
  path_ = pattern;
}

TempDir::~TempDir() {
  const char* keep = std::getenv("FLEETBAN_BENCH_KEEP");
  if (keep != nullptr && std::string(keep) == "1") {
    fprintf(stderr, "bench: kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::uint16_t free_tcp_port() {
  static std::set<std::uint16_t> given;
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket: " + std::string(strerror(errno)));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ::close(fd);
      throw std::runtime_error("bind: " + std::string(strerror(errno)));
    }
    ::close(fd);
    std::uint16_t port = ntohs(address.sin_port);
    if (given.insert(port).second) return port;
  }
  throw std::runtime_error("no free TCP port");
}

void write_file(const fs::path& file, const std::string& content) {
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string toml_string(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

Process::Process(std::vector<std::string> argv, fs::path log_file, std::vector<std::string> extra_env)
    : argv_(std::move(argv)), log_file_(std::move(log_file)) {
  check_interrupted();
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  for (auto& e : extra_env) env.push_back(e);
  auto args = c_argv(argv_);
  auto envp = c_argv(env);
  started_realtime_ns_ = realtime_ns();
  started_ = Clock::now();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid_ == 0) {
    ::setpgid(0, 0);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in >= 0) ::dup2(in, STDIN_FILENO);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    ::execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  ::setpgid(pid_, pid_);  // also here: no race with a signal right after fork
  register_child(pid_);
}

Process::~Process() {
  try {
    terminate(milliseconds(5000));
  } catch (...) {
  }
}

bool Process::running() {
  if (exit_code_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_status(status);
    unregister_child(pid_);
    ::kill(-pid_, SIGKILL);  // anything the child left in its group
    return false;
  }
  return true;
}

std::optional<int> Process::wait_for_exit(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  int step_us = 100;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    check_interrupted();
    std::this_thread::sleep_for(std::chrono::microseconds(step_us));
    step_us = std::min(step_us * 2, 20'000);
  }
  return exit_code_;
}

int Process::terminate(milliseconds grace) {
  if (!running()) return *exit_code_;
  ::kill(pid_, SIGTERM);
  auto deadline = Clock::now() + grace;
  while (running() && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
  if (running()) {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exit_code_ = decode_status(status);
    unregister_child(pid_);
  }
  return *exit_code_;
}

RunResult run(const std::vector<std::string>& argv_in, milliseconds timeout,
              const std::optional<fs::path>& stdout_file) {
  check_interrupted();
  std::vector<std::string> argv = argv_in;
  auto args = c_argv(argv);
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe: " + std::string(strerror(errno)));
  }
  RunResult result;
  auto started = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    ::setpgid(0, 0);
    int in = ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, STDIN_FILENO);
    if (stdout_file) {
      int out = ::open(stdout_file->c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) ::dup2(out, STDOUT_FILENO);
    } else {
      ::dup2(out_pipe[1], STDOUT_FILENO);
    }
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::setpgid(pid, pid);
  register_child(pid);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  auto deadline = started + timeout;
  bool out_open = true, err_open = true, killed = false;
  while (out_open || err_open) {
    std::array<pollfd, 2> fds{{{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}}};
    if (!out_open) fds[0].fd = -1;
    if (!err_open) fds[1].fd = -1;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || interrupted()) {
      ::kill(-pid, SIGKILL);
      killed = true;
      break;
    }
    ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 50)));
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP)) != 0) out_open = drain_fd(out_pipe[0], result.out);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP)) != 0) err_open = drain_fd(err_pipe[0], result.err);
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  rusage usage{};
  while (true) {
    pid_t r = ::wait4(pid, &status, killed ? 0 : WNOHANG, &usage);
    if (r == pid) break;
    if (Clock::now() >= deadline || interrupted()) {
      ::kill(-pid, SIGKILL);
      killed = true;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  result.seconds = seconds_since(started);
  result.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  unregister_child(pid);
  ::kill(-pid, SIGKILL);  // whatever the command left behind in its group
  result.exit_code = killed ? -1 : decode_status(status);
  check_interrupted();
  return result;
}

RunResult run_checked(const std::vector<std::string>& argv, milliseconds timeout) {
  auto result = run(argv, timeout);
  if (result.exit_code != 0) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    throw std::runtime_error("command failed (exit " + std::to_string(result.exit_code) + "): " + line + "\n" +
                             result.out + result.err);
  }
  return result;
}

fs::path own_directory() { return fs::read_symlink("/proc/self/exe").parent_path(); }

Keys::Keys(const Programs& programs, fs::path dir)
    : programs_(programs), dir_(std::move(dir)), authorized_(dir_ / "authorized") {
  fs::create_directories(authorized_);
}

void Keys::make(const std::string& name, bool authorize) {
  if (!fs::exists(secret(name))) run_checked({programs_.fleetban(), "keygen", name, "--dir", dir_.string()});
  if (authorize) {
    fs::copy_file(public_key(name), authorized_ / (name + ".pub"), fs::copy_options::overwrite_existing);
  }
}

std::string Keys::z85(const fs::path& file) {
  std::string text = read_file(file);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.pop_back();
  if (text.size() != 40) throw std::runtime_error(file.string() + ": not a Z85 key");
  return text;
}

Aggregator::Aggregator(const Programs& programs, Keys& keys, fs::path dir, std::string policy_extra, bool http,
                       const std::string& state)
    : programs_(programs),
      keys_(keys),
      dir_(std::move(dir)),
      config_(dir_ / "aggregator.toml"),
      state_(state.empty() ? dir_ / "state.db" : fs::path(state)),
      ingest_port_(free_tcp_port()),
      broadcast_port_(free_tcp_port()) {
  fs::create_directories(dir_);
  keys_.make("aggregator", false);
  keys_.make("bench-probe");
  probe_key_ = "bench-probe";
  if (http) http_port_ = free_tcp_port();
  std::string http_line = http ? "127.0.0.1:" + std::to_string(http_port_) : "";
  // max_events_per_second is raised so the rate limiter does not cap the ingest measurements.
  write_file(config_, "ingest = " + toml_string(ingest()) + "\n" + "broadcast = " + toml_string(broadcast()) + "\n" +
                          "http = " + toml_string(http_line) + "\n" + "state = " + toml_string(state_.string()) + "\n" +
                          "server_key = " + toml_string(keys_.secret("aggregator").string()) + "\n" +
                          "authorized_dir = " + toml_string(keys_.authorized_dir().string()) + "\n" +
                          "insecure = false\n\n[policy]\nmin_reporters = 1\nallowlist = []\n"
                          "max_events_per_second = 10000000\n" +
                          policy_extra + "\n");
}

Aggregator::~Aggregator() {
  if (process_) process_->terminate(milliseconds(10'000));
}

double Aggregator::start(milliseconds timeout) {
  if (process_) throw std::logic_error("aggregator already running");
  ++starts_;
  process_ = std::make_unique<Process>(std::vector<std::string>{programs_.aggregator(), "--config", config_.string()},
                                       dir_ / "aggregator.log", env_);
  auto answered =
      wait_for_status(ingest(), keys_.public_key("aggregator"), keys_.secret(probe_key_), timeout, process_.get());
  if (!answered) {
    std::string log = this->log();
    if (log.size() > 4000) log = log.substr(log.size() - 4000);
    process_.reset();
    throw std::runtime_error("the aggregator did not answer a status request in time; its log:\n" + log);
  }
  return seconds_since(process_->started());
}

double Aggregator::stop() {
  if (!process_) return 0;
  auto started = Clock::now();
  int code = process_->terminate(milliseconds(60'000));
  double seconds = seconds_since(started);
  process_.reset();
  if (code != 0) fprintf(stderr, "bench: aggregator exited with %d\n", code);
  return seconds;
}

pid_t Aggregator::pid() const { return process_ ? process_->pid() : -1; }

std::string Aggregator::log() const { return read_file(dir_ / "aggregator.log"); }

std::optional<std::uint64_t> wait_for_status(const std::string& endpoint, const fs::path& server_public,
                                             const fs::path& client_secret, milliseconds timeout,
                                             const Process* watched) {
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  std::string server = Keys::z85(server_public);
  std::string secret = Keys::z85(client_secret);
  std::array<char, 41> public_key{};
  if (zmq_curve_public(public_key.data(), secret.c_str()) != 0) throw std::runtime_error("bad secret key");
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::reconnect_ivl, 10);  // resolution of the readiness measurement
  socket.set(zmq::sockopt::reconnect_ivl_max, 10);
  socket.set(zmq::sockopt::immediate, 1);
  socket.set(zmq::sockopt::curve_serverkey, server);
  socket.set(zmq::sockopt::curve_publickey, std::string(public_key.data()));
  socket.set(zmq::sockopt::curve_secretkey, secret);
  socket.connect(endpoint);
  std::string frame = common::encode(common::Request{common::StatusRequest{"bench-status"}});
  auto deadline = Clock::now() + timeout;
  // Asked again every second: a request can be dropped unanswered, as a relay drops what it held
  // for longer than 5 s before its first snapshot came (a million bans on a busy machine).
  constexpr auto kAskAgainAfter = milliseconds(1000);
  bool sent = false;
  Clock::time_point sent_at{};
  while (Clock::now() < deadline) {
    check_interrupted();
    if (watched != nullptr && !const_cast<Process*>(watched)->running()) return std::nullopt;
    if (sent && Clock::now() - sent_at >= kAskAgainAfter) sent = false;
    if (!sent) {
      sent = socket.send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
      sent_at = Clock::now();
      if (!sent) {
        zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLOUT, 0};
        zmq::poll(&item, 1, milliseconds(5));
        continue;
      }
    }
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, milliseconds(20));
    zmq::message_t message;
    while (socket.recv(message, zmq::recv_flags::dontwait)) {
      auto reply = common::decode_reply(message.to_string_view());
      if (!reply) continue;
      if (auto* status = std::get_if<common::Status>(&*reply)) return status->active_bans;
    }
  }
  return std::nullopt;
}

void write_host_toml(const fs::path& file, const HostToml& h) {
  fs::create_directories(h.spool_dir);
  write_file(file, "host_id = " + toml_string(h.host_id) + "\naggregator = " + toml_string(h.aggregator) +
                       "\nbroadcast = " + toml_string(h.broadcast) + "\nspool_dir = " +
                       toml_string(h.spool_dir.string()) + "\ntimeout_ms = " + std::to_string(h.timeout_ms) +
                       "\nserver_key = " + toml_string(h.server_key.string()) + "\nclient_key = " +
                       toml_string(h.client_key.string()) + "\ninsecure = false\n\n[enforce]\n" + h.enforce + "\n");
}

std::uint64_t status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return 0;
}

std::uint64_t file_size_or_zero(const fs::path& file) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  return ec ? 0 : size;
}

namespace {
// user+system seconds from a /proc/.../stat file.
double stat_cpu_seconds(const std::string& stat_file) {
  std::string text = read_file(stat_file);
  auto close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After the name: state(3) ... utime is field 14, stime 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}
}  // namespace

double cpu_seconds(pid_t pid) { return stat_cpu_seconds("/proc/" + std::to_string(pid) + "/stat"); }

double main_thread_cpu_seconds(pid_t pid) {
  return stat_cpu_seconds("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/stat");
}

MachineCpu MachineCpu::now() {
  std::istringstream line(read_file("/proc/stat"));
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  line >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return {.busy = static_cast<double>(user + nice + system + irq + softirq) / tick,
          .idle = static_cast<double>(idle + iowait) / tick,
          .steal = static_cast<double>(steal) / tick};
}

double MachineCpu::total_since(const MachineCpu& earlier) const {
  return (busy - earlier.busy) + (idle - earlier.idle) + (steal - earlier.steal);
}

double MachineCpu::busy_fraction_since(const MachineCpu& earlier) const {
  const double total = total_since(earlier);
  return total > 0 ? (busy - earlier.busy) / total : 0.0;
}

double MachineCpu::steal_fraction_since(const MachineCpu& earlier) const {
  const double total = total_since(earlier);
  return total > 0 ? (steal - earlier.steal) / total : 0.0;
}

double own_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

Summary summarize(std::vector<double> values) {
  Summary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.count = values.size();
  // Nearest-rank percentiles (p99 of 50 samples is the largest one): honest for small counts.
  auto rank = [&](double p) {
    auto index = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
    return values[std::min(index, values.size() - 1)];
  };
  s.min = values.front();
  s.max = values.back();
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  s.p999 = rank(0.999);
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  return s;
}

nlohmann::json to_json(const Summary& s) {
  return {{"count", s.count}, {"min", s.min},   {"p50", s.p50}, {"p90", s.p90},
          {"p99", s.p99},     {"p999", s.p999}, {"max", s.max}, {"mean", s.mean}};
}

nlohmann::json to_json(const Figure& f) {
  nlohmann::json j{{"id", f.id},
                   {"label", f.label},
                   {"value", f.value},
                   {"unit", f.unit},
                   {"baseline_label", f.baseline_label},
                   {"target", f.target},
                   {"note", f.note}};
  j["baseline"] = f.baseline ? nlohmann::json(*f.baseline) : nlohmann::json(nullptr);
  j["ratio"] = f.ratio ? nlohmann::json(*f.ratio) : nlohmann::json(nullptr);
  j["met"] = f.met ? nlohmann::json(*f.met) : nlohmann::json(nullptr);
  return j;
}

void write_results(const fs::path& file, const std::vector<Figure>& figures, const nlohmann::json& details) {
  nlohmann::json doc;
  doc["figures"] = nlohmann::json::array();
  for (const auto& f : figures) doc["figures"].push_back(to_json(f));
  doc["details"] = details;
  write_file(file, doc.dump(2) + "\n");
}

std::string bench_address(std::uint64_t index) {
  std::uint64_t n = index / 2;
  char text[64];
  if (index % 2 == 0) {
    // 2001:db8:AAAA:BBBB::1:CCCC (the 1 keeps the interface id non-zero)
    snprintf(text, sizeof text, "2001:db8:%x:%x::1:%x", static_cast<unsigned>((n >> 32) & 0xffff),
             static_cast<unsigned>((n >> 16) & 0xffff), static_cast<unsigned>(n & 0xffff));
    return common::IpPrefix::parse(text)->to_string();  // canonical, as decisions carry it
  }
  std::uint64_t v = n % (1u << 22);  // 100.64.0.0/10
  std::uint32_t a = (100u << 24) | (64u << 16) | static_cast<std::uint32_t>(v);
  snprintf(text, sizeof text, "%u.%u.%u.%u", (a >> 24) & 0xff, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
  return text;
}

std::string doc_address(std::uint64_t index) {
  static const std::array<const char*, 3> nets{"192.0.2.", "198.51.100.", "203.0.113."};
  if (index < 3 * 254) return nets[index / 254] + std::to_string(index % 254 + 1);
  char text[64];
  snprintf(text, sizeof text, "2001:db8:1::%x", static_cast<unsigned>(index + 1));
  return common::IpPrefix::parse(text)->to_string();
}

int run_driver(const char* name, int (*body)(int, char**), int argc, char** argv) {
  install_signal_handlers();
  try {
    return body(argc, argv);
  } catch (const Interrupted&) {
    std::fprintf(stderr, "%s: interrupted\n", name);
    return 130;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

RelayProcess start_relay(const Programs& programs, Keys& keys, const std::vector<std::string>& upstream,
                         const std::vector<std::string>& upstream_broadcast, const fs::path& dir,
                         const std::vector<std::string>& admits) {
  fs::create_directories(dir / "authorized");
  for (const auto& name : admits) {
    fs::copy_file(keys.public_key(name), dir / "authorized" / (name + ".pub"), fs::copy_options::overwrite_existing);
  }
  auto list = [](const std::vector<std::string>& endpoints) {
    std::string toml = "[";
    for (const auto& e : endpoints) toml += (toml.size() > 1 ? ", " : "") + toml_string(e);
    return toml + "]";
  };
  RelayProcess relay;
  relay.ingest = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  relay.broadcast = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  write_file(dir / "relay.toml",
             "upstream = " + list(upstream) + "\nupstream_broadcast = " + list(upstream_broadcast) +
                 "\nupstream_key = " + toml_string(keys.public_key("aggregator").string()) +
                 "\ningest = " + toml_string(relay.ingest) + "\nbroadcast = " + toml_string(relay.broadcast) +
                 "\nserver_key = " + toml_string(keys.secret("relay").string()) + "\nauthorized_dir = " +
                 toml_string((dir / "authorized").string()) + "\nhttp = \"\"\ninsecure = false\n");
  relay.process = std::make_unique<Process>(
      std::vector<std::string>{(programs.bin / "fleetban-relay").string(), "--config", (dir / "relay.toml").string()},
      dir / "relay.log");
  if (!wait_for_status(relay.ingest, keys.public_key("relay"), keys.secret("bench-probe"), milliseconds(60'000),
                       relay.process.get())) {
    throw std::runtime_error("relay did not answer a status request; its log:\n" + read_file(dir / "relay.log"));
  }
  return relay;
}

unsigned long raise_fd_limit(unsigned long wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  rlimit raised{std::max<rlim_t>(limit.rlim_cur, wanted), std::max<rlim_t>(limit.rlim_max, wanted)};
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

}  // namespace fleetban::bench
