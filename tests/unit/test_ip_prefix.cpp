#include "common/ip_prefix.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "printers.hpp"

namespace {

using fleetban::common::Family;
using fleetban::common::IpPrefix;

IpPrefix p(std::string_view text) {
  auto prefix = IpPrefix::parse(text);
  if (!prefix) throw std::runtime_error("test prefix does not parse: " + std::string(text));
  return *prefix;
}

// IPv4 text is written by hand (not inet_ntop): it must be exactly what inet_ntop writes, for
// every byte value in every position, and with every prefix length.
TEST(IpPrefix, Ipv4TextIsWhatInetNtopWrites) {
  for (unsigned position = 0; position < 4; ++position) {
    for (unsigned value = 0; value < 256; ++value) {
      std::array<std::uint8_t, 4> bytes = {192, 0, 2, 7};
      bytes[position] = static_cast<std::uint8_t>(value);
      char expected[INET_ADDRSTRLEN] = {};
      ASSERT_NE(inet_ntop(AF_INET, bytes.data(), expected, sizeof expected), nullptr);
      auto prefix = IpPrefix::from_bytes(std::string_view(reinterpret_cast<const char*>(bytes.data()), 4), 32);
      ASSERT_TRUE(prefix);
      ASSERT_EQ(prefix->to_string(), expected);
      ASSERT_EQ(IpPrefix::parse(prefix->to_string()), prefix);
    }
  }
  const std::array<std::uint8_t, 4> widest = {255, 255, 255, 255};
  for (unsigned length = 0; length <= 32; ++length) {
    auto prefix = IpPrefix::from_bytes(std::string_view(reinterpret_cast<const char*>(widest.data()), 4), length);
    ASSERT_TRUE(prefix);
    const std::string text = prefix->to_string();
    EXPECT_EQ(IpPrefix::parse(text), prefix) << text;
    if (length < 32) {
      EXPECT_TRUE(text.ends_with("/" + std::to_string(length))) << text;
    }
  }
  EXPECT_EQ(p("255.255.255.255").to_string(), "255.255.255.255");
  EXPECT_EQ(p("255.255.255.254/31").to_string(), "255.255.255.254/31");
  EXPECT_EQ(p("2001:db8:ffff:ffff:ffff:ffff:ffff:ff00/120").to_string(), "2001:db8:ffff:ffff:ffff:ffff:ffff:ff00/120");
}

// IPv6 text too: every pattern of zero and non-zero groups (which decides the "::" run and the
// embedded IPv4 forms), with small, large and mixed group values, then random addresses.
TEST(IpPrefix, Ipv6TextIsWhatInetNtopWrites) {
  auto check = [](const std::array<std::uint8_t, 16>& bytes) {
    char expected[INET6_ADDRSTRLEN] = {};
    ASSERT_NE(inet_ntop(AF_INET6, bytes.data(), expected, sizeof expected), nullptr);
    auto prefix = IpPrefix::from_bytes(std::string_view(reinterpret_cast<const char*>(bytes.data()), 16), 128);
    ASSERT_TRUE(prefix);
    if (prefix->family() == Family::v4) return;  // ::ffff:a.b.c.d is kept as the IPv4 address it maps
    ASSERT_EQ(prefix->to_string(), expected);
    ASSERT_EQ(IpPrefix::parse(prefix->to_string()), prefix) << expected;
  };
  const std::vector<unsigned> values = {0x1, 0xffff, 0x0db8, 0x10, 0xabc, 0x100, 0xf00d};
  for (unsigned mask = 0; mask < 256; ++mask) {
    for (std::size_t v = 0; v < values.size(); ++v) {
      std::array<std::uint8_t, 16> bytes{};
      for (std::size_t g = 0; g < 8; ++g) {
        if ((mask >> g & 1u) == 0) continue;
        const unsigned value = values[(v + g) % values.size()];
        bytes[2 * g] = static_cast<std::uint8_t>(value >> 8);
        bytes[2 * g + 1] = static_cast<std::uint8_t>(value & 0xff);
      }
      check(bytes);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  std::mt19937_64 random(7);
  for (int i = 0; i < 100'000; ++i) {
    std::array<std::uint8_t, 16> bytes{};
    for (auto& byte : bytes) byte = static_cast<std::uint8_t>(random());
    // Zero some groups, so that runs of every length and place come up.
    for (std::size_t g = 0; g < 8; ++g) {
      if (random() % 2 == 0) bytes[2 * g] = bytes[2 * g + 1] = 0;
    }
    if (random() % 8 == 0) bytes[10] = bytes[11] = 0xff;
    check(bytes);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_EQ(p("::192.0.2.7").to_string(), "::192.0.2.7");
  EXPECT_EQ(p("::1").to_string(), "::1");
  EXPECT_EQ(p("::/0").to_string(), "::/0");
  EXPECT_EQ(p("2001:db8:0:0:1:0:0:1").to_string(), "2001:db8::1:0:0:1");
  EXPECT_EQ(p("2001:db8::/32").to_string(), "2001:db8::/32");
}

TEST(IpPrefix, ParsesIpv4AddressAsFullLength) {
  auto prefix = IpPrefix::parse("192.0.2.7");
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->family(), Family::v4);
  EXPECT_EQ(prefix->length(), 32u);
  EXPECT_TRUE(prefix->is_address());
  EXPECT_EQ(prefix->bytes(), std::string("\xc0\x00\x02\x07", 4));
  EXPECT_EQ(prefix->to_string(), "192.0.2.7");
}

TEST(IpPrefix, ParsesIpv6AddressAsFullLength) {
  auto prefix = IpPrefix::parse("2001:db8::5");
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->family(), Family::v6);
  EXPECT_EQ(prefix->length(), 128u);
  EXPECT_TRUE(prefix->is_address());
  ASSERT_EQ(prefix->bytes().size(), 16u);
  EXPECT_EQ(prefix->bytes().substr(0, 4), std::string("\x20\x01\x0d\xb8", 4));
  EXPECT_EQ(prefix->bytes()[15], '\x05');
  EXPECT_EQ(prefix->to_string(), "2001:db8::5");
}

TEST(IpPrefix, ParsesCidrPrefixes) {
  auto v4 = IpPrefix::parse("198.51.100.0/24");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->family(), Family::v4);
  EXPECT_EQ(v4->length(), 24u);
  EXPECT_FALSE(v4->is_address());
  EXPECT_EQ(v4->to_string(), "198.51.100.0/24");

  auto v6 = IpPrefix::parse("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family(), Family::v6);
  EXPECT_EQ(v6->length(), 32u);
  EXPECT_EQ(v6->to_string(), "2001:db8::/32");
}

TEST(IpPrefix, ExplicitFullLengthIsTheAddress) {
  EXPECT_EQ(p("192.0.2.7/32"), p("192.0.2.7"));
  EXPECT_EQ(p("192.0.2.7/32").to_string(), "192.0.2.7");
  EXPECT_EQ(p("2001:db8::5/128"), p("2001:db8::5"));
  EXPECT_EQ(p("2001:db8::5/128").to_string(), "2001:db8::5");
}

TEST(IpPrefix, ZeroLengthPrefixesAreAccepted) {
  EXPECT_EQ(p("203.0.113.9/0").to_string(), "0.0.0.0/0");
  EXPECT_EQ(p("2001:db8::1/0").to_string(), "::/0");
}

TEST(IpPrefix, HostBitsBelowTheLengthAreCleared) {
  EXPECT_EQ(p("192.0.2.7/24").to_string(), "192.0.2.0/24");
  EXPECT_EQ(p("192.0.2.7/24"), p("192.0.2.0/24"));
  EXPECT_EQ(p("192.0.2.255/25").to_string(), "192.0.2.128/25");
  EXPECT_EQ(p("10.255.255.255/9").to_string(), "10.128.0.0/9");
  EXPECT_EQ(p("2001:db8:1234:5678::1/48").to_string(), "2001:db8:1234::/48");
  EXPECT_EQ(p("2001:db8:ffff::/33").to_string(), "2001:db8:8000::/33");
}

TEST(IpPrefix, Ipv4MappedIpv6BecomesIpv4) {
  auto mapped = IpPrefix::parse("::ffff:192.0.2.7");
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped->family(), Family::v4);
  EXPECT_EQ(mapped->length(), 32u);
  EXPECT_EQ(*mapped, p("192.0.2.7"));
  EXPECT_EQ(mapped->to_string(), "192.0.2.7");

  auto mapped_prefix = IpPrefix::parse("::ffff:192.0.2.0/120");
  ASSERT_TRUE(mapped_prefix);
  EXPECT_EQ(*mapped_prefix, p("192.0.2.0/24"));
}

TEST(IpPrefix, Ipv4CompatibleButNotMappedStaysIpv6) {
  // ::192.0.2.7 (no ffff) is not an IPv4-mapped address.
  auto prefix = IpPrefix::parse("::c000:207");
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->family(), Family::v6);
}

