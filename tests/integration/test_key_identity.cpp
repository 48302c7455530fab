// An identity is its key: replacing a host's key file in place and SIGHUP cuts off every
// connection made with the old key; a reload with a malformed key file refuses that file's key
// and still applies every removal; the reporter of an operator's action is its key's name; a
// relay's key vouches for the names admitted here, and for no other.
#include "security_helpers.hpp"

#include <gtest/gtest.h>
#include <zmq.h>

#include <signal.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

class KeyIdentity : public ::testing::Test {
 protected:
  // A new key pair for name, outside the fleet's keys: DIR/new-keys/NAME.{key,pub}.
  std::filesystem::path new_key(const std::string& name) {
    const auto keys = dir / "new-keys";
    const auto made = fleetban({"keygen", name, "--dir", keys.string()});
    EXPECT_EQ(made.exit_code, 0) << describe(made);
    return keys;
  }

  void reload_keys() {
    const auto before = count_lines_with(fleet.aggregator()->log(), "zap_keys_reloaded");
    fleet.aggregator()->kill(SIGHUP);
    ASSERT_TRUE(poll_until([&] { return count_lines_with(fleet.aggregator()->log(), "zap_keys_reloaded") > before; },
                           deadline_in(kSoon), "the aggregator to reload its keys",
                           [&] { return fleet.aggregator()->log(); }));
  }

  static std::size_t count_lines_with(const std::string& text, std::string_view part) {
    std::size_t count = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
    return count;
  }

  TempDir dir;
  Fleet fleet{dir, SecurityMode::curve};
};

TEST_F(KeyIdentity, KeyReplacedInPlaceCutsOffTheOldKeysConnections) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  Process& old_subscriber = fleet.start_subscriber(web02);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  auto old_connection = connect_raw(fleet, "web-02");
  std::mt19937 random(21);
  const WireEvent before = wire_ban(random, "198.51.100.60", "web-02");
  ASSERT_TRUE(old_connection->send({encode_request(before)}));
  ASSERT_TRUE(old_connection->wait_for_reply_with(before.event_id, deadline_in(kSoon)));

  // web-02 gets a new key under the same name.
  const auto new_keys = new_key("web-02");
  std::filesystem::copy_file(new_keys / "web-02.pub", fleet.authorized_dir() / "web-02.pub",
                             std::filesystem::copy_options::overwrite_existing);
  reload_keys();
  ASSERT_TRUE(aggregator_logged(fleet, {"broadcast_rebound"}));

  // The old key's open connection: its events are refused, its queries get no answer.
  const WireEvent after = wire_ban(random, "198.51.100.61", "web-02");
  ASSERT_TRUE(old_connection->send({encode_request(after)}));
  EXPECT_TRUE(old_connection->wait_for_reply_with("web-02 is no longer authorized", deadline_in(kSoon)));
  ASSERT_TRUE(old_connection->send({encode_status_request("old-key-status")}));
  EXPECT_TRUE(aggregator_logged(fleet, {"query_refused", "no longer authorized"}));
  EXPECT_EQ(find_ban(list_now(fleet, web01), "198.51.100.61"), nullptr);

  // The subscriber still holding the old key is cut off and cannot get back in.
  const auto published = fleet.publish(web01, {"ban", "--ip", "198.51.100.62", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_TRUE(fleet.enforced(web01, "198.51.100.62"));
  EXPECT_TRUE(poll_until(
      [&] {
        return has_line_with(old_subscriber.log(), {"snapshot_failed", "refused this key"});
      },
      deadline_in(kSoon), "web-02's old-key subscriber to be refused", [&] { return old_subscriber.log(); }));
  EXPECT_FALSE(recorded(web02.ban_log, "198.51.100.62")) << read_file(web02.ban_log);

  // The new key is web-02 now.
  std::filesystem::copy_file(new_keys / "web-02.key", fleet.keys_dir() / "web-02.key",
                             std::filesystem::copy_options::overwrite_existing);
  const auto with_new_key = fleetban({"status", "--config", web02.config.string()});
  EXPECT_EQ(with_new_key.exit_code, 0) << describe(with_new_key);
}

TEST_F(KeyIdentity, MalformedKeyFileOnReloadIsNamedAndRemovalsStillTakeEffect) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  const Host& web03 = fleet.add_host("web-03");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  for (const Host* host : {&web01, &web02, &web03}) {
    const auto status = fleetban({"status", "--config", host->config.string()});
    ASSERT_EQ(status.exit_code, 0) << describe(status);
  }

  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "web-02.pub"));
  const auto garbage = fleet.authorized_dir() / "web-03.pub";
  write_file(garbage, "this is not a key\n");
  reload_keys();
  EXPECT_TRUE(aggregator_logged(fleet, {"zap_key_file_refused", garbage.string()}));

  const auto removed = fleetban({"status", "--config", web02.config.string()});
  EXPECT_EQ(removed.exit_code, 1) << "a removed key stays refused\n" << describe(removed);
  const auto malformed = fleetban({"status", "--config", web03.config.string()});
  EXPECT_EQ(malformed.exit_code, 1) << "a malformed key file admits nobody\n" << describe(malformed);
  const auto good = fleetban({"status", "--config", web01.config.string()});
  EXPECT_EQ(good.exit_code, 0) << describe(good);
  EXPECT_TRUE(fleet.aggregator()->running());
}

