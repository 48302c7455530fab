#include "common/ip_prefix.hpp"

#include <arpa/inet.h>

#include <algorithm>
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

std::string IpPrefix::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(family_ == Family::v4 ? AF_INET : AF_INET6, bytes_.data(), buffer, sizeof buffer);
  std::string text(buffer);
  if (!is_address()) text += "/" + std::to_string(length_);
  return text;
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
  // Two 64-bit words of the (zero-padded) address and the length, mixed by multiplication: this
  // runs on every lookup and rehash of the aggregator's tables, so it must be cheap.
  std::uint64_t words[2] = {0, 0};
  std::string_view bytes = p.bytes();
  std::memcpy(words, bytes.data(), bytes.size());
  std::uint64_t h = (words[0] * 0x9e3779b97f4a7c15ULL) ^ (words[1] * 0xc2b2ae3d27d4eb4fULL) ^ p.length();
  return static_cast<std::size_t>(h ^ (h >> 29));
}
