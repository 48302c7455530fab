#pragma once
// The hash of the aggregator's own tables, keyed with a random seed per process. Their keys come
// from outside (the addresses a fleet bans, the event ids hosts pick): with a fixed hash, someone
// who controls a block of IPv6 addresses could choose ones that collide and make every lookup a
// long probe. Not cryptographic, but the seed is never shown, so collisions cannot be computed.

#include <cstdint>
#include <random>

namespace fleetban::aggregator {

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

}  // namespace fleetban::aggregator