// An operator's event names whatever host_id its config says; the fleet records the key's name.
TEST_F(KeyIdentity, OperatorActionIsTiedToTheOperatorsKey) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& alice = fleet.add_host("alice");
  std::filesystem::create_directories(fleet.authorized_dir() / "operators");
  std::filesystem::rename(fleet.authorized_dir() / "alice.pub", fleet.authorized_dir() / "operators" / "alice.pub");
  edit_config(alice.config, {{"host_id", toml_string("web-01")}});
  ASSERT_TRUE(fleet.start_aggregator(web01));

  const auto banned = fleetban({"ban", "198.51.100.63", "--config", alice.config.string()});
  ASSERT_EQ(banned.exit_code, 0) << describe(banned);
  nlohmann::json document;
  ASSERT_TRUE(fleet.list_until(
      web01, "`fleetban list --json` to show 198.51.100.63",
      [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.63") != nullptr; }, &document));
  EXPECT_EQ(strings_of(find_ban(document, "198.51.100.63")->value("reporters", nlohmann::json())),
            std::vector<std::string>{"alice"})
      << document.dump();
  EXPECT_TRUE(aggregator_logged(fleet, {"decision seq=", "ip=198.51.100.63", "host=alice", "by=operator"}));
  EXPECT_FALSE(has_line_with(fleet.aggregator()->log(), {"decision seq=", "ip=198.51.100.63", "host=web-01"}))
      << fleet.aggregator()->log();
}

// A relay forwards under the name it admitted; the aggregator takes only names it admits itself.
TEST_F(KeyIdentity, ARelayKeyVouchesForNamesAdmittedHereAndNoOther) {
  const Host& web01 = fleet.add_host("web-01");
  fleet.add_host("web-02");
  fleet.add_host("relay-eu1");
  std::filesystem::create_directories(fleet.authorized_dir() / "relays");
  std::filesystem::rename(fleet.authorized_dir() / "relay-eu1.pub",
                          fleet.authorized_dir() / "relays" / "relay-eu1.pub");
  ASSERT_TRUE(fleet.start_aggregator(web01));

  auto relay = connect_raw(fleet, "relay-eu1");
  std::mt19937 random(23);
  const WireEvent vouched = wire_ban(random, "198.51.100.64", "web-02");
  ASSERT_TRUE(relay->send({encode_request(vouched)}));
  ASSERT_TRUE(relay->wait_for_reply_with(vouched.event_id, deadline_in(kSoon)));
  const WireEvent invented = wire_ban(random, "198.51.100.65", "web-99");
  ASSERT_TRUE(relay->send({encode_request(invented)}));
  EXPECT_TRUE(relay->wait_for_reply_with("may not vouch for host web-99", deadline_in(kSoon)));

  nlohmann::json document;
  ASSERT_TRUE(fleet.list_until(
      web01, "`fleetban list --json` to show 198.51.100.64",
      [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.64") != nullptr; }, &document));
  EXPECT_EQ(strings_of(find_ban(document, "198.51.100.64")->value("reporters", nlohmann::json())),
            std::vector<std::string>{"web-02"})
      << document.dump();
  EXPECT_EQ(find_ban(document, "198.51.100.65"), nullptr) << document.dump();
  EXPECT_TRUE(aggregator_logged(fleet, {"event_refused", "host=web-99", "relay relay-eu1 may not vouch"}));
}

}  // namespace
}  // namespace fleetban::testing
