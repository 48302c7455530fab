#include "aggregator/http_access.hpp"

#include <crypt.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>

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

// A bcrypt hash of nothing in particular, hashed against when the file has no users at all.
constexpr const char* kDecoyHash = "$2b$05$abcdefghijklmnopqrstuumjewjQVmxxbBHy234HdGTOAqOuVnhhy";

}  // namespace

struct HttpCredentials::Verified {
  using Clock = std::chrono::steady_clock;
  using Digest = std::array<unsigned char, crypto_generichash_BYTES>;

  Verified() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
    randombytes_buf(key.data(), key.size());
  }

  // Keyed with this process's random key: the digests say nothing outside it.
  Digest digest(std::string_view pair) const {
    Digest out{};
    crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(pair.data()), pair.size(),
                       key.data(), key.size());
    return out;
  }

  bool recall(const Digest& digest) {
    std::lock_guard lock(mutex);
    auto it = remembered.find(digest);
    if (it == remembered.end()) return false;
    if (it->second > Clock::now()) return true;
    remembered.erase(it);
    return false;
  }

  void remember(const Digest& digest) {
    std::lock_guard lock(mutex);
    const auto now = Clock::now();
    if (remembered.size() >= kMaxRemembered) {
      std::erase_if(remembered, [&](const auto& entry) { return entry.second <= now; });
      if (remembered.size() >= kMaxRemembered) remembered.clear();  // each pays one hashing again
    }
    remembered.insert_or_assign(digest, now + kRemember);
  }

  std::array<unsigned char, crypto_generichash_KEYBYTES> key{};
  std::mutex mutex;  // guards `remembered`
  std::map<Digest, Clock::time_point> remembered;
  std::mutex turn;  // held while hashing: one at a time
  std::atomic<std::uint64_t> hashes{0};
  std::atomic<int> hashing{0};
  std::atomic<int> most_at_once{0};
};

HttpCredentials::HttpCredentials() : verified_(std::make_unique<Verified>()) {}
HttpCredentials::HttpCredentials(HttpCredentials&&) noexcept = default;
HttpCredentials& HttpCredentials::operator=(HttpCredentials&&) noexcept = default;
HttpCredentials::~HttpCredentials() = default;

std::uint64_t HttpCredentials::hashes() const { return verified_->hashes.load(); }
int HttpCredentials::most_hashing_at_once() const { return verified_->most_at_once.load(); }

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
  Verified& verified = *verified_;
  const auto digest = verified.digest(*decoded);
  if (verified.recall(digest)) return true;
  std::lock_guard turn(verified.turn);
  if (verified.recall(digest)) return true;  // the same pair passed while this request waited
  if (!hash_matches(name, password)) return false;
  verified.remember(digest);
  return true;
}

bool HttpCredentials::hash_matches(std::string_view name, const std::string& password) const {
  auto user = users_.find(name);
  // An unknown name is hashed as the first user's would be, so it takes as long as a known one.
  static const std::string decoy = kDecoyHash;  // for a file with no users
  const std::string& hash = user != users_.end() ? user->second : users_.empty() ? decoy : users_.begin()->second;
  Verified& verified = *verified_;
  const int at_once = ++verified.hashing;
  for (int most = verified.most_at_once.load(); at_once > most;) {
    if (verified.most_at_once.compare_exchange_weak(most, at_once)) break;
  }
  ++verified.hashes;
  std::string computed = crypt_with(password, hash);
  --verified.hashing;
  return equal_in_constant_time(computed, hash) && user != users_.end() && !computed.empty();
}

}  // namespace fleetban::aggregator
