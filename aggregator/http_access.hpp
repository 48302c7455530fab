#pragma once
// Who may read the aggregator's HTTP API: the Host check that keeps DNS rebinding out when no
// password is set, and HTTP Basic auth against an htpasswd-style `http_auth_file`.

#include <filesystem>
#include <map>
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
  // costs the same hashing as a known one.
  bool allows(std::string_view authorization) const;

  std::size_t size() const { return users_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> users_;  // name -> crypt(3) hash
};

}  // namespace fleetban::aggregator
