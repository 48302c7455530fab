// A real, sandboxed fail2ban-server for the integration tests: its own config
// dir, socket, pid file, database and logs under one directory, nothing read
// from /etc/fail2ban and no firewall action unless a test writes one.
#pragma once

#include "fleet.hpp"
#include "harness.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetban::testing {

// True when fail2ban-server and fail2ban-client are on the PATH.
bool fail2ban_available();

// The repo's action.d/fleetban.conf (FLEETBAN_TEST_ACTION_FILE overrides it,
// to test an installed copy).
std::filesystem::path shipped_action_file();

class Fail2banHost {
 public:
  // Writes DIR/etc (fail2ban.conf, filter.d/test-auth.conf, action.d/fleetban.conf
  // copied from the repo) and DIR/etc/jail.local from jail_local, in which
  // "@DIR@" stands for dir. Creates DIR/run/auth.log. Starts nothing.
  Fail2banHost(std::string name, std::filesystem::path dir, std::string_view jail_local);
  // Stops the server if it runs; prints its logs first when the test has failed.
  ~Fail2banHost();
  Fail2banHost(const Fail2banHost&) = delete;
  Fail2banHost& operator=(const Fail2banHost&) = delete;

  const std::string& name() const { return name_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path etc() const { return dir_ / "etc"; }
  std::filesystem::path socket() const { return dir_ / "run" / "f2b.sock"; }
  std::filesystem::path auth_log() const { return dir_ / "run" / "auth.log"; }
  std::filesystem::path server_log() const { return dir_ / "run" / "fail2ban.log"; }
  // "fail2ban-client -c DIR/etc -s DIR/run/f2b.sock", for host.toml's fail2ban_client.
  std::string client_command() const;

  // Starts fail2ban-server in the foreground (in a process group of its own)
  // and polls `ping` until it answers; fails if it exits or does not answer.
  ::testing::AssertionResult start(Deadline deadline = deadline_in(kSoon));
  // `fail2ban-client stop`, then waits for the server to exit (SIGTERM and
  // SIGKILL if it does not). Returns whether `stop` was answered and the server exited by itself.
  ::testing::AssertionResult stop();
  bool running();

  // fail2ban-client -c DIR/etc -s DIR/run/f2b.sock ARGS..., to its end.
  RunResult client(const std::vector<std::string>& args) const;

  // `get JAIL banned`, parsed; nullopt when the server does not answer it.
  std::optional<std::vector<std::string>> banned(std::string_view jail) const;
  bool holds(std::string_view jail, std::string_view ip) const;
  // Polls until the jail holds ip / no longer holds ip (the server answering).
  ::testing::AssertionResult holds_soon(std::string_view jail, std::string_view ip,
                                        Deadline deadline = deadline_in(kSoon)) const;
  ::testing::AssertionResult releases_soon(std::string_view jail, std::string_view ip,
                                           Deadline deadline = deadline_in(kSoon)) const;

  // Appends `times` lines "auth failure from IP" to the watched log.
  void fail(std::string_view ip, int times) const;

 private:
  std::string describe_jail(std::string_view jail) const;

  std::string name_;
  std::filesystem::path dir_;
  int starts_ = 0;
  std::unique_ptr<Process> server_;
  std::vector<std::unique_ptr<Process>> stopped_;  // kept for their logs
};

// The [DEFAULT] section every test jail.local starts with (backend polling, no DNS,
// maxretry 2), as FAIL2BAN.md gives it.
std::string fail2ban_defaults();

// A reporting jail `sshd` watching @DIR@/run/auth.log, whose only action is
// fleetban[config=..., publish=<bin>/fleetban-publish]; extra_lines go into [sshd].
std::string reporter_jail_local(const Host& host, std::string_view extra_lines = "");

// The fleet jail `fleetban` of deploy/jail.d/fleetban.local, with no action at
// all (nothing may reach a real firewall).
std::string fleet_jail_local();

// Rewrites host.toml of `host` (made by Fleet::add_host) so that its subscriber
// enforces through the fail2ban backend into `f2b`'s jail `fleetban`, with an
// optional host allowlist. `test_dir` is the Fleet's temp dir (for the keys).
void use_fail2ban_backend(const Fleet& fleet, const TempDir& test_dir, const Host& host, const Fail2banHost& f2b,
                          const std::vector<std::string>& allowlist = {});

}  // namespace fleetban::testing
