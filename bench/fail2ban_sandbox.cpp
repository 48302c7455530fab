#include "bench/fail2ban_sandbox.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace fleetban::bench {

std::optional<std::string> find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

bool Fail2banSandbox::available() {
  return find_program("fail2ban-server").has_value() && find_program("fail2ban-client").has_value();
}

Fail2banSandbox::Fail2banSandbox(fs::path dir) : dir_(std::move(dir)) {
  server_ = find_program("fail2ban-server").value_or("fail2ban-server");
  client_ = find_program("fail2ban-client").value_or("fail2ban-client");
  const std::string etc = (dir_ / "etc").string();
  const std::string run = (dir_ / "run").string();
  if ((dir_ / "run/f2b.sock").string().size() >= 100) throw std::runtime_error("fail2ban sandbox path too long");
  fs::create_directories(dir_ / "etc/filter.d");
  fs::create_directories(dir_ / "etc/action.d");
  fs::create_directories(dir_ / "run");
  write_file(dir_ / "run/auth.log", "");
  write_file(dir_ / "etc/fail2ban.conf", "[Definition]\nloglevel = INFO\nlogtarget = " + run +
                                             "/fail2ban.log\nsyslogsocket = auto\n"
                                             "socket = " +
                                             run + "/f2b.sock\npidfile = " + run +
                                             "/f2b.pid\nallowipv6 = auto\n"
                                             "dbfile = " +
                                             run + "/f2b.sqlite3\ndbpurgeage = 1d\n");
  write_file(dir_ / "etc/filter.d/test-auth.conf",
             "[Definition]\nfailregex = ^auth failure from <HOST>\\s*$\ndatepattern = {NONE}\n");
  // No action: the ban is Fail2Ban's own bookkeeping (jail, database); a real deployment adds its
  // firewall action here, which costs the same per address whichever way the ban arrives.
  write_file(dir_ / "etc/jail.local",
             "[DEFAULT]\nbackend = polling\nusedns = no\nbantime = 3600\n"
             "findtime = 600\nmaxretry = 2\n\n[" +
                 std::string(kJail) + "]\nenabled = true\nfilter = test-auth\nlogpath = " + run +
                 "/auth.log\naction =\n");
}

Fail2banSandbox::~Fail2banSandbox() {
  try {
    stop();
  } catch (...) {
  }
}

std::vector<std::string> Fail2banSandbox::client() const {
  return {client_, "-c", (dir_ / "etc").string(), "-s", (dir_ / "run/f2b.sock").string()};
}

std::string Fail2banSandbox::client_command() const {
  std::string text;
  for (const auto& word : client()) text += (text.empty() ? "" : " ") + word;
  return text;
}

double Fail2banSandbox::start() {
  auto started = Clock::now();
  process_ = std::make_unique<Process>(
      std::vector<std::string>{server_, "-f", "-x", "-c", (dir_ / "etc").string(), "-s",
                               (dir_ / "run/f2b.sock").string(), "-p", (dir_ / "run/f2b.pid").string()},
      dir_ / "run/server.out");
  auto ping = client();
  ping.push_back("ping");
  while (seconds_since(started) < 30) {
    if (!process_->running()) {
      throw std::runtime_error("fail2ban-server exited at start:\n" + read_file(dir_ / "run/server.out") +
                               read_file(dir_ / "run/fail2ban.log"));
    }
    if (run(ping, milliseconds(5000)).exit_code == 0) return seconds_since(started);
    sleep_for(milliseconds(50));
  }
  throw std::runtime_error("fail2ban-server did not answer ping within 30 s");
}

void Fail2banSandbox::stop() {
  if (!process_) return;
  if (process_->running()) {
    auto stop = client();
    stop.push_back("stop");
    run(stop, milliseconds(10'000));
    process_->wait_for_exit(milliseconds(5000));
  }
  process_->terminate(milliseconds(2000));
  process_.reset();
}

std::optional<std::size_t> Fail2banSandbox::banned_count() const {
  auto argv = client();
  argv.insert(argv.end(), {"get", kJail, "banned"});
  auto result = run(argv, milliseconds(60'000));
  if (result.exit_code != 0) return std::nullopt;
  // ['192.0.2.7', '2001:db8::5']: two quotes an address.
  auto quotes = static_cast<std::size_t>(std::count(result.out.begin(), result.out.end(), '\''));
  return quotes / 2;
}

}  // namespace fleetban::bench
