// The history document of GET /api/v1/bans/IP and `fleetban show --json`, built in one place.

#include "common/history_json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace {

using namespace fleetban::common;

TEST(HistoryJson, HoldsTheDecisionAsAnEntryOfTheBansAndTheRowsInTheirOrder) {
  AddressHistory h;
  h.prefix = *IpPrefix::parse("192.0.2.7");
  Decision d;
  d.prefix = h.prefix;
  d.active = true;
  d.expires_at = from_unix(1'795'650'600);
  d.reporters = {"web-01"};
  d.jails = {"sshd"};
  d.ban_count = 2;
  h.decision = d;
  h.ban_count = 2;
  h.entries = {{from_unix(1'795'650'000), HistoryKind::expired, true, "", "", "its 600 s were up"},
               {from_unix(1'795'649'000), HistoryKind::refused, false, "web-01", "sshd", "allowlisted (\"x\")"}};
  h.total = 7;
  EXPECT_EQ(history_json(h),
            R"({"ip":"192.0.2.7","decision":{"ip":"192.0.2.7","expires_at":1795650600,"reporters":["web-01"],)"
            R"("jails":["sshd"],"reporter_count":1,"jail_count":1,"ban_count":2},"ban_count":2,"history":[)"
            R"({"at":1795650000,"kind":"expired","host":null,"jail":null,"reason":"its 600 s were up","fleet":true},)"
            R"J({"at":1795649000,"kind":"refused","host":"web-01","jail":"sshd","reason":"allowlisted (\"x\")",)J"
            R"("fleet":false}],"history_total":7})");
  EXPECT_FALSE(nlohmann::json::parse(history_json(h)).is_discarded());
}

TEST(HistoryJson, AnAddressWithoutDecisionOrHistory) {
  AddressHistory h;
  h.prefix = *IpPrefix::parse("2001:db8::/48");
  EXPECT_EQ(history_json(h), R"({"ip":"2001:db8::/48","decision":null,"ban_count":0,"history":[],"history_total":0})");
}

}  // namespace
