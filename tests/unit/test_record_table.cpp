// The aggregator's compact record table: what is set is what is got, names are shared and let go.

#include "aggregator/record_table.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

#include "printers.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using std::chrono::seconds;

constexpr std::int64_t T = 1'795'650'000;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

FleetRecord banned(const IpPrefix& prefix, std::vector<std::string> reporters) {
  FleetRecord r;
  r.decision.sequence = 3;
  r.decision.prefix = prefix;
  r.decision.active = true;
  r.decision.banned_at = from_unix(T);
  r.decision.expires_at = from_unix(T + 600);
  r.decision.reporters = std::move(reporters);
  r.decision.jails = {"sshd", "nginx"};
  r.decision.ban_count = 2;
  r.decision.reason = "by hand";
  r.last_duration = seconds(600);
  return r;
}

// Distinct addresses: IPv4 from 100.64.0.0/10 and IPv6 from 2001:db8::/32, alternately.
std::string address_text(std::uint32_t n) {
  if (n % 2 == 0) return fmt::format("100.{}.{}.{}", 64 + (n >> 16), (n >> 8) & 255, n & 255);
  return fmt::format("2001:db8::{:x}:{:x}", n >> 16, n & 0xffff);
}

void expect_same(const FleetRecord& got, const FleetRecord& want) {
  const auto &g = got.decision, &w = want.decision;
  EXPECT_EQ(g.sequence, w.sequence);
  EXPECT_EQ(g.prefix, w.prefix);
  EXPECT_EQ(g.active, w.active);
  EXPECT_EQ(g.banned_at, w.banned_at);
  EXPECT_EQ(g.expires_at, w.expires_at);
  EXPECT_EQ(g.reporters, w.reporters);
  EXPECT_EQ(g.jails, w.jails);
  EXPECT_EQ(g.ban_count, w.ban_count);
  EXPECT_EQ(g.reason, w.reason);
  EXPECT_EQ(got.reports, want.reports);
  EXPECT_EQ(got.last_duration, want.last_duration);
}

TEST(RecordTable, UnknownPrefixIsNotFound) {
  RecordTable table;
  EXPECT_FALSE(table.find(p("192.0.2.7")));
  table.find_or_add(p("192.0.2.7"));
  EXPECT_FALSE(table.find(p("192.0.2.8")));
  EXPECT_FALSE(table.find(p("192.0.2.7/31")));  // exactly this prefix, not a covering one
  EXPECT_EQ(table.size(), 1u);
}

TEST(RecordTable, NewRecordIsEmptyAndCarriesItsPrefix) {
  RecordTable table;
  RecordIndex i = table.find_or_add(p("2001:db8::/64"));
  FleetRecord r = table.get(i);
  EXPECT_EQ(r.decision.prefix, p("2001:db8::/64"));
  EXPECT_FALSE(r.decision.active);
  EXPECT_EQ(r.decision.ban_count, 0u);
  EXPECT_TRUE(r.decision.reporters.empty());
  EXPECT_TRUE(r.reports.empty());
  EXPECT_EQ(table.find_or_add(p("2001:db8::/64")), i);
}

TEST(RecordTable, GetReturnsWhatWasSet) {
  RecordTable table;
  FleetRecord want = banned(p("198.51.100.9"), {"web-01", "web-02"});
  RecordIndex i = table.find_or_add(want.decision.prefix);
  table.set(i, want);
  expect_same(table.get(i), want);
  EXPECT_TRUE(table.active(i));
  EXPECT_EQ(table.expires_at(i), from_unix(T + 600));
  EXPECT_EQ(table.decision(i).reporters, want.decision.reporters);

  want.decision.expires_at.reset();  // permanent
  want.decision.active = false;
  want.reports = {Report{"web-03", "sshd", from_unix(T + 1), seconds(-1)}};
  table.set(i, want);
  expect_same(table.get(i), want);
  EXPECT_FALSE(table.active(i));
  EXPECT_FALSE(table.expires_at(i));

  want.reports.clear();
  table.set(i, want);
  EXPECT_TRUE(table.get(i).reports.empty());
}

