// The bans document (common/bans_json.hpp) of GET /api/v1/bans and `fleetban list --json`: active
// decisions only, by address, every field, names escaped, and the paged form with "next".

#include "common/bans_json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace {

using fleetban::common::bans_json;
using fleetban::common::bans_page_json;
using fleetban::common::Decision;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using nlohmann::json;

Decision decision(std::string_view ip, bool active = true) {
  Decision d;
  d.prefix = *IpPrefix::parse(ip);
  d.active = active;
  d.banned_at = from_unix(1'795'650'000);
  d.expires_at = from_unix(1'795'653'600);
  d.reporters = {"web-01", "web-02"};
  d.jails = {"sshd"};
  d.reporter_count = 2;
  d.jail_count = 1;
  d.ban_count = 3;
  return d;
}

std::vector<std::string> addresses(const json& document) {
  std::vector<std::string> out;
  for (const auto& ban : document.at("bans")) out.push_back(ban.at("ip").get<std::string>());
  return out;
}

TEST(BansJson, EmptyFleetIsAnEmptyList) { EXPECT_EQ(json::parse(bans_json({})), json::parse(R"({"bans": []})")); }

TEST(BansJson, OneBanHasEveryField) {
  auto document = json::parse(bans_json({decision("192.0.2.7")}));
  EXPECT_EQ(document, json::parse(R"({"bans": [{"ip": "192.0.2.7", "expires_at": 1795653600,
      "reporters": ["web-01", "web-02"], "jails": ["sshd"], "reporter_count": 2, "jail_count": 1,
      "ban_count": 3}]})"));
}

TEST(BansJson, PermanentBanExpiresAtNull) {
  Decision d = decision("2001:db8::/48");
  d.expires_at.reset();
  auto document = json::parse(bans_json({d}));
  EXPECT_TRUE(document["bans"][0]["expires_at"].is_null());
  EXPECT_EQ(document["bans"][0]["ip"], "2001:db8::/48");
}

TEST(BansJson, OnlyActiveDecisionsOrderedByAddress) {
  auto document = json::parse(bans_json({decision("198.51.100.9"), decision("192.0.2.200", false),
                                         decision("2001:db8::1"), decision("192.0.2.10"), decision("192.0.2.9")}));
  EXPECT_EQ(addresses(document), (std::vector<std::string>{"192.0.2.9", "192.0.2.10", "198.51.100.9", "2001:db8::1"}));
}

TEST(BansJson, CountsAreNeverBelowTheListedNames) {
  Decision d = decision("192.0.2.7");
  d.reporter_count = 0;  // a record written before the counts existed
  d.jail_count = 0;
  auto ban = json::parse(bans_json({d}))["bans"][0];
  EXPECT_EQ(ban["reporter_count"], 2);
  EXPECT_EQ(ban["jail_count"], 1);
  d.reporter_count = 1000;  // names past the first 64 are counted, not listed
  EXPECT_EQ(json::parse(bans_json({d}))["bans"][0]["reporter_count"], 1000);
}

TEST(BansJson, NamesAreEscapedSoTheDocumentStaysValid) {
  Decision d = decision("192.0.2.7");
  d.reporters = {"quote\"back\\slash", std::string("new\nline\x01")};
  auto document = json::parse(bans_json({d}));  // throws if the writer broke the document
  EXPECT_EQ(document["bans"][0]["reporters"][0], "quote\"back\\slash");
  EXPECT_EQ(document["bans"][0]["reporters"][1], std::string("new\nline\x01"));
}

TEST(BansJson, PageKeepsTheGivenOrderSkipsInactiveAndNamesNext) {
  auto document = json::parse(bans_page_json(
      {decision("198.51.100.9"), decision("192.0.2.1", false), decision("192.0.2.5")}, *IpPrefix::parse("192.0.2.5")));
  EXPECT_EQ(addresses(document), (std::vector<std::string>{"198.51.100.9", "192.0.2.5"}));
  EXPECT_EQ(document["next"], "192.0.2.5");
}

TEST(BansJson, LastPageHasNextNull) {
  auto document = json::parse(bans_page_json({decision("192.0.2.5")}, std::nullopt));
  EXPECT_TRUE(document["next"].is_null());
  EXPECT_EQ(document["bans"].size(), 1u);
  EXPECT_EQ(json::parse(bans_page_json({}, std::nullopt)), json::parse(R"({"bans": [], "next": null})"));
}

}  // namespace
