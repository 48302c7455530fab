// fleetban-relay (INTERFACE.md, "High availability and relays"): real relays between real hosts
// and a real aggregator, all under CURVE. A relay admits hosts from its own authorized_dir,
// forwards their events upstream vouching for their names, passes the acks back, serves snapshots
// from its live copy and republishes the broadcast; hosts list two relays and move to the second
// when the first is killed.
#include "prometheus_series.hpp"
#include "require_postgres.hpp"
#include "security_helpers.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fleetban::testing {
namespace {

constexpr std::chrono::seconds kBound{20};  // only catches a program that hangs

std::vector<std::filesystem::path> spooled_events(const std::filesystem::path& spool) {
  std::vector<std::filesystem::path> events;
  for (const auto& file : regular_files_under(spool)) {
    if (file.filename().string().rfind('.', 0) != 0 && file.parent_path() == spool) events.push_back(file);
  }
  return events;
}

std::size_t count_lines_with(const std::string& text, std::string_view part) {
  std::size_t count = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) count += contains(line, part) ? 1 : 0;
  return count;
}

std::string toml_list(const std::vector<std::string>& items) {
  std::string list = "[";
  for (const auto& item : items) list += (list.size() > 1 ? ", " : "") + toml_string(item);
  return list + "]";
}

// One fleetban-relay process with its own ports, relay.toml and authorized_dir.
struct Relay {
  std::string name;
  std::filesystem::path config;
  std::filesystem::path authorized;
  std::uint16_t ingest_port = free_tcp_port();
  std::uint16_t broadcast_port = free_tcp_port();
  std::uint16_t http_port = free_tcp_port();
  std::unique_ptr<Process> process;

  std::string ingest() const { return "tcp://127.0.0.1:" + std::to_string(ingest_port); }
  std::string broadcast() const { return "tcp://127.0.0.1:" + std::to_string(broadcast_port); }
  std::string http() const { return "127.0.0.1:" + std::to_string(http_port); }
};

// A fleet under CURVE: the aggregator admits `ops` (it publishes straight to the aggregator), the
// hosts web-01 and web-02 and the relay key relay-eu1 (under relays/). Relays made by add_relay
// share that key pair and admit web-01 and web-02 (and whatever a test adds to their directory).
class Relays : public ::testing::Test {
 protected:
  TempDir dir;
  Fleet fleet{dir, SecurityMode::curve};
  const Host& ops = fleet.add_host("ops");
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  std::vector<std::unique_ptr<Relay>> relays;

  void SetUp() override {
    fleet.add_host("relay-eu1");  // its key pair, made like a host's
    std::filesystem::create_directories(fleet.authorized_dir() / "relays");
    std::filesystem::rename(fleet.authorized_dir() / "relay-eu1.pub",
                            fleet.authorized_dir() / "relays" / "relay-eu1.pub");
  }

  Relay& add_relay(const std::vector<std::string>& admits = {"web-01", "web-02"}) {
    auto relay = std::make_unique<Relay>();
    relay->name = "relay-" + std::to_string(relays.size() + 1);
    relay->config = dir / (relay->name + ".toml");
    relay->authorized = dir / (relay->name + "-authorized");
    std::filesystem::create_directories(relay->authorized);
    for (const auto& name : admits) {
      std::filesystem::copy_file(fleet.keys_dir() / (name + ".pub"), relay->authorized / (name + ".pub"));
    }
    write_file(relay->config, "upstream = " + toml_string(fleet.ingest_endpoint()) + "\n" +
                                  "upstream_broadcast = " + toml_string(fleet.broadcast_endpoint()) + "\n" +
                                  "upstream_key = " + toml_string((fleet.keys_dir() / "aggregator.pub").string()) +
                                  "\n" + "ingest = " + toml_string(relay->ingest()) + "\n" +
                                  "broadcast = " + toml_string(relay->broadcast()) + "\n" +
                                  "server_key = " + toml_string((fleet.keys_dir() / "relay-eu1.key").string()) + "\n" +
                                  "authorized_dir = " + toml_string(relay->authorized.string()) + "\n" +
                                  "http = " + toml_string(relay->http()) + "\n");
    relays.push_back(std::move(relay));
    return *relays.back();
  }

