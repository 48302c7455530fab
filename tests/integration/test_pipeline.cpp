// The pipeline end to end: fleetban-publish -> fleetban-aggregator ->
// fleetban-subscriber (exec backend), and `fleetban list --json` in between.
#include "fleet.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

class Pipeline : public ::testing::Test {
 protected:
  // The aggregator (told of through host1) and both hosts' subscribers, following it.
  ::testing::AssertionResult start_following(const Host& host1, const Host& host2) {
    if (auto started = fleet.start_aggregator(host1); !started) return started;
    fleet.start_subscriber(host1);
    fleet.start_subscriber(host2);
    return fleet.probe_subscribers(host1);
  }

  TempDir dir;
  Fleet fleet{dir};
};

TEST_F(Pipeline, PublishedBanReachesEverySubscriberAndTheFleetList) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  ASSERT_TRUE(start_following(host1, host2));

  const auto before = unix_now();
  const auto published = fleet.publish(host1, {"ban", "--ip", "192.0.2.10", "--jail", "sshd", "--bantime", "600"});
  const auto after = unix_now();
  ASSERT_EQ(published.exit_code, 0) << describe(published);

  EXPECT_TRUE(fleet.enforced(host1, "192.0.2.10"));
  EXPECT_TRUE(fleet.enforced(host2, "192.0.2.10"));

  nlohmann::json document;
  ASSERT_TRUE(fleet.list_until(
      host2, "`fleetban list --json` to show 192.0.2.10",
      [](const nlohmann::json& doc) { return find_ban(doc, "192.0.2.10") != nullptr; }, &document));
  const nlohmann::json& ban = *find_ban(document, "192.0.2.10");
  EXPECT_EQ(strings_of(ban.value("reporters", nlohmann::json())), std::vector<std::string>{"host1"}) << ban.dump();
  EXPECT_EQ(strings_of(ban.value("jails", nlohmann::json())), std::vector<std::string>{"sshd"}) << ban.dump();
  EXPECT_EQ(ban.value("ban_count", nlohmann::json()), 1) << ban.dump();
  ASSERT_TRUE(ban.contains("expires_at") && ban["expires_at"].is_number_integer()) << ban.dump();
  // The ban started while fleetban-publish ran, and lasts 600 s.
  const auto expires_at = ban["expires_at"].get<std::int64_t>();
  EXPECT_GE(expires_at, before + 600 - 2) << ban.dump();
  EXPECT_LE(expires_at, after + 600 + 2) << ban.dump();
}

struct AddressForm {
  const char* name;       // for the test's name
  const char* published;  // what fleetban-publish is given
  const char* canonical;  // what the fleet shows and enforces
};

void PrintTo(const AddressForm& form, std::ostream* out) { *out << form.published; }

class PipelineAddressForms : public Pipeline, public ::testing::WithParamInterface<AddressForm> {};

TEST_P(PipelineAddressForms, BanPropagatesInCanonicalForm) {
  const AddressForm form = GetParam();
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  ASSERT_TRUE(start_following(host1, host2));

  const auto published = fleet.publish(host1, {"ban", "--ip", form.published, "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);

  EXPECT_TRUE(fleet.enforced(host1, form.canonical));
  EXPECT_TRUE(fleet.enforced(host2, form.canonical));
  nlohmann::json document;
  EXPECT_TRUE(fleet.list_until(
      host1, std::string("`fleetban list --json` to show ") + form.canonical,
      [&](const nlohmann::json& doc) { return find_ban(doc, form.canonical) != nullptr; }, &document));
}

INSTANTIATE_TEST_SUITE_P(Forms, PipelineAddressForms,
                         ::testing::Values(AddressForm{"Ipv6Address", "2001:0db8:0:0::5", "2001:db8::5"},
                                           AddressForm{"Ipv4Prefix", "198.51.100.0/24", "198.51.100.0/24"},
                                           AddressForm{"Ipv6Prefix", "2001:db8:42::/48", "2001:db8:42::/48"}),
                         [](const ::testing::TestParamInfo<AddressForm>& info) {
                           return std::string(info.param.name);
                         });

TEST_F(Pipeline, EarlyUnbanLiftsTheBanOnEveryHost) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  ASSERT_TRUE(start_following(host1, host2));

  const std::string time = std::to_string(unix_now());
  const auto banned =
      fleet.publish(host1, {"ban", "--ip", "192.0.2.11", "--jail", "sshd", "--bantime", "600", "--time", time});
  ASSERT_EQ(banned.exit_code, 0) << describe(banned);
  ASSERT_TRUE(fleet.enforced(host1, "192.0.2.11"));
  ASSERT_TRUE(fleet.enforced(host2, "192.0.2.11"));

  // Fail2Ban's unban of the same ban, long before time + bantime: an
  // operator's unbanip, which the default policy (host_unban = "fleet") lifts everywhere.
  const auto unbanned =
      fleet.publish(host1, {"unban", "--ip", "192.0.2.11", "--jail", "sshd", "--bantime", "600", "--time", time});
  ASSERT_EQ(unbanned.exit_code, 0) << describe(unbanned);
  EXPECT_TRUE(fleet.lifted(host1, "192.0.2.11"));
  EXPECT_TRUE(fleet.lifted(host2, "192.0.2.11"));
  EXPECT_TRUE(fleet.unlisted(host1, "192.0.2.11"));
}

TEST_F(Pipeline, UnbanAfterTheBanTimeIsAnExpiryAndKeepsTheFleetBan) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  ASSERT_TRUE(start_following(host1, host2));

  const auto now = unix_now();
  const auto banned = fleet.publish(
      host1, {"ban", "--ip", "192.0.2.12", "--jail", "sshd", "--bantime", "600", "--time", std::to_string(now)});
  ASSERT_EQ(banned.exit_code, 0) << describe(banned);
  ASSERT_TRUE(fleet.enforced(host1, "192.0.2.12"));
  ASSERT_TRUE(fleet.enforced(host2, "192.0.2.12"));

  // time + bantime = now - 400: the unban is an expiry, never a fleet unban.
  const auto expired = fleet.publish(host1, {"unban", "--ip", "192.0.2.12", "--jail", "sshd", "--bantime", "600",
                                             "--time", std::to_string(now - 1000)});
  ASSERT_EQ(expired.exit_code, 0) << describe(expired);

  // Everything acked before the probe has been applied once the probe is
  // enforced: had the expiry lifted the ban, the unban would be recorded by now.
  ASSERT_TRUE(fleet.probe_subscribers(host1));
  EXPECT_FALSE(recorded(host1.unban_log, "192.0.2.12")) << read_file(host1.unban_log);
  EXPECT_FALSE(recorded(host2.unban_log, "192.0.2.12")) << read_file(host2.unban_log);
  const auto listed = fleet.list(host1);
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  const auto document = nlohmann::json::parse(listed.out, nullptr, false);
  EXPECT_NE(find_ban(document, "192.0.2.12"), nullptr) << "the fleet ban of 192.0.2.12 is gone after an expiry\n"
                                                       << describe(listed);
}

