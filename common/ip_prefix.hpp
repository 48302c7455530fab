#pragma once
// An IPv4 or IPv6 address or CIDR prefix, parsed once at the edge and passed around as a value.

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace fleetban::common {

enum class Family : std::uint8_t { v4 = 4, v6 = 6 };

class IpPrefix {
 public:
  // 0.0.0.0, the unspecified address: only a placeholder until a parsed value is assigned.
  IpPrefix() = default;

  // Accepts "192.0.2.7", "2001:db8::5", "198.51.100.0/24", "2001:db8::/32".
  // Host bits below the prefix length are cleared ("192.0.2.7/24" is 192.0.2.0/24), and an
  // IPv4-mapped IPv6 address (::ffff:192.0.2.7) becomes the IPv4 address it carries.
  // Anything else, including surrounding spaces, gives nullopt.
  static std::optional<IpPrefix> parse(std::string_view text);

  // From raw address bytes (4 or 16) and a length, as carried on the wire; nullopt if inconsistent.
  // A mapped address (::ffff:a.b.c.d, length 96 or more) becomes IPv4 as in parse(): otherwise it
  // would pass IPv4 allowlists, and Fail2Ban (which converts it) would ban the IPv4 address.
  static std::optional<IpPrefix> from_bytes(std::string_view bytes, unsigned length);

  Family family() const { return family_; }
  unsigned length() const { return length_; }
  unsigned max_length() const { return family_ == Family::v4 ? 32 : 128; }
  bool is_address() const { return length_ == max_length(); }

  // The 4 or 16 address bytes.
  std::string_view bytes() const;

  // Canonical text: "192.0.2.7" for a whole address, "198.51.100.0/24" for a shorter prefix.
  std::string to_string() const;

  bool contains(const IpPrefix& other) const;
  bool overlaps(const IpPrefix& other) const { return contains(other) || other.contains(*this); }

  // The enclosing prefix of the given length (no longer than this one).
  IpPrefix truncated(unsigned length) const;

  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
  friend std::strong_ordering operator<=>(const IpPrefix&, const IpPrefix&) = default;

 private:
  IpPrefix(Family family, const std::array<std::uint8_t, 16>& bytes, unsigned length);

  Family family_ = Family::v4;
  std::uint8_t length_ = 32;
  std::array<std::uint8_t, 16> bytes_{};  // IPv4 uses the first 4
};

}  // namespace fleetban::common

// Fixed and unseeded: not for a table keyed by addresses from outside (common/seeded_hash.hpp).
template <>
struct std::hash<fleetban::common::IpPrefix> {
  std::size_t operator()(const fleetban::common::IpPrefix& p) const noexcept;
};
