#pragma once
// A real fail2ban-server in a temp dir, as docs FAIL2BAN.md describes: nothing read from
// /etc/fail2ban, no firewall action, its own socket, database and log. One jail, `fleetban`, with
// no action: what the fleetban subscriber bans into (the machine's firewall is never touched).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_support.hpp"

namespace fleetban::bench {

// The full path of a program on PATH, or nullopt.
std::optional<std::string> find_program(const std::string& name);

class Fail2banSandbox {
 public:
  static constexpr const char* kJail = "fleetban";

  // dir must be short (the socket path stays under 108 bytes).
  explicit Fail2banSandbox(fs::path dir);
  ~Fail2banSandbox();

  static bool available();
  // Starts the server and waits until `ping` answers; returns the seconds that took.
  double start();
  void stop();

  // fail2ban-client talking to this server only, as argv words.
  std::vector<std::string> client() const;
  // The same as one string, for host.toml's fail2ban_client.
  std::string client_command() const;
  // How many addresses the jail bans now (`get fleetban banned`), or nullopt if the call failed.
  std::optional<std::size_t> banned_count() const;

 private:
  fs::path dir_;
  std::string server_;
  std::string client_;
  std::unique_ptr<Process> process_;
};

}  // namespace fleetban::bench
