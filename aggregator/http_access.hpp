#pragma once
// Who may read the aggregator's HTTP API: the Host check that keeps DNS rebinding out when no
// password is set, and HTTP Basic auth against an htpasswd-style `http_auth_file`.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "server/http_address.hpp"

namespace fleetban::aggregator {

// The Host check: server/http_address.hpp.
using server::host_is_literal_or_localhost;

// The users of `http_auth_file`: `name:hash` lines, bcrypt ($2y$, $2b$) or sha512-crypt ($6$)
// hashes as `htpasswd -B` and `mkpasswd -m sha-512` write them; blank lines and # comments allowed.
class HttpCredentials {
 public:
  // Throws UsageError naming the file (and the line) when it cannot be read, a line is not
  // `name:hash`, a name repeats, or a hash is of an unsupported kind.
  static HttpCredentials load(const std::filesystem::path& file);

  // Whether an `Authorization` header value ("Basic base64(name:password)") names a user of the
  // file with the right password. The hashes are compared in constant time, and an unknown name
  // costs the same hashing as a known one (it is hashed with the settings of the file's first user).
  //
  // Hashing is slow by design (bcrypt: milliseconds of CPU at htpasswd -B's cost 5, a quarter of a
  // second at -C 12), so anyone who can reach the port could otherwise keep every HTTP worker, and
  // the CPUs the aggregator's loop needs, busy with wrong passwords. Hence:
  // - a name and password that passed are remembered for kRemember (as a keyed BLAKE2b digest,
  //   never in clear), so a dashboard or a Prometheus scrape costs one hashing, not one per request;
  // - one hashing runs at a time: a flood of wrong passwords holds at most one CPU, and the
  //   others wait their turn (a request whose pair passed while it waited is answered at once).
  // Wrong passwords are never remembered. Thread-safe: httplib's workers share one object.
  bool allows(std::string_view authorization) const;

  std::size_t size() const { return users_.size(); }

  // For tests: how many passwords were hashed, and the most hashings that ever ran at once.
  std::uint64_t hashes() const;
  int most_hashing_at_once() const;

  static constexpr auto kRemember = std::chrono::minutes(10);
  static constexpr std::size_t kMaxRemembered = 1024;  // entries come only from right passwords

  HttpCredentials();
  HttpCredentials(HttpCredentials&&) noexcept;
  HttpCredentials& operator=(HttpCredentials&&) noexcept;
  ~HttpCredentials();

 private:
  struct Verified;  // recently verified pairs, the turn for hashing, the counters

  bool hash_matches(std::string_view name, const std::string& password) const;

  std::map<std::string, std::string, std::less<>> users_;  // name -> crypt(3) hash
  std::unique_ptr<Verified> verified_;
};

}  // namespace fleetban::aggregator
