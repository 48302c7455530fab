// RecordTable::erase: erased records are gone, every other record is still found through the
// index (backward-shift deletion), erased indexes are reused, and shared names are released.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <stdexcept>

#include "aggregator/record_table.hpp"
#include "printers.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using std::chrono::seconds;

constexpr std::int64_t T = 1'795'650'000;

IpPrefix address(std::uint32_t n) { return *IpPrefix::parse(fmt::format("2001:db8::{:x}:{:x}", n >> 16, n & 0xffff)); }

FleetRecord ended(const IpPrefix& prefix, std::vector<std::string> reporters, std::vector<std::string> jails,
                  std::string reason) {
  FleetRecord r;
  r.decision.sequence = 9;
  r.decision.prefix = prefix;
  r.decision.banned_at = from_unix(T);
  r.decision.expires_at = from_unix(T + 60);
  r.decision.reporters = std::move(reporters);
  r.decision.jails = std::move(jails);
  r.decision.ban_count = 1;
  r.decision.reason = std::move(reason);
  r.changed_at = from_unix(T + 60);
  return r;
}

TEST(RecordTableErase, ErasedRecordIsNotFoundAndOthersStay) {
  RecordTable table;
  RecordIndex a = table.find_or_add(address(1));
  RecordIndex b = table.find_or_add(address(2));
  table.erase(a);
  EXPECT_FALSE(table.find(address(1)));
  EXPECT_EQ(table.find(address(2)), b);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_FALSE(table.in_use(a));
  EXPECT_TRUE(table.in_use(b));
  EXPECT_FALSE(table.active(a));  // an erased index reads as an empty, inactive record
}

TEST(RecordTableErase, LookupsAgreeWithAReferenceThroughRandomAddsAndErases) {
  // Many erases inside long probe runs (the index wraps around and grows meanwhile): every record
  // left must still be found at its index, and no erased one.
  RecordTable table;
  std::map<std::uint32_t, RecordIndex> reference;
  std::mt19937 random(7);
  for (int step = 0; step < 200'000; ++step) {
    auto n = static_cast<std::uint32_t>(random() % 20'000);
    if (random() % 3 == 0 && !reference.empty()) {
      auto it = reference.lower_bound(n);
      if (it == reference.end()) it = reference.begin();
      table.erase(it->second);
      reference.erase(it);
    } else {
      RecordIndex index = table.find_or_add(address(n));
      auto [it, inserted] = reference.try_emplace(n, index);
      ASSERT_EQ(it->second, index) << "step " << step;
    }
  }
  ASSERT_EQ(table.size(), reference.size());
  for (std::uint32_t n = 0; n < 20'000; ++n) {
    auto found = table.find(address(n));
    auto want = reference.find(n);
    if (want == reference.end()) {
      ASSERT_FALSE(found) << n;
    } else {
      ASSERT_EQ(found, want->second) << n;
      ASSERT_EQ(table.prefix(*found), address(n));
    }
  }
}

TEST(RecordTableErase, ErasedIndexesAreReusedSoTheTableDoesNotGrow) {
  RecordTable table;
  std::vector<RecordIndex> indexes;
  for (std::uint32_t n = 0; n < 1000; ++n) indexes.push_back(table.find_or_add(address(n)));
  const RecordIndex end = table.end();
  // A thousand rounds of churn: forget the oldest, add a new one.
  for (std::uint32_t n = 1000; n < 100'000; ++n) {
    table.erase(*table.find(address(n - 1000)));
    table.find_or_add(address(n));
  }
  EXPECT_EQ(table.size(), 1000u);
  EXPECT_EQ(table.end(), end);
}

TEST(RecordTableErase, ReusedIndexStartsEmpty) {
  RecordTable table;
  RecordIndex a = table.find_or_add(address(1));
  FleetRecord r = ended(address(1), {"web-01"}, {"sshd"}, "old");
  r.reports = {Report{"web-02", "nginx", from_unix(T), seconds(60)}};
  table.set(a, r);
  table.erase(a);
  RecordIndex b = table.find_or_add(address(2));
  EXPECT_EQ(b, a);
  FleetRecord fresh = table.get(b);
  EXPECT_EQ(fresh.decision.prefix, address(2));
  EXPECT_EQ(fresh.decision.ban_count, 0u);
  EXPECT_TRUE(fresh.decision.reporters.empty());
  EXPECT_TRUE(fresh.decision.reason.empty());
  EXPECT_TRUE(fresh.reports.empty());
  EXPECT_EQ(fresh.changed_at, fleetban::common::UnixSeconds{});
}

TEST(RecordTableErase, NamesAreReleasedWithTheLastRecordUsingThem) {
  RecordTable table;
  RecordIndex a = table.find_or_add(address(1));
  RecordIndex b = table.find_or_add(address(2));
  table.set(a, ended(address(1), {"web-01"}, {"sshd"}, "shared"));
  table.set(b, ended(address(2), {"web-01"}, {"nginx"}, "shared"));
  EXPECT_EQ(table.interned_names(), 3u);  // [web-01], [sshd], [nginx]
  EXPECT_EQ(table.interned_reasons(), 1u);
  table.erase(a);
  EXPECT_EQ(table.interned_names(), 2u);  // [sshd] went with the record
  EXPECT_EQ(table.interned_reasons(), 1u);
  EXPECT_EQ(table.get(b).decision.reporters, (std::vector<std::string>{"web-01"}));
  table.erase(b);
  EXPECT_EQ(table.interned_names(), 0u);
  EXPECT_EQ(table.interned_reasons(), 0u);
}

TEST(RecordTableErase, ChangedAtIsKept) {
  RecordTable table;
  RecordIndex a = table.find_or_add(address(1));
  table.set(a, ended(address(1), {"web-01"}, {"sshd"}, ""));
  EXPECT_EQ(table.get(a).changed_at, from_unix(T + 60));
  table.set_changed_at(a, from_unix(T + 99));
  EXPECT_EQ(table.get(a).changed_at, from_unix(T + 99));
}

TEST(RecordTableErase, AFullTableThrowsLengthErrorAndAcceptsAgainAfterAnErase) {
  RecordTable table;
  table.set_limit(2);
  table.find_or_add(address(1));
  RecordIndex b = table.find_or_add(address(2));
  EXPECT_THROW(table.find_or_add(address(3)), std::length_error);
  EXPECT_EQ(table.find_or_add(address(2)), b);  // finding what is there needs no room
  table.erase(b);
  EXPECT_NO_THROW(table.find_or_add(address(3)));
}

}  // namespace
