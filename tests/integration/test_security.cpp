// The controls of docs/SECURITY.md against real processes, with CURVE on whatever the suite's
// default: unknown and revoked keys, forged identities, plaintext peers, a wrong server key,
// oversized and malformed frames, loose secret key files, and operator-only bans.
// The hostile clients are in security_helpers.hpp.
#include "security_helpers.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <zmq.h>

#include <arpa/inet.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetban::testing {
namespace {

// ---------------------------------------------------------------- the fixture

class Security : public ::testing::Test {
 protected:
  // fleetban keygen NAME --dir DIR, outside the fleet's own keys.
  static void keygen(const std::string& name, const std::filesystem::path& dir) {
    const auto made = fleetban({"keygen", name, "--dir", dir.string()});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
  }

  std::filesystem::path key_file(const std::string& name, const char* extension) const {
    return fleet.keys_dir() / (name + extension);
  }

  ::testing::AssertionResult aggregator_logged(const std::vector<std::string_view>& parts) {
    return testing::aggregator_logged(fleet, parts);
  }

  TempDir dir;
  Fleet fleet{dir, SecurityMode::curve};
};

// ---------------------------------------------------------------- the tests

TEST_F(Security, UnknownKeyIsRefusedAndNothingItSentIsApplied) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& stranger = fleet.add_host("stranger");
  // `fleetban keygen` made the stranger's pair, but its .pub stays out of authorized_dir.
  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "stranger.pub"));
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  const auto published =
      fleet.publish(stranger, {"ban", "--ip", "198.51.100.20", "--jail", "sshd", "--bantime", "600"});
  EXPECT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(stranger), 1u) << "the refused event should wait in the spool\n" << describe(published);
  EXPECT_TRUE(aggregator_logged({"connection_refused"}));

  const auto status = fleetban({"status", "--config", stranger.config.string()});
  EXPECT_EQ(status.exit_code, 1) << describe(status);
  EXPECT_TRUE(contains(status.output, "the peer refused this key")) << describe(status);

  ASSERT_TRUE(fleet.probe_subscribers(web01));
  const auto document = list_now(fleet, web01);
  EXPECT_EQ(find_ban(document, "198.51.100.20"), nullptr) << document.dump();
  EXPECT_FALSE(recorded(web01.ban_log, "198.51.100.20")) << read_file(web01.ban_log);
}

TEST_F(Security, ForgedHostIdIsRefused) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  // A host of its own (spool, logs) that holds web-01's key and claims to be web-02.
  const Host& forger = fleet.add_host("forger");
  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "forger.pub"));
  edit_config(forger.config,
              {{"host_id", toml_string("web-02")}, {"client_key", toml_string(key_file("web-01", ".key").string())}});
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  fleet.start_subscriber(web02);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  const auto published = fleet.publish(forger, {"ban", "--ip", "198.51.100.21", "--jail", "sshd", "--bantime", "600"});
  EXPECT_EQ(published.exit_code, 0) << describe(published);
  // Acked (REFUSED), so not spooled for a retry.
  EXPECT_EQ(spooled_events(forger), 0u) << describe(published);
  EXPECT_TRUE(aggregator_logged({"event_refused", "does not match key web-01"}));

  ASSERT_TRUE(fleet.probe_subscribers(web01));
  const auto document = list_now(fleet, web02);
  EXPECT_EQ(find_ban(document, "198.51.100.21"), nullptr) << document.dump();
  EXPECT_FALSE(recorded(web01.ban_log, "198.51.100.21")) << read_file(web01.ban_log);
  EXPECT_FALSE(recorded(web02.ban_log, "198.51.100.21")) << read_file(web02.ban_log);
}

