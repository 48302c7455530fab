// libFuzzer target: the address parser. A parsed prefix must print in a form that parses back to
// itself, and must contain itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/ip_prefix.hpp"

using fleetban::common::IpPrefix;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto prefix = IpPrefix::parse(text);
  if (!prefix) return 0;
  auto again = IpPrefix::parse(prefix->to_string());
  if (!again || *again != *prefix || !prefix->contains(*prefix)) std::abort();
  auto raw = IpPrefix::from_bytes(prefix->bytes(), prefix->length());
  if (!raw || *raw != *prefix) std::abort();
  return 0;
}
