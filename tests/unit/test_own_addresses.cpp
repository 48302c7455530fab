// The addresses the fleet never bans (common/own_addresses.hpp): loopback, this machine's
// interfaces, and what an endpoint stands for, bad endpoints included.

#include "common/own_addresses.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "printers.hpp"

namespace {

using fleetban::common::endpoint_addresses;
using fleetban::common::interface_addresses;
using fleetban::common::IpPrefix;
using fleetban::common::loopback_prefixes;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

bool contains(const std::vector<IpPrefix>& list, std::string_view text) {
  return std::find(list.begin(), list.end(), p(text)) != list.end();
}

TEST(OwnAddresses, LoopbackIsBothFamilies) {
  EXPECT_EQ(loopback_prefixes(), (std::vector<IpPrefix>{p("127.0.0.0/8"), p("::1")}));
}

TEST(OwnAddresses, InterfacesIncludeLoopbackOnceEach) {
  auto addresses = interface_addresses();
  EXPECT_TRUE(contains(addresses, "127.0.0.1"));
  for (const auto& address : addresses) {
    EXPECT_EQ(std::count(addresses.begin(), addresses.end(), address), 1) << address.to_string();
  }
}

TEST(OwnAddresses, AnAddressEndpointIsThatAddress) {
  EXPECT_EQ(endpoint_addresses("tcp://198.51.100.5:7780"), std::vector<IpPrefix>{p("198.51.100.5")});
  EXPECT_EQ(endpoint_addresses("tcp://[2001:db8::5]:7780"), std::vector<IpPrefix>{p("2001:db8::5")});
}

TEST(OwnAddresses, TheSourceOfAConnectionIsNotTheAggregator) {
  EXPECT_EQ(endpoint_addresses("tcp://192.0.2.7:0;198.51.100.5:7780"), std::vector<IpPrefix>{p("198.51.100.5")});
}

TEST(OwnAddresses, AWildcardIsEveryInterface) {
  auto every = interface_addresses();
  for (const char* endpoint : {"tcp://*:7780", "tcp://0.0.0.0:7780", "tcp://[::]:7780"}) {
    auto found = endpoint_addresses(endpoint);
    EXPECT_EQ(found, every) << endpoint;
  }
}

TEST(OwnAddresses, AnInterfaceNameIsItsAddresses) {
  auto lo = endpoint_addresses("tcp://lo:7780");
  EXPECT_TRUE(contains(lo, "127.0.0.1"));
  EXPECT_FALSE(contains(lo, "198.51.100.5"));
}

TEST(OwnAddresses, AHostNameIsWhatItResolvesTo) {
  EXPECT_TRUE(contains(endpoint_addresses("tcp://localhost:7780"), "127.0.0.1"));
}

TEST(OwnAddresses, OtherTransportsAndMalformedEndpointsStandForNothing) {
  for (const char* endpoint : {"ipc:///run/fleetban.sock", "inproc://x", "", "tcp://", "tcp://198.51.100.5",
                               "tcp://:7780", "tcp://[]:7780", "udp://198.51.100.5:7780"}) {
    EXPECT_TRUE(endpoint_addresses(endpoint).empty()) << endpoint;
  }
}

}  // namespace