TEST_F(Security, PlaintextClientGetsNothingThrough) {
  const Host& web01 = fleet.add_host("web-01");
  // Its key is even authorized: what fails is insecure = true against a CURVE aggregator.
  const Host& plain = fleet.add_host("plain");
  edit_config(plain.config, {{"insecure", "true"}});
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  const auto published = fleet.publish(plain, {"ban", "--ip", "198.51.100.22", "--jail", "sshd", "--bantime", "600"});
  EXPECT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(plain), 1u) << describe(published);

  const auto status = fleetban({"status", "--config", plain.config.string()});
  EXPECT_EQ(status.exit_code, 1) << describe(status);
  EXPECT_TRUE(contains(status.output, "security mismatch")) << describe(status);
  EXPECT_TRUE(aggregator_logged({"handshake_failed"}));

  ASSERT_TRUE(fleet.probe_subscribers(web01));
  const auto document = list_now(fleet, web01);
  EXPECT_EQ(find_ban(document, "198.51.100.22"), nullptr) << document.dump();
  EXPECT_FALSE(recorded(web01.ban_log, "198.51.100.22")) << read_file(web01.ban_log);
}

TEST_F(Security, SubscriberWithTheWrongServerKeyReceivesNothing) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  // web-02's own key is authorized, but it expects the aggregator to hold another key.
  const auto impostor_keys = dir / "impostor-keys";
  keygen("impostor", impostor_keys);
  edit_config(web02.config, {{"server_key", toml_string((impostor_keys / "impostor.pub").string())}});
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  Process& misled = fleet.start_subscriber(web02);
  // It has tried the aggregator and failed, at least once.
  ASSERT_TRUE(poll_until([&] { return contains(misled.log(), "snapshot_failed"); }, deadline_in(kSoon),
                         "web-02's subscriber to fail a snapshot", [&] { return misled.log(); }));

  const auto published = fleet.publish(web01, {"ban", "--ip", "198.51.100.23", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  ASSERT_TRUE(fleet.enforced(web01, "198.51.100.23"));
  EXPECT_EQ(read_file(web02.ban_log), "") << "a subscriber with the wrong server_key enforced a fleet ban";
}

TEST_F(Security, OversizedFrameIsDroppedAndTheAggregatorServesOn) {
  const Host& web01 = fleet.add_host("web-01");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  {
    RawCurveDealer dealer(fleet.ingest_endpoint(), read_key(key_file("aggregator", ".pub")),
                          read_key(key_file("web-01", ".key")));
    ASSERT_TRUE(dealer.wait_for_event(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, "the CURVE handshake", deadline_in(kSoon)));
    // A valid ban padded to 1 MiB with an unknown field, which protobuf would skip: were the
    // frame read, it would be applied.
    WireEvent event{.event_id = std::string(16, '\x5a'), .address = ipv4_bytes("198.51.100.124"), .host_id = "web-01"};
    std::string frame = encode_request(event);
    put_bytes(frame, 15, std::string(1 << 20, 'x'));
    ASSERT_TRUE(dealer.send({frame}));
    EXPECT_TRUE(
        dealer.wait_for_event(ZMQ_EVENT_DISCONNECTED, "the aggregator to drop the connection", deadline_in(kSoon)));
  }
  ASSERT_TRUE(fleet.aggregator()->running()) << fleet.aggregator()->log();

  const auto published = fleet.publish(web01, {"ban", "--ip", "198.51.100.24", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(web01), 0u) << "the publish was not acked\n" << describe(published);
  EXPECT_TRUE(fleet.enforced(web01, "198.51.100.24"));
  const auto document = list_now(fleet, web01);
  EXPECT_NE(find_ban(document, "198.51.100.24"), nullptr) << document.dump();
  EXPECT_EQ(find_ban(document, "198.51.100.124"), nullptr) << document.dump();
}

// fleetban_rejected_input_total{reason="REASON"} from a /metrics body, or nullopt.
std::optional<std::uint64_t> rejected_count(const std::string& metrics, std::string_view reason) {
  const std::string name = "fleetban_rejected_input_total{reason=\"" + std::string(reason) + "\"}";
  std::istringstream lines(metrics);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) == 0) {
      try {
        return std::stoull(line.substr(name.size()));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

TEST_F(Security, MalformedFramesLeaveTheAggregatorServingCorrectState) {
  const auto http_port = free_tcp_port();
  edit_config(fleet.aggregator_config(), {{"http", toml_string("127.0.0.1:" + std::to_string(http_port))}});
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web02);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  RawCurveDealer dealer(fleet.ingest_endpoint(), read_key(key_file("aggregator", ".pub")),
                        read_key(key_file("web-01", ".key")));
  ASSERT_TRUE(dealer.wait_for_event(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, "the CURVE handshake", deadline_in(kSoon)));

  // Fixed seed: a failure replays exactly.
  std::mt19937 random(20240613);
  auto fresh_id = [&] { return random_bytes(random, 16); };
  // A valid ban from web-01 of ip, to spoil.
  auto valid = [&](const char* ip) {
    return WireEvent{.event_id = fresh_id(), .address = ipv4_bytes(ip), .host_id = "web-01"};
  };
  std::uniform_int_distribution<std::size_t> random_size(0, 300);
  std::uniform_int_distribution<int> extra_frames(1, 3);
  std::uint64_t surely_malformed = 0;  // frames that cannot decode into a valid request
  std::uint64_t multi_frame = 0;
  constexpr int kFrames = 10'000;
  for (int i = 0; i < kFrames; ++i) {
    std::vector<std::string> message;
    WireEvent event = valid("198.51.100.66");
    switch (i % 12) {
      case 0:
      case 1:
      case 2:  // random bytes
        message.push_back(random_bytes(random, random_size(random)));
        break;
      case 3: {  // a valid frame cut short: the outer field's length runs past the end
        const std::string whole = encode_request(event);
        std::uniform_int_distribution<std::size_t> cut(0, whole.size() - 1);
        message.push_back(whole.substr(0, cut(random)));
        ++surely_malformed;
        break;
      }
      case 4:  // a 3-byte address
        event.address = ipv4_bytes("198.51.100.67").substr(0, 3);
        message.push_back(encode_request(event));
        ++surely_malformed;
        break;
      case 5:  // prefix length 200
        event.address = ipv4_bytes("198.51.100.67");
        event.length = 200;
        message.push_back(encode_request(event));
        ++surely_malformed;
        break;
      case 6:  // a jail with spaces
        event.address = ipv4_bytes("198.51.100.68");
        event.jail = "ss hd";
        message.push_back(encode_request(event));
        ++surely_malformed;
        break;
      case 7:  // bantime -5
        event.address = ipv4_bytes("198.51.100.69");
        event.bantime = -5;
        message.push_back(encode_request(event));
        ++surely_malformed;
        break;
      case 8:  // a host_id with spaces, an unknown kind, a 15-byte event id, a time in 1970
        event.address = ipv4_bytes("198.51.100.70");
        switch ((i / 12) % 4) {
          case 0: event.host_id = "web 01"; break;
          case 1: event.kind = 7; break;
          case 2: event.event_id.resize(15); break;
          default: event.time_ms = 1000; break;
        }
        message.push_back(encode_request(event));
        ++surely_malformed;
        break;
      case 9:  // a valid event first, more frames after it
      case 10: {
        message.push_back(encode_request(event));
        for (int extra = extra_frames(random); extra > 0; --extra) {
          message.push_back(random_bytes(random, random_size(random)));
        }
        ++multi_frame;
        break;
      }
      default: {  // junk first, a valid event last
        message.push_back(random_bytes(random, random_size(random)));
        message.push_back(encode_request(event));
        ++multi_frame;
        break;
      }
    }
    ASSERT_TRUE(dealer.send(message)) << "frame " << i << ": " << zmq_strerror(zmq_errno());
  }
  // A valid event last, on the same connection: its ack means the aggregator has read all of the above.
  WireEvent control = valid("198.51.100.99");
  ASSERT_TRUE(dealer.send({encode_request(control)}));
  ASSERT_TRUE(dealer.wait_for_reply_with(control.event_id, deadline_in(std::chrono::seconds(60))));
  ASSERT_TRUE(fleet.aggregator()->running()) << fleet.aggregator()->log();

  httplib::Client http("127.0.0.1", http_port);
  http.set_connection_timeout(std::chrono::seconds(5));
  http.set_read_timeout(std::chrono::seconds(10));
  std::string metrics;
  ASSERT_TRUE(poll_until(
      [&] {
        auto result = http.Get("/metrics");
        metrics = result ? result->body : "GET /metrics: " + httplib::to_string(result.error());
        return result && result->status == 200 && rejected_count(metrics, "malformed").value_or(0) > 0;
      },
      deadline_in(kSoon), "/metrics to count malformed input", [&] { return metrics; }));
  EXPECT_GE(rejected_count(metrics, "malformed").value_or(0), surely_malformed) << metrics;
  // No other client sends more than one frame.
  EXPECT_EQ(rejected_count(metrics, "frames").value_or(0), multi_frame) << metrics;

  // The next honest publish: acked, listed, enforced.
  const auto published = fleet.publish(web01, {"ban", "--ip", "198.51.100.25", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(web01), 0u) << "the publish was not acked\n" << describe(published);
  EXPECT_TRUE(fleet.enforced(web02, "198.51.100.25"));
  const auto document = list_now(fleet, web02);
  // Exactly the probe, the control event and the honest ban: nothing of the hostile frames.
  EXPECT_EQ(listed_addresses(document), (std::vector<std::string>{"192.0.2.200", "198.51.100.25", "198.51.100.99"}))
      << document.dump();
  if (const auto* ban = find_ban(document, "198.51.100.25")) {
    EXPECT_EQ(strings_of(ban->value("reporters", nlohmann::json())), std::vector<std::string>{"web-01"}) << ban->dump();
  }
  EXPECT_TRUE(fleet.aggregator()->running()) << fleet.aggregator()->log();
}

TEST_F(Security, WorldReadableSecretKeyIsRefusedByEveryProgram) {
  const Host& web01 = fleet.add_host("web-01");
  const auto host_key = key_file("web-01", ".key");
  std::filesystem::permissions(host_key, static_cast<std::filesystem::perms>(0644));

  const std::vector<std::vector<std::string>> clients{
      {program("fleetban-publish"), "ban", "--ip", "198.51.100.30", "--jail", "sshd", "--config",
       web01.config.string()},
      {program("fleetban-subscriber"), "--config", web01.config.string()},
      {program("fleetban"), "list", "--config", web01.config.string()},
  };
  for (const auto& argv : clients) {
    const auto result = run(argv);
    EXPECT_EQ(result.exit_code, 2) << describe(result);
    EXPECT_TRUE(contains(result.output, "chmod 600")) << describe(result);
    EXPECT_TRUE(contains(result.output, host_key.string())) << describe(result);
  }
  EXPECT_EQ(spooled_events(web01), 0u) << "fleetban-publish spooled an event with a refused key";

  const auto server_key = key_file("aggregator", ".key");
  std::filesystem::permissions(server_key, static_cast<std::filesystem::perms>(0644));
  const auto aggregator = run({program("fleetban-aggregator"), "--config", fleet.aggregator_config().string()});
  EXPECT_EQ(aggregator.exit_code, 2) << describe(aggregator);
  EXPECT_TRUE(contains(aggregator.output, "chmod 600")) << describe(aggregator);
  EXPECT_TRUE(contains(aggregator.output, server_key.string())) << describe(aggregator);
}

TEST_F(Security, OnlyAnOperatorKeyBansAndUnbans) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& alice = fleet.add_host("alice");
  // alice's key is an operator's: authorized_dir/operators/alice.pub.
  std::filesystem::create_directories(fleet.authorized_dir() / "operators");
  std::filesystem::rename(fleet.authorized_dir() / "alice.pub", fleet.authorized_dir() / "operators" / "alice.pub");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  const auto by_host = fleetban({"ban", "198.51.100.7", "--config", web01.config.string()});
  EXPECT_EQ(by_host.exit_code, 1) << describe(by_host);
  EXPECT_TRUE(contains(by_host.output, "refused")) << describe(by_host);
  EXPECT_TRUE(contains(by_host.output, "not an operator key")) << describe(by_host);
  ASSERT_TRUE(fleet.probe_subscribers(web01));
  {
    const auto document = list_now(fleet, web01);
    EXPECT_EQ(find_ban(document, "198.51.100.7"), nullptr) << document.dump();
    EXPECT_FALSE(recorded(web01.ban_log, "198.51.100.7")) << read_file(web01.ban_log);
  }

  const auto by_operator = fleetban({"ban", "198.51.100.7", "--config", alice.config.string()});
  ASSERT_EQ(by_operator.exit_code, 0) << describe(by_operator);
  EXPECT_TRUE(fleet.enforced(web01, "198.51.100.7"));
  nlohmann::json document;
  ASSERT_TRUE(fleet.list_until(
      web01, "`fleetban list --json` to show 198.51.100.7",
      [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.7") != nullptr; }, &document));
  EXPECT_EQ(strings_of(find_ban(document, "198.51.100.7")->value("reporters", nlohmann::json())),
            std::vector<std::string>{"alice"})
      << document.dump();

  // A host key cannot lift it either.
  const auto unban_by_host = fleetban({"unban", "198.51.100.7", "--config", web01.config.string()});
  EXPECT_EQ(unban_by_host.exit_code, 1) << describe(unban_by_host);
  EXPECT_TRUE(contains(unban_by_host.output, "not an operator key")) << describe(unban_by_host);
  ASSERT_TRUE(fleet.probe_subscribers(web01));
  EXPECT_NE(find_ban(list_now(fleet, web01), "198.51.100.7"), nullptr);
  EXPECT_FALSE(recorded(web01.unban_log, "198.51.100.7")) << read_file(web01.unban_log);

  const auto unban_by_operator = fleetban({"unban", "198.51.100.7", "--config", alice.config.string()});
  ASSERT_EQ(unban_by_operator.exit_code, 0) << describe(unban_by_operator);
  EXPECT_TRUE(fleet.lifted(web01, "198.51.100.7"));
  EXPECT_TRUE(fleet.unlisted(web01, "198.51.100.7"));
}

TEST_F(Security, RevokedKeyCannotOpenNewConnectionsAfterSighup) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  const auto before = fleetban({"status", "--config", web02.config.string()});
  ASSERT_EQ(before.exit_code, 0) << describe(before);

  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "web-02.pub"));
  fleet.aggregator()->kill(SIGHUP);
  ASSERT_TRUE(aggregator_logged({"zap_keys_reloaded"}));

  const auto after = fleetban({"status", "--config", web02.config.string()});
  EXPECT_EQ(after.exit_code, 1) << describe(after);
  EXPECT_TRUE(contains(after.output, "the peer refused this key")) << describe(after);

  const auto published = fleet.publish(web02, {"ban", "--ip", "198.51.100.26", "--jail", "sshd", "--bantime", "600"});
  EXPECT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(web02), 1u) << describe(published);
  const auto document = list_now(fleet, web01);
  EXPECT_EQ(find_ban(document, "198.51.100.26"), nullptr) << document.dump();

  // The keys still in authorized_dir still get in.
  const auto others = fleetban({"status", "--config", web01.config.string()});
  EXPECT_EQ(others.exit_code, 0) << describe(others);
  EXPECT_TRUE(fleet.aggregator()->running());
}

// libzmq asks the ZAP handler only at the handshake, so a connection made before the revocation
// stays open; what it sends is refused all the same.
TEST_F(Security, RevokedKeysOpenConnectionCanNoLongerBan) {
  const Host& web01 = fleet.add_host("web-01");
  fleet.add_host("web-02");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  RawCurveDealer dealer(fleet.ingest_endpoint(), read_key(key_file("aggregator", ".pub")),
                        read_key(key_file("web-02", ".key")));
  ASSERT_TRUE(dealer.wait_for_event(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, "the CURVE handshake", deadline_in(kSoon)));
  std::mt19937 random(7);
  const WireEvent before{
      .event_id = random_bytes(random, 16), .address = ipv4_bytes("198.51.100.27"), .host_id = "web-02"};
  ASSERT_TRUE(dealer.send({encode_request(before)}));
  ASSERT_TRUE(dealer.wait_for_reply_with(before.event_id, deadline_in(kSoon)));
  ASSERT_NE(find_ban(list_now(fleet, web01), "198.51.100.27"), nullptr) << "the ban before the revocation";

  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "web-02.pub"));
  fleet.aggregator()->kill(SIGHUP);
  ASSERT_TRUE(aggregator_logged({"zap_keys_reloaded"}));

  const WireEvent after{
      .event_id = random_bytes(random, 16), .address = ipv4_bytes("198.51.100.28"), .host_id = "web-02"};
  ASSERT_TRUE(dealer.send({encode_request(after)}));
  EXPECT_TRUE(dealer.wait_for_reply_with("web-02 is no longer authorized", deadline_in(kSoon)));
  EXPECT_TRUE(aggregator_logged({"event_refused", "host=web-02", "no longer authorized"}));
  const auto document = list_now(fleet, web01);
  EXPECT_EQ(find_ban(document, "198.51.100.28"), nullptr) << document.dump();
  EXPECT_NE(find_ban(document, "198.51.100.27"), nullptr) << "what was decided before stays\n" << document.dump();

  // Nor does it get answers: a status request on the same connection is dropped and logged.
  ASSERT_TRUE(dealer.send({encode_status_request("revoked-status-1")}));
  EXPECT_TRUE(aggregator_logged({"query_refused", "no longer authorized"}));
  EXPECT_FALSE(dealer.wait_for_reply_with("revoked-status-1", deadline_in(std::chrono::seconds(2))))
      << "a status answer reached a connection whose key was removed";
}

