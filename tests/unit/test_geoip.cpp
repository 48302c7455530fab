#include "aggregator/geoip.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <tuple>

#include "common/errors.hpp"
#include "temp_dir.hpp"

namespace {

using fleetban::aggregator::GeoIp;
using fleetban::common::IpPrefix;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

// tests/geoip/make_test_mmdb.pl KIND DIR/KIND.mmdb (Debian's libmaxmind-db-writer-perl).
std::filesystem::path make_mmdb(const fleetban::testing::TempDir& dir, const std::string& kind) {
  auto file = dir / (kind + ".mmdb");
  std::string command = "perl '" + std::string(FLEETBAN_MAKE_TEST_MMDB) + "' " + kind + " '" + file.string() + "'";
  EXPECT_EQ(std::system(command.c_str()), 0) << command << " (libmaxmind-db-writer-perl: make deps)";
  return file;
}

TEST(GeoIp, OffWithoutFiles) {
  GeoIp geoip({}, {});
  EXPECT_FALSE(geoip.enabled());
  EXPECT_EQ(geoip.tag(p("192.0.2.1")), nullptr);
  auto geo = geoip.lookup(p("192.0.2.1"));
  EXPECT_EQ(geo.country, "");
  EXPECT_EQ(geo.asn, 0u);
}

TEST(GeoIp, LooksUpCountryAndNetworkOfAddressesAndPrefixes) {
  fleetban::testing::TempDir dir;
  GeoIp geoip(make_mmdb(dir, "country"), make_mmdb(dir, "asn"));
  ASSERT_TRUE(geoip.enabled());

  auto geo = geoip.lookup(p("192.0.2.10"));
  EXPECT_EQ(geo.country, "NL");
  EXPECT_EQ(geo.asn, 64496u);
  EXPECT_EQ(geo.as_org, "Example Net");

  geo = geoip.lookup(p("192.0.2.200"));  // outside the ASN's 192.0.2.0/25
  EXPECT_EQ(geo.country, "NL");
  EXPECT_EQ(geo.asn, 0u);
  EXPECT_EQ(geo.as_org, "");

  geo = geoip.lookup(p("198.51.100.0/24"));  // a prefix: its first address
  EXPECT_EQ(geo.country, "");
  EXPECT_EQ(geo.asn, 64500u);
  EXPECT_EQ(geo.as_org, "Example Transit");

  geo = geoip.lookup(p("2001:db8::5"));
  EXPECT_EQ(geo.country, "JP");
  EXPECT_EQ(geo.asn, 64501u);

  auto tag = geoip.tag(p("2001:db8:1::/48"));
  ASSERT_NE(tag, nullptr);
  EXPECT_EQ(tag->as_org, "Example Six");
}

TEST(GeoIp, ReadsIpLocationDbCountryCodes) {
  fleetban::testing::TempDir dir;
  GeoIp geoip(make_mmdb(dir, "country-code"), {});
  EXPECT_EQ(geoip.lookup(p("192.0.2.10")).country, "NL");
  EXPECT_EQ(geoip.lookup(p("2001:db8::5")).country, "JP");
  EXPECT_EQ(geoip.lookup(p("198.51.100.1")).country, "");
}

TEST(GeoIp, ABadOrMissingFileIsAUsageErrorNamingKeyAndFile) {
  fleetban::testing::TempDir dir;
  auto text = dir.write("country.txt", "192.0.2.0/24 NL\n");
  auto missing = dir / "missing.mmdb";
  for (const auto& [country, asn, key, file] :
       {std::tuple{text, std::filesystem::path(), "geoip_country_db", text},
        std::tuple{std::filesystem::path(), missing, "geoip_asn_db", missing}}) {
    try {
      GeoIp geoip(country, asn);
      ADD_FAILURE() << file << " was accepted";
    } catch (const fleetban::common::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
  }
}

}  // namespace
