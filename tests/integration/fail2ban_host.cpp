#include "fail2ban_host.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>

namespace fleetban::testing {
namespace {

constexpr const char* kServer = "fail2ban-server";
constexpr const char* kClient = "fail2ban-client";

bool on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = start == end ? std::string(".") : dirs.substr(start, end - start);
    if (::access((std::filesystem::path(dir) / name).c_str(), X_OK) == 0) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Fail2Ban prints a jail's bans as a Python list: ['192.0.2.7', '2001:db8::5'].
std::optional<std::vector<std::string>> parse_python_list(std::string_view text) {
  const auto open = text.find('[');
  const auto close = text.rfind(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  std::vector<std::string> items;
  std::string_view body = text.substr(open + 1, close - open - 1);
  for (;;) {
    const auto q1 = body.find('\'');
    if (q1 == std::string_view::npos) {
      break;
    }
    const auto q2 = body.find('\'', q1 + 1);
    if (q2 == std::string_view::npos) {
      return std::nullopt;
    }
    items.emplace_back(body.substr(q1 + 1, q2 - q1 - 1));
    body.remove_prefix(q2 + 1);
  }
  return items;
}

}  // namespace

bool fail2ban_available() { return on_path(kServer) && on_path(kClient); }

std::filesystem::path shipped_action_file() {
  if (const char* file = std::getenv("FLEETBAN_TEST_ACTION_FILE"); file != nullptr && *file != '\0') {
    return file;
  }
  // This file is tests/integration/fail2ban_host.cpp in the repo (CMake compiles
  // it by its absolute path); no build setting names the source tree otherwise.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "action.d" / "fleetban.conf";
}

// ---------------------------------------------------------------- Fail2banHost

Fail2banHost::Fail2banHost(std::string name, std::filesystem::path dir, std::string_view jail_local)
    : name_(std::move(name)), dir_(std::move(dir)) {
  if (socket().string().size() >= 100) {
    throw std::runtime_error("socket path too long for a Unix socket: " + socket().string());
  }
  const std::string d = dir_.string();
  write_file(etc() / "fail2ban.conf",
             "[Definition]\n"
             "loglevel = INFO\n"
             "logtarget = " +
                 d +
                 "/run/fail2ban.log\n"
                 "syslogsocket = auto\n"
                 "socket = " +
                 socket().string() +
                 "\n"
                 "pidfile = " +
                 d +
                 "/run/f2b.pid\n"
                 "allowipv6 = auto\n"
                 "dbfile = " +
                 d +
                 "/run/f2b.sqlite3\n"
                 "dbpurgeage = 1d\n");
  write_file(etc() / "filter.d" / "test-auth.conf",
             "[Definition]\n"
             "failregex = ^auth failure from <HOST>\\s*$\n"
             "datepattern = {NONE}\n");
  const auto action = shipped_action_file();
  const std::string action_text = read_file(action);
  if (action_text.empty()) {
    throw std::runtime_error("cannot read the shipped action " + action.string());
  }
  write_file(etc() / "action.d" / "fleetban.conf", action_text);
  write_file(etc() / "jail.local", replace_all(std::string(jail_local), "@DIR@", d));
  write_file(auth_log(), "");
}

Fail2banHost::~Fail2banHost() {
  if (::testing::Test::HasFailure()) {
    std::cerr << "----- fail2ban-server of " << name_ << ": " << server_log().string() << " (last lines)\n"
              << last_lines(read_file(server_log()), 40) << "\n";
    if (server_) {
      std::cerr << "----- its stdout/stderr " << server_->log_file().string() << "\n"
                << last_lines(read_file(server_->log_file()), 20) << "\n";
    }
  }
  if (server_ && server_->running()) {
    stop();
  }
}

std::string Fail2banHost::client_command() const {
  return std::string(kClient) + " -c " + etc().string() + " -s " + socket().string();
}

::testing::AssertionResult Fail2banHost::start(Deadline deadline) {
  if (server_) {
    stopped_.push_back(std::move(server_));
  }
  ++starts_;
  // No setsid: Process already gives the server a process group of its own
  // (setsid would fork away from it, out of reach of the cleanup), and its
  // destructor kills the group, the action commands included.
  server_ =
      std::make_unique<Process>(std::vector<std::string>{kServer, "-f", "-x", "-c", etc().string(), "-s",
                                                         socket().string(), "-p", (dir_ / "run" / "f2b.pid").string()},
                                dir_ / "run" / ("server-" + std::to_string(starts_) + ".out"));
  RunResult last;
  bool exited = false;
  auto answered = poll_until(
      [&] {
        if (!server_->running()) {
          exited = true;
          return true;
        }
        last = client({"ping"});
        return last.exit_code == 0;
      },
      deadline, "the fail2ban-server of " + name_ + " to answer ping", [&] { return describe(last); });
  if (exited) {
    return ::testing::AssertionFailure() << "the fail2ban-server of " << name_ << " exited while starting:\n"
                                         << server_->log() << "\n"
                                         << last_lines(read_file(server_log()), 30);
  }
  return answered;
}

::testing::AssertionResult Fail2banHost::stop() {
  if (!server_ || !server_->running()) {
    return ::testing::AssertionFailure() << "the fail2ban-server of " << name_ << " is not running";
  }
  const auto stopped = client({"stop"});
  if (server_->wait_for_exit(deadline_in(std::chrono::seconds(10)))) {
    if (stopped.exit_code != 0) {
      return ::testing::AssertionFailure() << "`stop` failed, yet the server exited\n" << describe(stopped);
    }
    return ::testing::AssertionSuccess();
  }
  server_->terminate(std::chrono::seconds(2));
  return ::testing::AssertionFailure() << "the fail2ban-server of " << name_ << " did not exit after `stop`; killed\n"
                                       << describe(stopped);
}

bool Fail2banHost::running() { return server_ && server_->running(); }

RunResult Fail2banHost::client(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{kClient, "-c", etc().string(), "-s", socket().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, std::chrono::seconds(20));
}

std::optional<std::vector<std::string>> Fail2banHost::banned(std::string_view jail) const {
  const auto result = client({"get", std::string(jail), "banned"});
  if (result.exit_code != 0) {
    return std::nullopt;
  }
  return parse_python_list(result.out);
}

bool Fail2banHost::holds(std::string_view jail, std::string_view ip) const {
  const auto list = banned(jail);
  return list && std::find(list->begin(), list->end(), ip) != list->end();
}

std::string Fail2banHost::describe_jail(std::string_view jail) const {
  const auto result = client({"get", std::string(jail), "banned"});
  return "`get " + std::string(jail) + " banned` on " + name_ + ":\n" + describe(result);
}

::testing::AssertionResult Fail2banHost::holds_soon(std::string_view jail, std::string_view ip,
                                                    Deadline deadline) const {
  return poll_until([&] { return holds(jail, ip); }, deadline,
                    "jail " + std::string(jail) + " on " + name_ + " to hold " + std::string(ip),
                    [&] { return describe_jail(jail); });
}

::testing::AssertionResult Fail2banHost::releases_soon(std::string_view jail, std::string_view ip,
                                                       Deadline deadline) const {
  return poll_until(
      [&] {
        const auto list = banned(jail);
        return list && std::find(list->begin(), list->end(), ip) == list->end();
      },
      deadline, "jail " + std::string(jail) + " on " + name_ + " to no longer hold " + std::string(ip),
      [&] { return describe_jail(jail); });
}

void Fail2banHost::fail(std::string_view ip, int times) const {
  std::ofstream log(auth_log(), std::ios::app | std::ios::binary);
  for (int i = 0; i < times; ++i) {
    log << "auth failure from " << ip << "\n";
  }
  log.close();
  if (!log) {
    throw std::runtime_error("cannot append to " + auth_log().string());
  }
}

// ---------------------------------------------------------------- configs

std::string fail2ban_defaults() {
  return "[DEFAULT]\n"
         "backend   = polling\n"
         "usedns    = no\n"
         "bantime   = 600\n"
         "findtime  = 600\n"
         "maxretry  = 2\n\n";
}

std::string reporter_jail_local(const Host& host, std::string_view extra_lines) {
  return fail2ban_defaults() +
         "[sshd]\n"
         "enabled = true\n"
         "filter  = test-auth\n"
         "logpath = @DIR@/run/auth.log\n"
         "action  = fleetban[config=\"" +
         host.config.string() + "\", publish=\"" + program("fleetban-publish") + "\"]\n" + std::string(extra_lines) +
         "\n";
}

std::string fleet_jail_local() {
  // deploy/jail.d/fleetban.local, but `action =` empty: no firewall in tests.
  return fail2ban_defaults() +
         "[fleetban]\n"
         "enabled  = true\n"
         "filter   =\n"
         "logpath  = /dev/null\n"
         "backend  = polling\n"
         "bantime  = -1\n"
         "action   =\n";
}

void use_fail2ban_backend(const Fleet& fleet, const TempDir& test_dir, const Host& host, const Fail2banHost& f2b,
                          const std::vector<std::string>& allowlist) {
  std::string toml;
  toml += "host_id    = " + toml_string(host.id) + "\n";
  toml += "aggregator = " + toml_string(fleet.ingest_endpoint()) + "\n";
  toml += "broadcast  = " + toml_string(fleet.broadcast_endpoint()) + "\n";
  toml += "spool_dir  = " + toml_string(host.spool.string()) + "\n";
  toml += "timeout_ms = 2000\n";
  toml += security_settings(test_dir.path(), Peer::host, host.id);
  toml += "\n[enforce]\n";
  toml += "backend         = \"fail2ban\"\n";
  toml += "jail            = \"fleetban\"\n";
  toml += "fail2ban_client = " + toml_string(f2b.client_command()) + "\n";
  if (!allowlist.empty()) {
    toml += "allowlist       = [";
    for (std::size_t i = 0; i < allowlist.size(); ++i) {
      toml += (i == 0 ? "" : ", ") + toml_string(allowlist[i]);
    }
    toml += "]\n";
  }
  write_file(host.config, toml);
}

}  // namespace fleetban::testing
