// Event ids and names: what every program checks before an event leaves or is taken in.

#include "common/event.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

using fleetban::common::is_valid_name;

TEST(Event, RandomIdsDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10'000; ++i) seen.insert(fleetban::common::to_hex(fleetban::common::random_event_id()));
  EXPECT_EQ(seen.size(), 10'000u);
}

TEST(Event, AnIdIsWrittenAsThirtyTwoLowercaseHexDigits) {
  fleetban::common::EventId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(i * 17);
  const std::string hex = fleetban::common::to_hex(id);
  EXPECT_EQ(hex.size(), 32u);
  EXPECT_EQ(hex.substr(0, 6), "001122");
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(Event, NamesAreOneToSixtyFourSafeCharactersStartingWithALetterOrDigit) {
  for (const char* good : {"web-01", "sshd", "a", "nginx-http-auth", "host.example.org", "alice@ops", "v6:web"}) {
    EXPECT_TRUE(is_valid_name(good)) << good;
  }
  EXPECT_TRUE(is_valid_name(std::string(64, 'a')));
  for (std::string bad : {"", "-web", ".hidden", "web 01", "web/01", "we\"b", "web\n", "caf\xc3\xa9"}) {
    EXPECT_FALSE(is_valid_name(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_name(std::string(65, 'a')));
}

}  // namespace
