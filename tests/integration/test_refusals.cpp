// Refusals are answered: an event the aggregator refuses for good (invalid, or by policy) gets a
// REFUSED ack with the reason; the publisher refuses what the aggregator would before sending; a
// spooled event refused later moves to spool_dir/bad/ with its reason and the drain goes on.
#include "security_helpers.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

// The files in DIR/bad/ (a spool's refused and unreadable events, and their reasons).
std::vector<std::filesystem::path> set_aside(const Host& host) { return regular_files_under(host.spool / "bad"); }

std::string list_of(const std::vector<std::filesystem::path>& files) {
  std::string text;
  for (const auto& file : files) text += file.string() + "\n";
  return text;
}

TEST(Refusals, TimeBefore2000ExitsTwoNamingTheValueAndSendsNothing) {
  TempDir dir;
  Fleet fleet(dir);
  const Host& web01 = fleet.add_host("web-01");
  const auto result =
      fleet.publish(web01, {"ban", "--ip", "192.0.2.40", "--jail", "sshd", "--bantime", "600", "--time", "100"});
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_TRUE(contains(result.output, "--time")) << describe(result);
  EXPECT_TRUE(contains(result.output, "'100'")) << describe(result);
  EXPECT_TRUE(regular_files_under(web01.spool).empty()) << list_of(regular_files_under(web01.spool));
}

// A refused event at the head of the spool used to hold every later one back for ever.
TEST(Refusals, RefusedSpooledEventMovesToBadAndTheDrainGoesOn) {
  TempDir dir;
  Fleet fleet(dir);
  const Host& web01 = fleet.add_host("web-01");
  // The aggregator is not running: everything is spooled, the refused one first.
  const auto refused = fleet.publish(web01, {"ban", "--ip", "10.0.0.0/8", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(refused.exit_code, 0) << describe(refused);
  const std::vector<std::string> good{"192.0.2.41", "192.0.2.42", "192.0.2.43"};
  for (const auto& ip : good) {
    const auto published = fleet.publish(web01, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "600"});
    ASSERT_EQ(published.exit_code, 0) << describe(published);
  }
  ASSERT_EQ(spooled_events(web01), 1 + good.size());

  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  ASSERT_TRUE(poll_until([&] { return spooled_events(web01) == 0; }, deadline_in(kSoon), "the spool to drain",
                         [&] { return list_of(regular_files_under(web01.spool)); }));
  for (const auto& ip : good) EXPECT_TRUE(fleet.enforced(web01, ip)) << ip;

  const auto aside = set_aside(web01);
  ASSERT_EQ(aside.size(), 2u) << list_of(aside);
  const auto reason_file = aside[0].extension() == ".reason" ? aside[0] : aside[1];
  EXPECT_TRUE(contains(read_file(reason_file), "prefix shorter than /")) << read_file(reason_file);
  EXPECT_EQ(find_ban(list_now(fleet, web01), "10.0.0.0/8"), nullptr);
}

TEST(Refusals, PublisherSaysWhyTheAggregatorRefused) {
  TempDir dir;
  Fleet fleet(dir);
  const Host& web01 = fleet.add_host("web-01");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  const auto result = fleet.publish(web01, {"ban", "--ip", "10.0.0.0/8", "--jail", "sshd", "--bantime", "600"});
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_TRUE(has_line_with(result.output, {"event_refused", "prefix shorter than /"})) << describe(result);
  EXPECT_EQ(spooled_events(web01), 0u) << "a refused event is never retried";
}

// An event the aggregator cannot take in (here a time at 1970, from a publisher that does not
// check it) is answered by its id, so its client stops resending it.
TEST(Refusals, InvalidEventGetsARefusedAckWithTheReason) {
  TempDir dir;
  Fleet fleet(dir, SecurityMode::curve);
  const Host& web01 = fleet.add_host("web-01");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  auto dealer = connect_raw(fleet, "web-01");
  std::mt19937 random(11);
  WireEvent at_1970 = wire_ban(random, "192.0.2.44", "web-01");
  at_1970.time_ms = 100'000;
  ASSERT_TRUE(dealer->send({encode_request(at_1970)}));
  EXPECT_TRUE(dealer->wait_for_reply_with(at_1970.event_id, deadline_in(kSoon)));
  ASSERT_TRUE(dealer->send({encode_request(at_1970)}));
  EXPECT_TRUE(dealer->wait_for_reply_with("before 2000", deadline_in(kSoon)));
  EXPECT_EQ(find_ban(list_now(fleet, web01), "192.0.2.44"), nullptr);
}

}  // namespace
}  // namespace fleetban::testing