  // Starts it and waits until it answers `fleetban status` through `via` (a host pointed at it):
  // it does once it holds the upstream's snapshot.
  ::testing::AssertionResult start(Relay& relay, const Host& via) {
    relay.process = std::make_unique<Process>(
        std::vector<std::string>{program("fleetban-relay"), "--config", relay.config.string()},
        dir / (relay.name + ".log"));
    return poll_until(
        [&] {
          return relay.process->running() &&
                 run({program("fleetban"), "status", "--config", via.config.string()}, kBound).exit_code == 0;
        },
        deadline_in(kSoon), relay.name + " to answer `fleetban status`", [&] { return relay.process->log(); });
  }

  // The host talks to these relays only (a list when several), with the relays' public key.
  void point_at(const Host& host, const std::vector<const Relay*>& list) {
    std::vector<std::string> ingest;
    std::vector<std::string> broadcast;
    for (const Relay* relay : list) {
      ingest.push_back(relay->ingest());
      broadcast.push_back(relay->broadcast());
    }
    edit_config(host.config, {{"aggregator", toml_list(ingest)},
                              {"broadcast", toml_list(broadcast)},
                              {"server_key", toml_string((fleet.keys_dir() / "relay-eu1.pub").string())}});
  }

  RunResult ban(const Host& host, const std::string& ip) {
    return fleet.publish(host, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "600"}, kBound);
  }

  // GET path on the relay's `http`: the status and the body (status -1 when nothing answered).
  std::pair<int, std::string> get(const Relay& relay, const std::string& path) {
    httplib::Client client("127.0.0.1", relay.http_port);
    client.set_connection_timeout(kBound);
    client.set_read_timeout(kBound);
    auto response = client.Get(path);
    if (!response) return {-1, ""};
    return {response->status, response->body};
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& relay : relays) {
        if (relay->process) std::cerr << "--- " << relay->name << " log:\n" << last_lines(relay->process->log(), 60);
      }
    }
  }
};

