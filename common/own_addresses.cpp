#include "common/own_addresses.hpp"

#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <optional>
#include <string>

namespace fleetban::common {

namespace {

std::optional<IpPrefix> from_sockaddr(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return IpPrefix::from_bytes({reinterpret_cast<const char*>(&v4->sin_addr), 4}, 32);
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    return IpPrefix::from_bytes({reinterpret_cast<const char*>(&v6->sin6_addr), 16}, 128);
  }
  return std::nullopt;
}

void add_unique(std::vector<IpPrefix>& list, const IpPrefix& prefix) {
  if (std::find(list.begin(), list.end(), prefix) == list.end()) list.push_back(prefix);
}

// The addresses of interfaces named `name`, or of all of them when `name` is empty.
std::vector<IpPrefix> addresses_of_interfaces(std::string_view name) {
  std::vector<IpPrefix> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (!name.empty() && (i->ifa_name == nullptr || name != i->ifa_name)) continue;
    if (auto prefix = from_sockaddr(i->ifa_addr)) add_unique(out, *prefix);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace

const std::vector<IpPrefix>& loopback_prefixes() {
  static const std::vector<IpPrefix> loopback{*IpPrefix::parse("127.0.0.0/8"), *IpPrefix::parse("::1")};
  return loopback;
}

std::vector<IpPrefix> interface_addresses() { return addresses_of_interfaces(""); }

std::vector<IpPrefix> endpoint_addresses(std::string_view endpoint) {
  constexpr std::string_view kTcp = "tcp://";
  if (!endpoint.starts_with(kTcp)) return {};
  endpoint.remove_prefix(kTcp.size());
  if (auto semicolon = endpoint.find(';'); semicolon != std::string_view::npos) endpoint.remove_prefix(semicolon + 1);
  auto colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return {};
  std::string host(endpoint.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return {};
  if (host == "*") return interface_addresses();
  if (auto address = IpPrefix::parse(host)) {
    if (address->to_string() == "0.0.0.0" || address->to_string() == "::") return interface_addresses();
    return {*address};
  }
  if (auto named = addresses_of_interfaces(host); !named.empty()) return named;
  std::vector<IpPrefix> out;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return out;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (auto prefix = from_sockaddr(a->ai_addr)) add_unique(out, *prefix);
  }
  freeaddrinfo(found);
  return out;
}

}  // namespace fleetban::common
