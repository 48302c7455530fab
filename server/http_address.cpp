#include "server/http_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace fleetban::server {

namespace {

bool is_port(std::string_view text) {
  return !text.empty() && text.size() <= 5 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return (x | 0x20) == (y | 0x20); });
}

}  // namespace

std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress address;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") return std::nullopt;
    address.host = std::string(text.substr(1, close - 1));
    in6_addr unused{};
    if (inet_pton(AF_INET6, address.host.c_str(), &unused) != 1) return std::nullopt;
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    address.host = std::string(text.substr(0, colon));
    bool name_like = std::all_of(address.host.begin(), address.host.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    });
    if (!name_like) return std::nullopt;
    port = text.substr(colon + 1);
  }
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || address.port < 1 ||
      address.port > 65535) {
    return std::nullopt;
  }
  return address;
}

bool host_is_literal_or_localhost(std::string_view host) {
  if (host.starts_with('[')) {
    auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    std::string literal(host.substr(1, close - 1));
    std::string_view rest = host.substr(close + 1);
    in6_addr unused{};
    return inet_pton(AF_INET6, literal.c_str(), &unused) == 1 &&
           (rest.empty() || (rest.starts_with(':') && is_port(rest.substr(1))));
  }
  std::string_view name = host;
  if (auto colon = host.find(':'); colon != std::string_view::npos) {
    if (!is_port(host.substr(colon + 1))) return false;  // also refuses an unbracketed IPv6 address
    name = host.substr(0, colon);
  }
  in_addr unused{};
  return equals_ignoring_case(name, "localhost") || inet_pton(AF_INET, std::string(name).c_str(), &unused) == 1;
}

}  // namespace fleetban::server