// The subscriber of a revoked host is cut off: the aggregator makes every subscriber connect
// again, the revoked key is refused, and the other hosts carry on.
TEST_F(Security, RevokedHostsSubscriberIsCutOffAndTheOthersCarryOn) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  Process& revoked = fleet.start_subscriber(web02);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "web-02.pub"));
  fleet.aggregator()->kill(SIGHUP);
  ASSERT_TRUE(aggregator_logged({"broadcast_rebound"}));

  for (const char* ip : {"198.51.100.30", "198.51.100.31"}) {
    const auto published = fleet.publish(web01, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "600"});
    ASSERT_EQ(published.exit_code, 0) << describe(published);
    EXPECT_TRUE(fleet.enforced(web01, ip)) << "the host still authorized carries on";
  }
  // What web-01 has by now, web-02 would have had too; a few seconds more, to be sure.
  EXPECT_FALSE(poll_until([&] { return recorded(web02.ban_log, "198.51.100.30"); },
                          deadline_in(std::chrono::seconds(3)),
                          "web-02 to enforce a ban made after its key was revoked"))
      << read_file(web02.ban_log);
  EXPECT_FALSE(recorded(web02.ban_log, "198.51.100.31")) << read_file(web02.ban_log);
  EXPECT_TRUE(poll_until(
      [&] {
        return has_line_with(revoked.log(), {"snapshot_failed", "refused this key"});
      },
      deadline_in(kSoon), "web-02's subscriber to be refused", [&] { return revoked.log(); }));
}

}  // namespace
}  // namespace fleetban::testing
