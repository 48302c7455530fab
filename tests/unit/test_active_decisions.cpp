// Decisions as people read them: the active ones in prefix order (active_by_prefix), the one
// view the dashboard, `fleetban list` and the bans document share.

#include "common/active_decisions.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using fleetban::common::active_by_prefix;
using fleetban::common::Decision;
using fleetban::common::IpPrefix;

Decision decision(std::string_view prefix, bool active = true) {
  Decision d;
  d.prefix = *IpPrefix::parse(prefix);
  d.active = active;
  return d;
}

std::vector<std::string> texts(const std::vector<const Decision*>& decisions) {
  std::vector<std::string> out;
  for (const auto* d : decisions) out.push_back(d->prefix.to_string());
  return out;
}

TEST(ActiveByPrefix, Ipv4FirstThenShorterPrefixesThenByAddress) {
  // The order the dashboard and `fleetban list` have always shown: IpPrefix's own order.
  std::vector<Decision> decisions{decision("2001:db8::1"),     decision("198.51.100.9"),   decision("2001:db8::/64"),
                                  decision("192.0.2.7"),       decision("192.0.2.0/24"),   decision("192.0.2.10"),
                                  decision("198.51.100.0/28"), decision("2001:db8:0:1::5")};
  EXPECT_EQ(texts(active_by_prefix(decisions)),
            (std::vector<std::string>{"192.0.2.0/24", "198.51.100.0/28", "192.0.2.7", "192.0.2.10", "198.51.100.9",
                                      "2001:db8::/64", "2001:db8::1", "2001:db8:0:1::5"}));
}

TEST(ActiveByPrefix, LeavesOutEndedDecisions) {
  std::vector<Decision> decisions{decision("192.0.2.7", false), decision("192.0.2.8"), decision("2001:db8::1", false)};
  EXPECT_EQ(texts(active_by_prefix(decisions)), std::vector<std::string>{"192.0.2.8"});
  const std::vector<Decision> none;
  EXPECT_TRUE(active_by_prefix(none).empty());
}

TEST(ActiveByPrefix, PointsIntoTheGivenDecisionsWithoutCopying) {
  std::vector<Decision> decisions{decision("192.0.2.9"), decision("192.0.2.8")};
  auto sorted = active_by_prefix(decisions);
  ASSERT_EQ(sorted.size(), 2u);
  EXPECT_EQ(sorted[0], &decisions[1]);
  EXPECT_EQ(sorted[1], &decisions[0]);
}

}  // namespace
