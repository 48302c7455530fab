// libFuzzer target: the wire decoder. Whatever arrives on a socket, decoding must not crash, and
// whatever decodes must encode and decode again to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/codec.hpp"

using namespace fleetban::common;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  if (auto request = decode_request(frame)) {
    auto again = decode_request(encode(*request));
    if (!again || encode(*again) != encode(*request)) std::abort();
  }
  if (auto reply = decode_reply(frame)) {
    if (!decode_reply(encode(*reply))) std::abort();
  }
  if (auto broadcast = decode_broadcast(frame)) {
    if (!decode_broadcast(encode(*broadcast))) std::abort();
  }
  if (auto event = decode_event(frame)) {
    if (!decode_event(encode_event(*event))) std::abort();
  }
  return 0;
}
