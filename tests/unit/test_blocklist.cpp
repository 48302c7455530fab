// GET /api/v1/blocklist.txt's rules (aggregator/blocklist.hpp): the family parameter, the ETag
// made from the state's version, and If-None-Match matching it.

#include "aggregator/blocklist.hpp"

#include <gtest/gtest.h>

namespace {

using fleetban::aggregator::blocklist_etag;
using fleetban::aggregator::etag_matches;
using fleetban::aggregator::parse_family;
using fleetban::aggregator::StateView;
using fleetban::common::Family;

TEST(Blocklist, FamilyIsFourSixOrBoth) {
  EXPECT_TRUE(parse_family(std::nullopt).valid);
  EXPECT_FALSE(parse_family(std::nullopt).family);
  EXPECT_EQ(parse_family("4").family, Family::v4);
  EXPECT_EQ(parse_family("6").family, Family::v6);
  EXPECT_TRUE(parse_family("4").valid);
  for (const char* bad : {"", "46", "ipv4", "v6", " 4", "4 ", "0"}) {
    EXPECT_FALSE(parse_family(std::string(bad)).valid) << "'" << bad << "'";
  }
}

TEST(Blocklist, EtagIsQuotedHexIncarnationAndSequence) {
  StateView::Version version{.incarnation = std::string("\x00\xab\x10\xff", 4), .sequence = 42};
  EXPECT_EQ(blocklist_etag(version, std::nullopt), "\"00ab10ff-42\"");
  EXPECT_EQ(blocklist_etag(version, Family::v4), "\"00ab10ff-42-v4\"");
  EXPECT_EQ(blocklist_etag(version, Family::v6), "\"00ab10ff-42-v6\"");
}

TEST(Blocklist, EtagChangesWithTheSequenceAndTheIncarnation) {
  StateView::Version a{.incarnation = "a", .sequence = 1};
  StateView::Version later{.incarnation = "a", .sequence = 2};
  StateView::Version restarted{.incarnation = "b", .sequence = 1};
  EXPECT_NE(blocklist_etag(a, std::nullopt), blocklist_etag(later, std::nullopt));
  EXPECT_NE(blocklist_etag(a, std::nullopt), blocklist_etag(restarted, std::nullopt));
  EXPECT_EQ(blocklist_etag(a, std::nullopt), blocklist_etag(StateView::Version{"a", 1}, std::nullopt));
}

TEST(Blocklist, IfNoneMatchNamesTheTag) {
  const std::string tag = "\"ab-7\"";
  EXPECT_TRUE(etag_matches(tag, tag));
  EXPECT_TRUE(etag_matches("*", tag));
  EXPECT_TRUE(etag_matches("W/" + tag, tag));  // compared weakly
  EXPECT_TRUE(etag_matches("\"other\", " + tag, tag));
  EXPECT_TRUE(etag_matches("\"other\",\t" + tag + " ", tag));
  EXPECT_TRUE(etag_matches(" , ," + tag, tag));
}

TEST(Blocklist, IfNoneMatchOfOtherTagsDoesNotMatch) {
  const std::string tag = "\"ab-7\"";
  EXPECT_FALSE(etag_matches("", tag));
  EXPECT_FALSE(etag_matches("\"ab-8\"", tag));
  EXPECT_FALSE(etag_matches("ab-7", tag));  // unquoted is another tag
  EXPECT_FALSE(etag_matches("\"ab-7\"x", tag));
  EXPECT_FALSE(etag_matches("\"a\", \"b\"", tag));
  EXPECT_FALSE(etag_matches("w/" + tag, tag));  // the weak prefix is upper case
}

}  // namespace