TEST_F(Relays, EventsGoUpThroughTheRelayAndDecisionsComeBackDown) {
  Relay& relay = add_relay();
  point_at(web01, {&relay});
  point_at(web02, {&relay});
  ASSERT_TRUE(fleet.start_aggregator(ops));
  ASSERT_TRUE(start(relay, web01));
  Process& subscriber = fleet.start_subscriber(web02);

  // web-01's publish is acked through the relay (nothing spooled), and the fleet's decision names
  // web-01 as its reporter: the relay vouched for the name it admitted.
  const auto published = ban(web01, "198.51.100.101");
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_TRUE(spooled_events(web01.spool).empty()) << describe(published);
  nlohmann::json document;
  ASSERT_TRUE(fleet.list_until(
      ops, "198.51.100.101 banned at the aggregator",
      [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.101") != nullptr; }, &document));
  EXPECT_EQ(strings_of(find_ban(document, "198.51.100.101")->value("reporters", nlohmann::json())),
            std::vector<std::string>{"web-01"})
      << document.dump();
  // web-02 follows the relay's broadcast: it enforces it.
  EXPECT_TRUE(fleet.enforced(web02, "198.51.100.101"));

  // A ban made at the aggregator (ops, direct) comes down through the relay too, and its unban.
  ASSERT_EQ(ban(ops, "198.51.100.102").exit_code, 0);
  EXPECT_TRUE(fleet.enforced(web02, "198.51.100.102"));
  ASSERT_EQ(fleet.publish(ops, {"unban", "--ip", "198.51.100.102", "--jail", "sshd"}, kBound).exit_code, 0);
  EXPECT_TRUE(fleet.lifted(web02, "198.51.100.102"));

  // `fleetban list` through the relay is a snapshot of the relay's live copy: it has the ban.
  EXPECT_TRUE(fleet.list_until(web01, "198.51.100.101 listed through the relay", [](const nlohmann::json& doc) {
    return find_ban(doc, "198.51.100.101") != nullptr && find_ban(doc, "198.51.100.102") == nullptr;
  }));

  // Republished unchanged and in order: the subscriber took its one snapshot at start and never
  // had to take another (a relay that dropped or renumbered a decision would make it re-snap).
  EXPECT_EQ(count_lines_with(subscriber.log(), "snapshot sequence="), 1u) << subscriber.log();
  EXPECT_FALSE(contains(subscriber.log(), "taking a new snapshot")) << subscriber.log();

  // What only the aggregator knows comes through the relay too: the hosts list (web-02's
  // subscriber reported in through the relay) and an address's history.
  EXPECT_TRUE(poll_until(
      [&] {
        const auto hosts = run({program("fleetban"), "hosts", "--json", "--config", web01.config.string()}, kBound);
        if (hosts.exit_code != 0) return false;
        const auto document = nlohmann::json::parse(hosts.out, nullptr, false);
        if (!document.is_object()) return false;
        for (const auto& host : document.value("hosts", nlohmann::json::array())) {
          if (host.value("name", "") == "web-02")
            return host.contains("subscriber_seen_at") && !host["subscriber_seen_at"].is_null();
        }
        return false;
      },
      deadline_in(kSoon), "`fleetban hosts` through the relay to show web-02's subscriber"));
  const auto show =
      run({program("fleetban"), "show", "198.51.100.101", "--json", "--config", web01.config.string()}, kBound);
  EXPECT_EQ(show.exit_code, 0) << describe(show);
  EXPECT_TRUE(contains(show.out, "web-01")) << describe(show);

  // The relay counts what it forwarded and passed back, and says it is in step upstream.
  const std::string metrics = get(relay, "/metrics").second;
  EXPECT_TRUE(has_line_with(metrics, {"fleetban_relay_upstream_connected 1"})) << metrics;
  EXPECT_TRUE(has_line_with(metrics, {"fleetban_relay_events_forwarded_total 1"})) << metrics;
  EXPECT_TRUE(has_line_with(metrics, {"fleetban_relay_acks_returned_total 1"})) << metrics;
  EXPECT_TRUE(has_line_with(metrics, {"fleetban_relay_active_bans 1"})) << metrics;
  EXPECT_EQ(get(relay, "/healthz").first, 200);
  // Every relay series the alert rules read is served.
  const std::set<std::string> served = series_served(metrics);
  for (const auto& name : series_in_rules()) {
    if (!is_relay_series(name)) continue;
    EXPECT_TRUE(served.contains(name)) << name << " is not in the relay's /metrics";
  }
}

TEST_F(Relays, ANameTheAggregatorDoesNotAdmitIsRefusedThroughTheRelay) {
  // The relay admits web-99, the aggregator does not: the relay may not vouch for it.
  const Host& web99 = fleet.add_host("web-99");
  std::filesystem::remove(fleet.authorized_dir() / "web-99.pub");
  Relay& relay = add_relay({"web-01", "web-99"});
  point_at(web99, {&relay});
  point_at(web01, {&relay});
  ASSERT_TRUE(fleet.start_aggregator(ops));
  ASSERT_TRUE(start(relay, web01));

  const auto refused = ban(web99, "198.51.100.103");
  EXPECT_EQ(refused.exit_code, 0) << describe(refused);
  // Refused for good, upstream, and said so to the publisher through the relay: not spooled.
  EXPECT_TRUE(has_line_with(refused.output, {"event_refused", "may not vouch for host web-99"})) << describe(refused);
  EXPECT_TRUE(spooled_events(web99.spool).empty());
  EXPECT_TRUE(aggregator_logged(fleet, {"event_refused", "host=web-99", "relay relay-eu1 may not vouch"}));
  // A name the relay admits goes through.
  ASSERT_EQ(ban(web01, "198.51.100.104").exit_code, 0);
  EXPECT_TRUE(fleet.list_until(ops, "198.51.100.104 banned", [](const nlohmann::json& doc) {
    return find_ban(doc, "198.51.100.104") != nullptr && find_ban(doc, "198.51.100.103") == nullptr;
  }));
}

TEST_F(Relays, AKeyTheRelayDoesNotAdmitGetsNothingThroughIt) {
  // ops is admitted by the aggregator but not by the relay.
  Relay& relay = add_relay({"web-01"});
  point_at(web01, {&relay});
  point_at(ops, {&relay});
  ASSERT_TRUE(fleet.start_aggregator(web02));
  ASSERT_TRUE(start(relay, web01));
  const auto result = ban(ops, "198.51.100.105");
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_EQ(spooled_events(ops.spool).size(), 1u) << describe(result);  // no ack: its handshake was refused
  ASSERT_TRUE(fleet.probe_subscribers(web02));
  EXPECT_EQ(find_ban(nlohmann::json::parse(fleet.list(web02).out), "198.51.100.105"), nullptr);
}

TEST_F(Relays, HostsMoveToTheNextRelayWhenTheirRelayIsKilled) {
  Relay& first = add_relay();
  Relay& second = add_relay();
  point_at(web01, {&first, &second});
  point_at(web02, {&first, &second});
  ASSERT_TRUE(fleet.start_aggregator(ops));
  ASSERT_TRUE(start(first, web01));
  ASSERT_TRUE(start(second, web01));
  fleet.start_subscriber(web02);
  ASSERT_EQ(ban(ops, "198.51.100.111").exit_code, 0);
  ASSERT_TRUE(fleet.enforced(web02, "198.51.100.111"));

  first.process->kill(SIGKILL);
  ASSERT_EQ(first.process->wait_for_exit(deadline_in(kSoon)), 128 + SIGKILL);
  // web-02's subscriber moves to the second relay: a ban made at the aggregator reaches it.
  ASSERT_EQ(ban(ops, "198.51.100.112").exit_code, 0);
  EXPECT_TRUE(fleet.enforced(web02, "198.51.100.112", deadline_in(std::chrono::seconds(60))));
  // web-01's publish is acked by the second relay within its timeout: nothing spooled.
  const auto published = ban(web01, "198.51.100.113");
  EXPECT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_TRUE(spooled_events(web01.spool).empty()) << describe(published);
  EXPECT_TRUE(fleet.enforced(web02, "198.51.100.113"));
}

// An aggregator failing over is seconds of silence. The relay covers them with heartbeats of its
// own, so its hosts neither move to another relay nor take a snapshot; after 15 s of silence it
// stops, and its hosts move on as they would from a dead relay.
TEST_F(Relays, HostsStayWithTheirRelayWhileItsUpstreamIsSilentAndMoveOnAfterTheHold) {
  constexpr std::chrono::seconds kHoldHostsFor{15};  // REFERENCE.md, fleetban-relay
  Relay& relay = add_relay();
  Relay& other = add_relay();
  point_at(web02, {&relay, &other});
  ASSERT_TRUE(fleet.start_aggregator(ops));
  ASSERT_TRUE(start(relay, web02));
  ASSERT_TRUE(start(other, web02));
  Process& host = fleet.start_subscriber(web02);
  ASSERT_EQ(ban(ops, "198.51.100.141").exit_code, 0);
  ASSERT_TRUE(fleet.enforced(web02, "198.51.100.141"));
  const std::size_t snapshots = count_lines_with(host.log(), "snapshot sequence=");

  // Frozen, the aggregator says nothing and closes nothing: the relays hear it go silent.
  fleet.aggregator()->kill(SIGSTOP);
  ASSERT_TRUE(poll_until([&] { return get(relay, "/healthz").first == 503; }, deadline_in(kSoon),
                         "the relay's /healthz to say 503 (its upstream silent for 3 s)"));
  // Then as long again: twice what a host waits for a heartbeat (three missed, REFERENCE.md).
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_TRUE(contains(relay.process->log(), "upstream_silent")) << last_lines(relay.process->log(), 20);
  EXPECT_FALSE(contains(host.log(), "missed_heartbeats")) << last_lines(host.log(), 20);

  // Back: the host, still on the first relay, gets the next ban without a new snapshot. The relay
  // moved on to the same upstream while it was silent: the next ban waits until it is in step
  // again (a new snapshot, or carrying on), else it could reach the relay inside that snapshot
  // rather than on the broadcast, and the relay's hosts would then see a gap and take one too.
  const auto in_step = [&] {
    const std::string log = relay.process->log();
    return count_lines_with(log, "live_copy sequence=") + count_lines_with(log, "carrying_on");
  };
  const std::size_t in_step_before = in_step();
  fleet.aggregator()->kill(SIGCONT);
  ASSERT_TRUE(poll_until([&] { return in_step() > in_step_before && get(relay, "/healthz").first == 200; },
                         deadline_in(kSoon), "the relay to be in step with its upstream again",
                         [&] { return last_lines(relay.process->log(), 20); }));
  ASSERT_EQ(ban(ops, "198.51.100.142").exit_code, 0);
  ASSERT_TRUE(fleet.enforced(web02, "198.51.100.142"));
  EXPECT_FALSE(contains(host.log(), "missed_heartbeats")) << last_lines(host.log(), 20);
  EXPECT_FALSE(contains(host.log(), "following aggregator=")) << last_lines(host.log(), 20);
  EXPECT_EQ(count_lines_with(host.log(), "snapshot sequence="), snapshots) << last_lines(host.log(), 20);

  // Silent for good: after the hold the relay goes quiet and the host moves on.
  fleet.aggregator()->kill(SIGSTOP);
  EXPECT_TRUE(poll_until([&] { return contains(host.log(), "missed_heartbeats"); }, deadline_in(kHoldHostsFor + kBound),
                         "the host to give up on its relay", [&] { return host.log(); }));
  EXPECT_TRUE(contains(relay.process->log(), "no more heartbeats of the relay's own"))
      << last_lines(relay.process->log(), 20);
  fleet.aggregator()->kill(SIGCONT);
}

TEST_F(Relays, ARelayFollowsAnotherRelay) {
  // The second relay's upstream is the first: relays chain, and the first admits the second's key
  // (relays/) and the hosts it vouches for.
  Relay& first = add_relay();
  Relay& second = add_relay();
  std::filesystem::create_directories(first.authorized / "relays");
  std::filesystem::copy_file(fleet.keys_dir() / "relay-eu1.pub", first.authorized / "relays" / "relay-eu1.pub");
  edit_config(second.config, {{"upstream", toml_string(first.ingest())},
                              {"upstream_broadcast", toml_string(first.broadcast())},
                              {"upstream_key", toml_string((fleet.keys_dir() / "relay-eu1.pub").string())}});
  point_at(web01, {&first});
  point_at(web02, {&second});
  ASSERT_TRUE(fleet.start_aggregator(ops));
  ASSERT_TRUE(start(first, web01));
  ASSERT_TRUE(start(second, web02));
  fleet.start_subscriber(web01);
  fleet.start_subscriber(web02);
  // Up two relays and down the other branch.
  const auto published = ban(web02, "198.51.100.121");
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_TRUE(spooled_events(web02.spool).empty()) << describe(published);
  EXPECT_TRUE(fleet.enforced(web01, "198.51.100.121"));
  EXPECT_TRUE(fleet.enforced(web02, "198.51.100.121"));
  nlohmann::json document;
  ASSERT_TRUE(fleet.list_until(
      ops, "198.51.100.121 banned", [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.121"); },
      &document));
  EXPECT_EQ(strings_of(find_ban(document, "198.51.100.121")->value("reporters", nlohmann::json())),
            std::vector<std::string>{"web-02"});
  // `fleetban status` through both relays: the bans from the second relay's copy, and what only the
  // aggregator knows (web-02 reported) from upstream's status, each relay asking its own upstream.
  RunResult status;
  EXPECT_TRUE(poll_until(
      [&] {
        status = run({program("fleetban"), "status", "--config", web02.config.string()}, kBound);
        return status.exit_code == 0 && contains(status.out, "hosts:        1 reported");
      },
      deadline_in(kSoon), "`fleetban status` through two relays to count web-02's report"))
      << describe(status);
  EXPECT_TRUE(contains(status.out, "active bans:  1")) << describe(status);
}

// A relay asked before it has its first snapshot from upstream answers once it has it (a host's
// subscriber that reaches a relay just started need not time out and move on).
TEST_F(Relays, AStatusAskedBeforeTheRelayHasItsCopyIsAnsweredOnceItHasIt) {
  Relay& relay = add_relay();
  point_at(web01, {&relay});
  edit_config(web01.config, {{"timeout_ms", "10000"}});
  ASSERT_TRUE(fleet.start_aggregator(ops));
  ASSERT_EQ(ban(ops, "198.51.100.141").exit_code, 0);
  // Asked once, at once: the relay's first snapshot comes after its first heartbeat from upstream.
  relay.process = std::make_unique<Process>(
      std::vector<std::string>{program("fleetban-relay"), "--config", relay.config.string()}, dir / "relay-1.log");
  const auto status = run({program("fleetban"), "status", "--config", web01.config.string()}, kBound);
  EXPECT_EQ(status.exit_code, 0) << describe(status);
  EXPECT_TRUE(contains(status.output, "active bans:  1")) << describe(status);  // from the copy
}

// The line `active: HOST:PID since TIME UTC (HA epoch N)` of a `fleetban status` output, or "".
std::string active_line(const std::string& status) {
  std::istringstream lines(status);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("active:", 0) == 0) return line;
  }
  return "";
}

// An aggregator on PostgreSQL is the active member of an HA group (of one here): a host behind a
// relay sees the same `active:` line as an operator asking the aggregator, taken from upstream's
// status by the relay, and the relay's /metrics count it connected upstream.
TEST_F(Relays, StatusThroughARelayNamesTheActiveMemberOfTheHaGroup) {
  FLEETBAN_REQUIRE_POSTGRES();
  PostgresServer server;
  fleet.use_state(server.url());
  Relay& relay = add_relay();
  point_at(web01, {&relay});
  ASSERT_TRUE(fleet.start_aggregator(ops));
  ASSERT_TRUE(start(relay, web01));
  const auto direct = run({program("fleetban"), "status", "--config", ops.config.string()}, kBound);
  ASSERT_EQ(direct.exit_code, 0) << describe(direct);
  const std::string expected = active_line(direct.out);
  ASSERT_TRUE(contains(expected, " (HA epoch ")) << describe(direct);
  RunResult through;
  EXPECT_TRUE(poll_until(
      [&] {
        through = run({program("fleetban"), "status", "--config", web01.config.string()}, kBound);
        return through.exit_code == 0 && active_line(through.out) == expected;
      },
      deadline_in(kSoon), "`fleetban status` through the relay to name the active member"))
      << "asked the aggregator:\n"
      << direct.out << "\nthrough the relay:\n"
      << describe(through);
  const auto [code, metrics] = get(relay, "/metrics");
  EXPECT_EQ(code, 200);
  EXPECT_TRUE(contains(metrics, "\nfleetban_relay_upstream_connected 1\n")) << metrics;
}

TEST_F(Relays, WithTheAggregatorDownNothingIsAckedAndTheSpoolCatchesUpLater) {
  Relay& relay = add_relay();
  point_at(web01, {&relay});
  ASSERT_TRUE(fleet.start_aggregator(ops));
  ASSERT_TRUE(start(relay, web01));
  ASSERT_EQ(fleet.stop_aggregator(), 0);
  // The relay notices its upstream's silence (three missed heartbeats) and says so.
  ASSERT_TRUE(poll_until([&] { return get(relay, "/healthz").first == 503; }, deadline_in(kSoon),
                         "the relay's /healthz to say 503"));
  // The relay is up, its upstream is not: it never acks on its own, so the event is spooled.
  const auto published = ban(web01, "198.51.100.131");
  EXPECT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(web01.spool).size(), 1u) << describe(published);
  // The aggregator comes back; web-01's subscriber, through the relay, drains its spool.
  ASSERT_TRUE(fleet.start_aggregator(ops));
  fleet.start_subscriber(web01);
  EXPECT_TRUE(fleet.list_until(ops, "198.51.100.131 banned after the spool drained",
                               [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.131") != nullptr; }));
  EXPECT_TRUE(
      poll_until([&] { return spooled_events(web01.spool).empty(); }, deadline_in(kSoon), "the spool to empty"));
}

// Each bad relay.toml exits 2 naming the key.
TEST(RelayConfig, BadConfigExitsTwoNamingTheKey) {
  TempDir dir;
  const std::string base =
      "upstream = \"tcp://127.0.0.1:7780\"\nupstream_broadcast = \"tcp://127.0.0.1:7781\"\n"
      "ingest = \"tcp://127.0.0.1:17780\"\nbroadcast = \"tcp://127.0.0.1:17781\"\n"
      "insecure = true\n";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"upstream_broadcast = [\"tcp://127.0.0.1:7781\", \"tcp://127.0.0.1:7782\"]\n", "upstream_broadcast"},
      {"upstream = \"tcp://127.0.0.1\"\n", "upstream"},
      {"http = \"nowhere\"\n", "http"},
      {"colour = \"blue\"\n", "colour"},
  };
  for (const auto& [line, key] : cases) {
    // The case's line replaces the base's line for its key (TOML forbids a key twice).
    std::string toml;
    std::istringstream lines(base);
    for (std::string l; std::getline(lines, l);) {
      if (!l.starts_with(key + " ")) toml += l + "\n";
    }
    write_file(dir / "relay.toml", toml + line);
    const auto result = run({program("fleetban-relay"), "--config", (dir / "relay.toml").string()}, kBound);
    EXPECT_EQ(result.exit_code, 2) << line << describe(result);
    EXPECT_TRUE(contains(result.output, "'" + key + "'")) << line << describe(result);
  }
  // Without insecure, the relay's own key is required.
  write_file(dir / "relay.toml",
             "upstream = \"tcp://127.0.0.1:7780\"\nupstream_broadcast = \"tcp://127.0.0.1:7781\"\n");
  const auto result = run({program("fleetban-relay"), "--config", (dir / "relay.toml").string()}, kBound);
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_TRUE(contains(result.output, "server_key")) << describe(result);
}

}  // namespace
}  // namespace fleetban::testing
