// Who may read the HTTP API (aggregator/http_access.hpp): the Host check against DNS rebinding,
// and Basic auth against an htpasswd-style file, bad headers and bad files included.

#include "aggregator/http_access.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "temp_dir.hpp"
#include "usage_error.hpp"

namespace {

using fleetban::aggregator::host_is_literal_or_localhost;
using fleetban::aggregator::HttpCredentials;
using fleetban::testing::has;
using fleetban::testing::TempDir;
using fleetban::testing::usage_error_of;

TEST(HttpAccess, HostLiteralsAndLocalhostPass) {
  for (const char* host : {"127.0.0.1", "127.0.0.1:7782", "198.51.100.5", "[::1]", "[::1]:7782", "[2001:db8::5]:80",
                           "localhost", "LocalHost:7782"}) {
    EXPECT_TRUE(host_is_literal_or_localhost(host)) << host;
  }
}

TEST(HttpAccess, HostNamesAndMalformedHostsDoNot) {
  for (const char* host : {"", "dashboard.example", "dashboard.example:7782", "localhost.example", "::1", "[::1",
                           "[::1]x", "[::1]:", "[not-an-ip]:80", "127.0.0.1:", "127.0.0.1:80a", "127.0.0.1:123456",
                           "127.0.0.1.nip.io", "1.2.3:80"}) {
    EXPECT_FALSE(host_is_literal_or_localhost(host)) << host;
  }
}

// crypt("right horse", "$6$6ufmSsgniVT98rCj") and crypt("battery staple", "$2b$05$...") (libcrypt).
constexpr std::string_view kUsers =
    "# dashboard users\n"
    "\n"
    "ops-6:$6$6ufmSsgniVT98rCj$QyY.7YgNGOBUt/"
    "LJuKbpw5xSmsmyFXhnLOThiPUuQwAQVBhiDhVp9UIF6btOTdVCsLXHeshrOh3FwcI1tK0UG1\r\n"
    "ops-b:$2b$05$abcdefghijklmnopqrstuumjewjQVmxxbBHy234HdGTOAqOuVnhhy\n";

std::string basic(std::string_view credentials) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < credentials.size(); i += 3) {
    std::uint32_t chunk = static_cast<std::uint32_t>(static_cast<std::uint8_t>(credentials[i])) << 16;
    if (i + 1 < credentials.size())
      chunk |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(credentials[i + 1])) << 8;
    if (i + 2 < credentials.size()) chunk |= static_cast<std::uint8_t>(credentials[i + 2]);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < credentials.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < credentials.size() ? kAlphabet[chunk & 63] : '=';
  }
  return "Basic " + out;
}

TEST(HttpAccess, UsersOfTheFileWithTheirPasswordsAreAllowed) {
  TempDir dir;
  auto credentials = HttpCredentials::load(dir.write("htpasswd", kUsers));
  EXPECT_EQ(credentials.size(), 2u);
  EXPECT_TRUE(credentials.allows(basic("ops-6:right horse")));
  EXPECT_TRUE(credentials.allows(basic("ops-b:battery staple")));
  EXPECT_TRUE(credentials.allows("basic " + basic("ops-6:right horse").substr(6)));  // the scheme's case is free
}

TEST(HttpAccess, WrongPasswordsUnknownUsersAndMalformedHeadersAreNot) {
  TempDir dir;
  auto credentials = HttpCredentials::load(dir.write("htpasswd", kUsers));
  for (const std::string& header :
       {basic("ops-6:wrong horse"), basic("ops-6:"), basic("ops-b:right horse"), basic("nobody:right horse"),
        basic("ops-6"), basic(":right horse"), std::string(""), std::string("Basic"), std::string("Basic "),
        std::string("Basic !!!"), std::string("Bearer abc"), "Digest " + basic("ops-6:right horse").substr(6),
        "Basic" + basic("ops-6:right horse").substr(6)}) {
    EXPECT_FALSE(credentials.allows(header)) << header;
  }
}

