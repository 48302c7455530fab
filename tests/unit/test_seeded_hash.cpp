#include "common/seeded_hash.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

using fleetban::common::IpPrefix;
using fleetban::common::SeededPrefixHash;

// The constants of std::hash<IpPrefix> (common/ip_prefix.cpp), which an attacker can read too.
constexpr std::uint64_t kFirst = 0x9e3779b97f4a7c15ULL, kSecond = 0xc2b2ae3d27d4eb4fULL;

std::uint64_t inverse(std::uint64_t odd) {  // modulo 2^64, by Newton's iteration
  std::uint64_t x = odd;
  for (int i = 0; i < 6; ++i) x *= 2 - odd * x;
  return x;
}

// What an attacker who holds 2001:db8:0:1::/64 would have banned: `count` addresses of it whose
// unseeded hash falls in the same bucket of a table with `buckets` buckets. The /64 sets the second
// word of the address freely, and std::hash<IpPrefix> is invertible in it.
std::vector<IpPrefix> colliding_addresses(std::size_t count, std::size_t buckets) {
  std::string bytes = {'\x20', '\x01', '\x0d', '\xb8', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
  std::uint64_t first = 0;
  std::memcpy(&first, bytes.data(), 8);
  std::vector<IpPrefix> out;
  for (std::uint64_t k = 1; out.size() < count; ++k) {
    const std::uint64_t wanted = 7 + k * buckets;                      // the hash, all in bucket 7
    const std::uint64_t h = wanted ^ (wanted >> 29) ^ (wanted >> 58);  // before its final h ^ (h >> 29)
    const std::uint64_t second = (h ^ (first * kFirst) ^ 128) * inverse(kSecond);
    std::memcpy(bytes.data() + 8, &second, 8);
    out.push_back(*IpPrefix::from_bytes(bytes, 128));
  }
  return out;
}

TEST(SeededHash, AddressesChosenToCollideUnderTheFixedHashSpreadUnderTheSeededOne) {
  std::unordered_set<IpPrefix> probe;
  probe.reserve(2000);
  const std::size_t buckets = probe.bucket_count();
  auto addresses = colliding_addresses(1000, buckets);

  // The attack works against the fixed hash: every address in one bucket, every lookup a walk of 1,000.
  std::unordered_set<IpPrefix> fixed(addresses.begin(), addresses.end(), buckets);
  ASSERT_EQ(fixed.size(), 1000u);
  ASSERT_EQ(fixed.bucket_count(), buckets);
  EXPECT_EQ(fixed.bucket_size(fixed.bucket(addresses.front())), 1000u);

  std::unordered_set<IpPrefix, SeededPrefixHash> seeded(addresses.begin(), addresses.end(), buckets);
  ASSERT_EQ(seeded.size(), 1000u);
  std::size_t largest = 0;
  for (std::size_t b = 0; b < seeded.bucket_count(); ++b) largest = std::max(largest, seeded.bucket_size(b));
  EXPECT_LE(largest, 8u);  // about 0.5 per bucket: a bucket of 9 happens with odds below 1e-9
}

TEST(SeededHash, EachTableHasItsOwnSeedAndEqualPrefixesHashEqually) {
  auto a = *IpPrefix::parse("2001:db8::7");
  auto same = *IpPrefix::parse("2001:db8::7/128");
  SeededPrefixHash one, two;
  EXPECT_EQ(one(a), one(same));
  EXPECT_NE(one(a), two(a));  // 2^-64 of failing by chance
  EXPECT_NE(one(*IpPrefix::parse("192.0.2.0/24")), one(*IpPrefix::parse("192.0.2.0/25")));
  EXPECT_EQ(one(*IpPrefix::parse("::ffff:192.0.2.7")), one(*IpPrefix::parse("192.0.2.7")));
}

}  // namespace