TEST(IpPrefix, RejectsGarbage) {
  for (const char* text : {"",
                           " 192.0.2.1",
                           "192.0.2.1 ",
                           "192.0.2.256",
                           "192.0.2.0/33",
                           "/24",
                           "192.0.2.0/024",
                           "2001:db8::/129",
                           "1.2.3",
                           "abc",
                           "192.0.2.0/",
                           "192.0.2.0/-1",
                           "192.0.2.0/+8",
                           "192.0.2.0/24/24",
                           "192.0.2.0/2x",
                           "192.0.2.1\n",
                           "2001:db8:::1",
                           "2001:db8::1%eth0",
                           "1.2.3.4.5",
                           "01.2.3.4",
                           "192.0.2.0/00",
                           "192.0.2.0/1000",
                           "::ffff:192.0.2.7/129"}) {
    EXPECT_FALSE(IpPrefix::parse(text)) << "accepted '" << text << "'";
  }
}

TEST(IpPrefix, RejectsOverlongText) {
  std::string text = "2001:0db8:0000:0000:0000:0000:0000:0001" + std::string(20, '0');
  EXPECT_FALSE(IpPrefix::parse(text));
}

TEST(IpPrefix, RejectsEmbeddedNul) {
  // A NUL can arrive inside a TOML string (a \\u escape); what follows it must not be ignored.
  EXPECT_FALSE(IpPrefix::parse(std::string_view("192.0.2.1\0junk", 14)));
}