// A dashboard or a Prometheus scrape asks again and again with the same pair: it is hashed once.
// What is remembered is exactly the name and password that passed: not a near miss, not a failure.
TEST(HttpAccess, APairThatPassedIsNotHashedAgainAndFailuresAlwaysAre) {
  TempDir dir;
  auto credentials = HttpCredentials::load(dir.write("htpasswd", kUsers));
  const auto start = credentials.hashes();  // load() checks each hash once
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(credentials.allows(basic("ops-b:battery staple")));
  EXPECT_TRUE(credentials.allows("bAsIc " + basic("ops-b:battery staple").substr(6)));  // same pair
  EXPECT_EQ(credentials.hashes() - start, 1u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(credentials.allows(basic("ops-b:battery stapl")));
    EXPECT_FALSE(credentials.allows(basic("ops-b:battery staplee")));
    EXPECT_FALSE(credentials.allows(basic("ops-6:battery staple")));   // the password of another user
    EXPECT_FALSE(credentials.allows(basic("nobody:battery staple")));  // an unknown name is hashed too
  }
  EXPECT_EQ(credentials.hashes() - start, 13u);
  EXPECT_TRUE(credentials.allows(basic("ops-6:right horse")));
  EXPECT_TRUE(credentials.allows(basic("ops-6:right horse")));
  EXPECT_EQ(credentials.hashes() - start, 14u);
  // Malformed headers are refused before any hashing.
  EXPECT_FALSE(credentials.allows("Basic !!!"));
  EXPECT_FALSE(credentials.allows(basic("no colon")));
  EXPECT_EQ(credentials.hashes() - start, 14u);
}

// Wrong passwords from many connections at once: the hashings take turns, so a flood holds at
// most one CPU (httplib's other workers, and the aggregator's loop, keep the rest).
TEST(HttpAccess, HashingsTakeTurnsHoweverManyWorkersAsk) {
  TempDir dir;
  auto credentials = HttpCredentials::load(dir.write("htpasswd", kUsers));
  const auto start = credentials.hashes();
  std::vector<std::thread> workers;
  for (int w = 0; w < 6; ++w) {
    workers.emplace_back([&credentials, w] {
      for (int i = 0; i < 8; ++i) {
        EXPECT_FALSE(credentials.allows(basic("ops-b:guess " + std::to_string(w) + "-" + std::to_string(i))));
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(credentials.hashes() - start, 48u);
  EXPECT_EQ(credentials.most_hashing_at_once(), 1);
  // The right pair, asked by all of them at once, still passes everywhere.
  std::atomic<int> allowed{0};
  workers.clear();
  for (int w = 0; w < 6; ++w) {
    workers.emplace_back([&] { allowed += credentials.allows(basic("ops-b:battery staple")) ? 1 : 0; });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(allowed.load(), 6);
  EXPECT_EQ(credentials.hashes() - start, 49u);  // the others found it verified when their turn came
}

TEST(HttpAccess, EmptyFileAllowsNobody) {
  TempDir dir;
  auto credentials = HttpCredentials::load(dir.write("htpasswd", "# nobody yet\n"));
  EXPECT_EQ(credentials.size(), 0u);
  EXPECT_FALSE(credentials.allows(basic("ops-6:right horse")));
}

TEST(HttpAccess, BadFilesAreRefusedNamingFileAndLine) {
  TempDir dir;
  std::string message = usage_error_of([&] { HttpCredentials::load(dir / "missing"); });
  EXPECT_TRUE(has(message, (dir / "missing").string() + ": cannot read")) << message;
  struct Case {
    std::string content;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"ops:$apr1$abc$def\n", "htpasswd:1: the hash of 'ops'"},  // htpasswd's MD5: not supported
           {"# c\nops:$1$abc$def\n", "htpasswd:2: the hash of 'ops'"},
           {"ops:plain\n", "htpasswd:1: the hash of 'ops'"},
           {"ops:$6$\n", "htpasswd:1: the hash of 'ops'"},  // cut short: would never match
           {"ops:\n", "htpasswd:1: the hash of 'ops'"},
           {"no colon\n", "htpasswd:1: expected NAME:HASH"},
           {":$2b$05$abcdefghijklmnopqrstuumjewjQVmxxbBHy234HdGTOAqOuVnhhy\n", "htpasswd:1: expected NAME:HASH"},
           {std::string(kUsers) + "ops-b:$2b$05$abcdefghijklmnopqrstuumjewjQVmxxbBHy234HdGTOAqOuVnhhy\n",
            "htpasswd:5: user 'ops-b' appears twice"},
       }) {
    auto file = dir.write("htpasswd", c.content);
    message = usage_error_of([&] { HttpCredentials::load(file); });
    EXPECT_TRUE(has(message, c.expected)) << c.content << " -> " << message;
  }
}

}  // namespace