TEST(RecordTable, ManyRecordsKeepTheirOwnValuesThroughGrowth) {
  RecordTable table;
  std::map<IpPrefix, RecordIndex> indexes;
  for (std::uint32_t n = 0; n < 150'000; ++n) {  // more than two chunks, several index growths
    std::string text = address_text(n);
    IpPrefix prefix = p(text);
    RecordIndex i = table.find_or_add(prefix);
    ASSERT_EQ(indexes.count(prefix), 0u) << text;
    indexes[prefix] = i;
    FleetRecord r = banned(prefix, {"host-" + std::to_string(n % 7)});
    r.decision.sequence = n;
    table.set(i, r);
  }
  EXPECT_EQ(table.size(), indexes.size());
  for (const auto& [prefix, index] : indexes) {
    auto found = table.find(prefix);
    ASSERT_TRUE(found);
    ASSERT_EQ(*found, index);
    FleetRecord r = table.get(index);
    ASSERT_EQ(r.decision.prefix, prefix);
    ASSERT_EQ(r.decision.reporters, std::vector<std::string>{"host-" + std::to_string(r.decision.sequence % 7)});
  }
}

TEST(RecordTable, SharedNamesStayWhileAnyRecordUsesThem) {
  // Interned lists are reference-counted: changing one record must not change another's.
  RecordTable table;
  RecordIndex a = table.find_or_add(p("192.0.2.1"));
  RecordIndex b = table.find_or_add(p("192.0.2.2"));
  table.set(a, banned(p("192.0.2.1"), {"web-01"}));
  table.set(b, banned(p("192.0.2.2"), {"web-01"}));
  table.set(a, banned(p("192.0.2.1"), {"web-02"}));
  EXPECT_EQ(table.get(b).decision.reporters, std::vector<std::string>{"web-01"});
  table.set(b, banned(p("192.0.2.2"), {}));
  EXPECT_TRUE(table.get(b).decision.reporters.empty());
  table.set(b, banned(p("192.0.2.2"), {"web-01"}));  // let go by everyone, then back
  EXPECT_EQ(table.get(b).decision.reporters, std::vector<std::string>{"web-01"});
  EXPECT_EQ(table.get(a).decision.reporters, std::vector<std::string>{"web-02"});
}

TEST(RecordTable, TotalsBeyondTheListsAreKeptAndOthersAreTheListsSizes) {
  RecordTable table;
  FleetRecord plain = banned(p("192.0.2.1"), {"web-01", "web-02"});
  FleetRecord crowded = banned(p("192.0.2.2"), {"web-01", "web-02"});
  crowded.decision.reporter_count = 1030;
  crowded.decision.jail_count = 7;
  table.set(table.find_or_add(plain.decision.prefix), plain);
  RecordIndex index = table.find_or_add(crowded.decision.prefix);
  table.set(index, crowded);
  EXPECT_EQ(table.get(*table.find(p("192.0.2.1"))).decision.reporter_count, 2u);
  EXPECT_EQ(table.get(*table.find(p("192.0.2.1"))).decision.jail_count, 2u);
  EXPECT_EQ(table.decision(index).reporter_count, 1030u);
  EXPECT_EQ(table.decision(index).jail_count, 7u);
  crowded.decision.reporter_count = 0;  // below the list: the list's size
  crowded.decision.jail_count = 0;
  table.set(index, crowded);
  EXPECT_EQ(table.decision(index).reporter_count, 2u);
  EXPECT_EQ(table.decision(index).jail_count, 2u);
}

TEST(RecordTable, OrderOfNamesIsKept) {
  RecordTable table;
  RecordIndex i = table.find_or_add(p("192.0.2.1"));
  table.set(i, banned(p("192.0.2.1"), {"web-02", "web-01"}));
  EXPECT_EQ(table.get(i).decision.reporters, (std::vector<std::string>{"web-02", "web-01"}));
}

}  // namespace