TEST(IpPrefix, CanonicalTextOfIpv6IsCompressedLowercase) {
  EXPECT_EQ(p("2001:0DB8:0000:0000:0000:0000:0000:0001").to_string(), "2001:db8::1");
  EXPECT_EQ(p("2001:DB8:0:0:1:0:0:1").to_string(), "2001:db8::1:0:0:1");
  EXPECT_EQ(p("::").to_string(), "::");
  EXPECT_EQ(p("::1").to_string(), "::1");
}

TEST(IpPrefix, ToStringParsesBackToTheSameValue) {
  for (const char* text : {"192.0.2.7", "198.51.100.0/24", "0.0.0.0/0", "2001:db8::5", "2001:db8::/32", "::/0",
                           "fe80::1:2:3:4", "255.255.255.255"}) {
    IpPrefix prefix = p(text);
    EXPECT_EQ(p(prefix.to_string()), prefix) << text;
  }
}

TEST(IpPrefix, ContainsItselfAndLongerPrefixesInside) {
  IpPrefix net = p("198.51.100.0/24");
  EXPECT_TRUE(net.contains(net));
  EXPECT_TRUE(net.contains(p("198.51.100.7")));
  EXPECT_TRUE(net.contains(p("198.51.100.128/25")));
  EXPECT_FALSE(net.contains(p("198.51.101.7")));
  EXPECT_FALSE(net.contains(p("198.51.0.0/16")));  // shorter: not inside
  EXPECT_TRUE(p("198.51.0.0/16").contains(net));
  EXPECT_TRUE(p("0.0.0.0/0").contains(p("203.0.113.1")));
  EXPECT_FALSE(p("192.0.2.7").contains(p("192.0.2.8")));
}

TEST(IpPrefix, ContainsNeverCrossesFamilies) {
  EXPECT_FALSE(p("0.0.0.0/0").contains(p("2001:db8::1")));
  EXPECT_FALSE(p("::/0").contains(p("192.0.2.1")));
  EXPECT_FALSE(p("::/0").overlaps(p("0.0.0.0/0")));
  // The address bytes of 192.0.2.1 equal the first bytes of c000:201::; still no match.
  EXPECT_FALSE(p("c000:201::/32").contains(p("192.0.2.1")));
  EXPECT_FALSE(p("192.0.2.0/24").overlaps(p("c000:200::/24")));
}

TEST(IpPrefix, Ipv6ContainmentAcrossLengths) {
  IpPrefix site = p("2001:db8:ffff::/48");
  EXPECT_TRUE(site.contains(p("2001:db8:ffff:1::9")));
  EXPECT_TRUE(site.contains(p("2001:db8:ffff:1::/64")));
  EXPECT_FALSE(site.contains(p("2001:db8:fffe::1")));
  EXPECT_FALSE(site.contains(p("2001:db8::/32")));
  EXPECT_TRUE(p("2001:db8::/32").contains(site));
}

TEST(IpPrefix, OverlapsIsSymmetric) {
  IpPrefix wide = p("10.0.0.0/8");
  IpPrefix narrow = p("10.1.2.0/24");
  IpPrefix other = p("11.0.0.0/8");
  EXPECT_TRUE(wide.overlaps(narrow));
  EXPECT_TRUE(narrow.overlaps(wide));
  EXPECT_FALSE(wide.overlaps(other));
  EXPECT_FALSE(other.overlaps(narrow));
  EXPECT_TRUE(p("10.1.2.3").overlaps(wide));
}

TEST(IpPrefix, TruncatedGivesTheEnclosingPrefixAndNeverLengthens) {
  IpPrefix address = p("192.0.2.77");
  EXPECT_EQ(address.truncated(24), p("192.0.2.0/24"));
  EXPECT_EQ(address.truncated(0), p("0.0.0.0/0"));
  EXPECT_EQ(p("192.0.2.0/24").truncated(30), p("192.0.2.0/24"));
  EXPECT_EQ(p("2001:db8::1").truncated(64), p("2001:db8::/64"));
}

