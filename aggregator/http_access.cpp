#include "aggregator/http_access.hpp"

#include <crypt.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <memory>
#include <optional>

#include "common/errors.hpp"

namespace fleetban::aggregator {

namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return (x | 0x20) == (y | 0x20); });
}

bool supported_hash(std::string_view hash) {
  return hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$6$");
}

// Compares two strings in time that depends on their lengths only, never on where they differ.
bool equal_in_constant_time(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return difference == 0;
}

// crypt_r(3) of `password` with the salt and cost of `hash`; "" when libcrypt refuses it.
std::string crypt_with(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();  // 32 KiB: not on a worker thread's stack
  const char* result = crypt_r(password.c_str(), hash.c_str(), data.get());
  // libcrypt returns NULL or a "*0"/"*1" failure token for a setting it cannot use.
  if (result == nullptr || result[0] == '*') return {};
  return result;
}

std::optional<std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (char c : text) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// A bcrypt hash of nothing in particular, so that a request naming an unknown user costs the same
// hashing as one naming a known user (no user enumeration by timing).
constexpr const char* kDecoyHash = "$2b$05$abcdefghijklmnopqrstuumjewjQVmxxbBHy234HdGTOAqOuVnhhy";

}  // namespace

HttpCredentials HttpCredentials::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw common::UsageError(file.string() + ": cannot read http_auth_file");
  HttpCredentials credentials;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string where = file.string() + ":" + std::to_string(number) + ": ";
    if (line.empty() || line.starts_with('#')) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      throw common::UsageError(where + "expected NAME:HASH (as written by htpasswd -B)");
    }
    std::string name = line.substr(0, colon);
    std::string hash = line.substr(colon + 1);
    // A hash libcrypt reads as the one written gives a result of the same length (a truncated one,
    // such as "$6$", would be taken as a salt and never match).
    if (!supported_hash(hash) || crypt_with("", hash).size() != hash.size()) {
      throw common::UsageError(where + "the hash of '" + name +
                               "' is not bcrypt ($2y$/$2b$) or sha512-crypt ($6$); make one with "
                               "htpasswd -B or mkpasswd -m sha-512");
    }
    if (!credentials.users_.emplace(name, hash).second) {
      throw common::UsageError(where + "user '" + name + "' appears twice");
    }
  }
  if (in.bad()) throw common::UsageError(file.string() + ": cannot read http_auth_file");
  return credentials;
}

bool HttpCredentials::allows(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Basic ";
  if (authorization.size() <= kScheme.size() || !equals_ignoring_case(authorization.substr(0, 5), "Basic") ||
      authorization[5] != ' ') {
    return false;
  }
  auto decoded = base64_decode(authorization.substr(kScheme.size()));
  if (!decoded) return false;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  std::string_view name = std::string_view(*decoded).substr(0, colon);
  std::string password = decoded->substr(colon + 1);
  auto user = users_.find(name);
  std::string hash = user != users_.end() ? user->second : kDecoyHash;
  std::string computed = crypt_with(password, hash);
  return equal_in_constant_time(computed, hash) && user != users_.end() && !computed.empty();
}

}  // namespace fleetban::aggregator
