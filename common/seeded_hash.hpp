#pragma once
// The hash of every table keyed by what comes from outside (the addresses a fleet bans, the event
// ids hosts pick), with a random seed per table: the aggregator's record, event-id and address
// tables, a subscriber's enforced table and nftables set, a relay's live copy. With a fixed hash, someone who controls
// a block of IPv6 addresses (a /64 sets the whole second word) could choose ones that collide and
// make every lookup a long probe, in the aggregator or in every host of the fleet at once. Not
// cryptographic, but the seed is never shown, so collisions cannot be computed.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>

#include "common/ip_prefix.hpp"

namespace fleetban::common {

struct HashSeed {
  std::uint64_t first = 0;
  std::uint64_t second = 0;

  static HashSeed random() {
    std::random_device device;
    auto word = [&] { return (std::uint64_t{device()} << 32) | device(); };
    return {word(), word()};
  }
};

// MurmurHash3's finaliser: a bijection that spreads every input bit over the whole word.
inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// Two words of key (and a small tag, such as a prefix length) to 64 well-mixed bits.
inline std::uint64_t seeded_hash(std::uint64_t first, std::uint64_t second, std::uint64_t tag, const HashSeed& seed) {
  return mix64(mix64(first ^ seed.first) ^ second ^ seed.second ^ (tag * 0x9e3779b97f4a7c15ULL));
}

// An address prefix under `seed`: its (zero-padded) bytes as two words, its family and length.
inline std::uint64_t seeded_hash(const IpPrefix& prefix, const HashSeed& seed) {
  std::uint64_t words[2] = {0, 0};
  std::string_view bytes = prefix.bytes();
  std::memcpy(words, bytes.data(), bytes.size());
  std::uint64_t tag = (static_cast<std::uint64_t>(prefix.family()) << 8) | prefix.length();
  return seeded_hash(words[0], words[1], tag, seed);
}

// For std::unordered_map<IpPrefix, ...>: each table its own seed.
struct SeededPrefixHash {
  HashSeed seed = HashSeed::random();
  std::size_t operator()(const IpPrefix& prefix) const noexcept { return seeded_hash(prefix, seed); }
};

}  // namespace fleetban::common