TEST(IpPrefix, FromBytesBuildsBothFamilies) {
  auto v4 = IpPrefix::from_bytes(std::string("\xc0\x00\x02\x07", 4), 32);
  ASSERT_TRUE(v4);
  EXPECT_EQ(*v4, p("192.0.2.7"));

  auto v4_net = IpPrefix::from_bytes(std::string("\xc0\x00\x02\x07", 4), 24);
  ASSERT_TRUE(v4_net);
  EXPECT_EQ(*v4_net, p("192.0.2.0/24"));  // host bits cleared here too

  IpPrefix v6 = p("2001:db8::5");
  auto round = IpPrefix::from_bytes(v6.bytes(), 128);
  ASSERT_TRUE(round);
  EXPECT_EQ(*round, v6);
}

// The wire carries raw bytes: a mapped address there must be the IPv4 address too, or a ban of
// ::ffff:10.0.0.1 would slip past a 10.0.0.0/8 allowlist.
TEST(IpPrefix, FromBytesTurnsMappedAddressesIntoIpv4) {
  std::string mapped(10, '\0');
  mapped += std::string("\xff\xff\x0a\x00\x00\x01", 6);
  auto address = IpPrefix::from_bytes(mapped, 128);
  ASSERT_TRUE(address);
  EXPECT_EQ(address->family(), Family::v4);
  EXPECT_EQ(*address, p("10.0.0.1"));
  EXPECT_TRUE(p("10.0.0.0/8").contains(*address));

  auto prefix = IpPrefix::from_bytes(mapped, 104);
  ASSERT_TRUE(prefix);
  EXPECT_EQ(*prefix, p("10.0.0.0/8"));
  EXPECT_EQ(*prefix, p("::ffff:10.0.0.1/104"));  // as parse() gives it

  // Shorter than /96 it covers more than IPv4 space: it stays IPv6, as in parse().
  auto wide = IpPrefix::from_bytes(mapped, 80);
  ASSERT_TRUE(wide);
  EXPECT_EQ(wide->family(), Family::v6);
  EXPECT_EQ(*wide, p("::ffff:10.0.0.1/80"));
}

TEST(IpPrefix, FromBytesRejectsWrongSizesAndLengths) {
  EXPECT_FALSE(IpPrefix::from_bytes("", 0));
  EXPECT_FALSE(IpPrefix::from_bytes(std::string(3, '\x01'), 24));
  EXPECT_FALSE(IpPrefix::from_bytes(std::string(5, '\x01'), 32));
  EXPECT_FALSE(IpPrefix::from_bytes(std::string(15, '\x01'), 64));
  EXPECT_FALSE(IpPrefix::from_bytes(std::string(17, '\x01'), 64));
  EXPECT_FALSE(IpPrefix::from_bytes(std::string(4, '\x01'), 33));
  EXPECT_FALSE(IpPrefix::from_bytes(std::string(16, '\x01'), 129));
  EXPECT_FALSE(IpPrefix::from_bytes(std::string(4, '\x01'), 4'000'000'000u));
}

TEST(IpPrefix, EqualityIgnoresClearedHostBitsButNotLengthOrFamily) {
  EXPECT_EQ(p("192.0.2.1/24"), p("192.0.2.200/24"));
  EXPECT_NE(p("192.0.2.0/24"), p("192.0.2.0/25"));
  EXPECT_NE(p("192.0.2.0/24"), p("192.0.3.0/24"));
  EXPECT_NE(p("0.0.0.0/0"), p("::/0"));
}

TEST(IpPrefix, EqualValuesHashEquallyAndWorkAsKeys) {
  std::hash<IpPrefix> hash;
  EXPECT_EQ(hash(p("192.0.2.1/24")), hash(p("192.0.2.200/24")));
  EXPECT_EQ(hash(p("::ffff:192.0.2.7")), hash(p("192.0.2.7")));

  std::unordered_set<IpPrefix> set;
  set.insert(p("192.0.2.7"));
  set.insert(p("::ffff:192.0.2.7"));
  set.insert(p("192.0.2.0/24"));
  set.insert(p("192.0.2.99/24"));
  set.insert(p("192.0.2.0/25"));
  set.insert(p("2001:db8::1"));
  EXPECT_EQ(set.size(), 4u);
  EXPECT_TRUE(set.contains(p("192.0.2.0/25")));
  EXPECT_FALSE(set.contains(p("192.0.2.0/26")));
}

TEST(IpPrefix, DefaultIsTheUnspecifiedIpv4Address) {
  IpPrefix prefix;
  EXPECT_EQ(prefix, p("0.0.0.0"));
  EXPECT_EQ(prefix.to_string(), "0.0.0.0");
}

}  // namespace
