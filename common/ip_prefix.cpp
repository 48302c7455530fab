#include "common/ip_prefix.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace fleetban::common {

namespace {

void clear_host_bits(std::array<std::uint8_t, 16>& bytes, unsigned length, unsigned max_length) {
  for (unsigned bit = length; bit < max_length; ++bit) {
    bytes[bit / 8] = static_cast<std::uint8_t>(bytes[bit / 8] & ~(0x80u >> (bit % 8)));
  }
}

bool is_v4_mapped(const std::array<std::uint8_t, 16>& b) {
  return std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) && b[10] == 0xff &&
         b[11] == 0xff;
}

}  // namespace

IpPrefix::IpPrefix(Family family, const std::array<std::uint8_t, 16>& bytes, unsigned length)
    : family_(family), length_(static_cast<std::uint8_t>(length)), bytes_(bytes) {
  clear_host_bits(bytes_, length, max_length());
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  // Longest IPv6 text form is 45 characters, plus "/128".
  if (text.empty() || text.size() > 49 || text.find('\0') != std::string_view::npos) return std::nullopt;
  std::string_view address = text;
  std::optional<unsigned> length;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
    length = value;
  }
  std::string address_z(address);  // inet_pton wants a NUL-terminated string
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET, address_z.c_str(), bytes.data()) == 1) {
    unsigned len = length.value_or(32);
    if (len > 32) return std::nullopt;
    return IpPrefix(Family::v4, bytes, len);
  }
  if (inet_pton(AF_INET6, address_z.c_str(), bytes.data()) == 1) {
    unsigned len = length.value_or(128);
    if (len > 128) return std::nullopt;
    if (is_v4_mapped(bytes) && len >= 96) {
      std::array<std::uint8_t, 16> v4{};
      std::copy(bytes.begin() + 12, bytes.end(), v4.begin());
      return IpPrefix(Family::v4, v4, len - 96);
    }
    return IpPrefix(Family::v6, bytes, len);
  }
  return std::nullopt;
}

std::optional<IpPrefix> IpPrefix::from_bytes(std::string_view raw, unsigned length) {
  std::array<std::uint8_t, 16> bytes{};
  if (raw.size() == 4 && length <= 32) {
    std::memcpy(bytes.data(), raw.data(), 4);
    return IpPrefix(Family::v4, bytes, length);
  }
  if (raw.size() == 16 && length <= 128) {
    std::memcpy(bytes.data(), raw.data(), 16);
    if (is_v4_mapped(bytes) && length >= 96) return from_bytes(raw.substr(12), length - 96);
    return IpPrefix(Family::v6, bytes, length);
  }
  return std::nullopt;
}

std::string_view IpPrefix::bytes() const {
  return {reinterpret_cast<const char*>(bytes_.data()), family_ == Family::v4 ? 4u : 16u};
}

// The text forms are written by hand: glibc's inet_ntop formats each IPv4 byte and IPv6 group
// through sprintf, which cost more than the rest of a subscriber's log line, and this runs for
// every decision on every host. They are exactly inet_ntop's (a test compares them).
namespace {

char* write_v4(char* out, char* limit, const std::uint8_t* b) {
  for (std::size_t i = 0; i < 4; ++i) {
    if (i > 0) *out++ = '.';
    out = std::to_chars(out, limit, b[i]).ptr;
  }
  return out;
}

// glibc's inet_ntop6: groups in lowercase hex without leading zeros; the longest run of two or
// more zero groups (the first of equal ones) as "::"; the last 32 bits as IPv4 when exactly the
// first six groups are zero (::a.b.c.d; ::1 and :: stay hex) or the first five, then ffff
// (::ffff:a.b.c.d).
char* write_v6(char* out, char* limit, const std::uint8_t* b) {
  std::array<unsigned, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) groups[i] = static_cast<unsigned>(b[2 * i] << 8 | b[2 * i + 1]);
  std::size_t best = 8, best_length = 0;
  for (std::size_t i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    std::size_t run = i;
    while (run < 8 && groups[run] == 0) ++run;
    if (run - i > best_length) {
      best = i;
      best_length = run - i;
    }
    i = run;
  }
  if (best_length < 2) best = 8, best_length = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    if (best < 8 && i >= best && i < best + best_length) {
      if (i == best) *out++ = ':';
      continue;
    }
    if (i != 0) *out++ = ':';
    if (i == 6 && best == 0 && (best_length == 6 || (best_length == 5 && groups[5] == 0xffff))) {
      return write_v4(out, limit, b + 12);
    }
    out = std::to_chars(out, limit, groups[i], 16).ptr;
  }
  if (best < 8 && best + best_length == 8) *out++ = ':';
  return out;
}

}  // namespace

std::string IpPrefix::to_string() const {
  char buffer[INET6_ADDRSTRLEN + 4] = {};  // and "/128"
  char* const limit = buffer + sizeof buffer;
  char* end = family_ == Family::v4 ? write_v4(buffer, limit, bytes_.data()) : write_v6(buffer, limit, bytes_.data());
  if (!is_address()) {
    *end++ = '/';
    end = std::to_chars(end, limit, length_).ptr;
  }
  return std::string(buffer, end);
}

bool IpPrefix::contains(const IpPrefix& other) const {
  if (family_ != other.family_ || other.length_ < length_) return false;
  return other.truncated(length_) == *this;
}

IpPrefix IpPrefix::truncated(unsigned length) const {
  return IpPrefix(family_, bytes_, std::min<unsigned>(length, length_));
}

}  // namespace fleetban::common

std::size_t std::hash<fleetban::common::IpPrefix>::operator()(const fleetban::common::IpPrefix& p) const noexcept {
  // Two 64-bit words of the (zero-padded) address and the length, mixed by multiplication. Fixed
  // and invertible: anyone can choose addresses that collide under it, so no table keyed by
  // addresses from outside may use it. Those take common::SeededPrefixHash (common/seeded_hash.hpp).
  std::uint64_t words[2] = {0, 0};
  std::string_view bytes = p.bytes();
  std::memcpy(words, bytes.data(), bytes.size());
  std::uint64_t h = (words[0] * 0x9e3779b97f4a7c15ULL) ^ (words[1] * 0xc2b2ae3d27d4eb4fULL) ^ p.length();
  return static_cast<std::size_t>(h ^ (h >> 29));
}
