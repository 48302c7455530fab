#include "common/event.hpp"

#include <random>

namespace fleetban::common {

EventId random_event_id() {
  // std::random_device reads the kernel's CSPRNG on Linux: ids from different hosts never collide.
  std::random_device device;
  EventId id{};
  for (std::size_t i = 0; i < id.size(); i += 4) {
    std::uint32_t word = device();
    for (std::size_t j = 0; j < 4; ++j) id[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
  }
  return id;
}

std::string to_hex(const EventId& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(id.size() * 2);
  for (std::uint8_t byte : id) {
    text += kDigits[byte >> 4];
    text += kDigits[byte & 0xf];
  }
  return text;
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front())) return false;
  for (char c : name) {
    if (!alnum(c) && c != '.' && c != '_' && c != '@' && c != ':' && c != '-') return false;
  }
  return true;
}

}  // namespace fleetban::common