TEST_F(Pipeline, SubscriberStartedAfterABanGetsItFromTheSnapshot) {
  const Host& host1 = fleet.add_host("host1");
  const Host& late = fleet.add_host("host2");
  ASSERT_TRUE(fleet.start_aggregator(host1));

  const auto published = fleet.publish(host1, {"ban", "--ip", "192.0.2.13", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  ASSERT_TRUE(fleet.list_until(host1, "`fleetban list --json` to show 192.0.2.13",
                               [](const nlohmann::json& doc) { return find_ban(doc, "192.0.2.13") != nullptr; }));

  // Nothing is broadcast after this subscriber starts: only a snapshot can bring the ban.
  fleet.start_subscriber(late);
  EXPECT_TRUE(fleet.enforced(late, "192.0.2.13"));
}

TEST_F(Pipeline, AggregatorRestartKeepsTheStateAndGoesOnBroadcasting) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  fleet.start_subscriber(host2);
  ASSERT_TRUE(fleet.probe_subscribers(host1));

  const auto first = fleet.publish(host1, {"ban", "--ip", "192.0.2.14", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  ASSERT_TRUE(fleet.enforced(host2, "192.0.2.14"));

  EXPECT_EQ(fleet.stop_aggregator(), 0) << "the aggregator did not exit cleanly on SIGTERM";
  ASSERT_TRUE(fleet.start_aggregator(host1)) << "restarting on the same state.db";

  nlohmann::json document;
  ASSERT_TRUE(fleet.list_until(
      host1, "the restarted aggregator to list 192.0.2.14 (published before the restart)",
      [](const nlohmann::json& doc) { return find_ban(doc, "192.0.2.14") != nullptr; }, &document));
  const nlohmann::json& kept = *find_ban(document, "192.0.2.14");
  EXPECT_EQ(strings_of(kept.value("reporters", nlohmann::json())), std::vector<std::string>{"host1"}) << kept.dump();
  EXPECT_EQ(kept.value("ban_count", nlohmann::json()), 1) << kept.dump();

  // The subscriber ran through the restart: the new ban reaches it only if the
  // broadcast sequence carried on or the subscriber resynchronised. That may
  // wait for a heartbeat to reveal the gap, hence the longer deadline.
  const auto second = fleet.publish(host1, {"ban", "--ip", "192.0.2.15", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(second.exit_code, 0) << describe(second);
  EXPECT_TRUE(fleet.enforced(host2, "192.0.2.15", deadline_in(2 * kSoon)));
  EXPECT_FALSE(recorded(host2.unban_log, "192.0.2.14")) << "the ban kept across the restart was lifted on host2\n"
                                                        << read_file(host2.unban_log);
}

TEST_F(Pipeline, SameBanFromTwoHostsListsBothReporters) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  ASSERT_TRUE(fleet.start_aggregator(host1));

  const std::string time = std::to_string(unix_now());
  for (const Host* host : {&host1, &host2}) {
    const auto published =
        fleet.publish(*host, {"ban", "--ip", "192.0.2.16", "--jail", "sshd", "--bantime", "600", "--time", time});
    ASSERT_EQ(published.exit_code, 0) << describe(published);
  }

  nlohmann::json document;
  ASSERT_TRUE(fleet.list_until(
      host1, "`fleetban list --json` to show 192.0.2.16 reported by host1 and host2",
      [](const nlohmann::json& doc) {
        const auto* ban = find_ban(doc, "192.0.2.16");
        return ban != nullptr &&
               strings_of(ban->value("reporters", nlohmann::json())) == std::vector<std::string>{"host1", "host2"};
      },
      &document));
  const nlohmann::json& ban = *find_ban(document, "192.0.2.16");
  EXPECT_EQ(strings_of(ban.value("jails", nlohmann::json())), std::vector<std::string>{"sshd"}) << ban.dump();
  // ban_count counts the fleet's bans of the address, not reports.
  EXPECT_EQ(ban.value("ban_count", nlohmann::json()), 1) << ban.dump();
}

}  // namespace
}  // namespace fleetban::testing
