// fleetban with real Fail2Ban on both ends. Host A runs a fail2ban-server whose
// jail `sshd` has the shipped action.d/fleetban.conf as its only action (no
// firewall); host B runs a fail2ban-server with the fleet jail `fleetban` (no
// action at all) and a fleetban-subscriber with `[enforce] backend = "fail2ban"`.
// Failed logins are appended to A's log; what B enforces is read back with
// `fail2ban-client get fleetban banned`. Test addresses only: 192.0.2.0/24,
// 198.51.100.0/24, 2001:db8::/32.
#include "fail2ban_host.hpp"
#include "fleet.hpp"

#include <httplib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

// Lines of the aggregator's log that record a change of ip's fleet decision.
int decision_lines(const std::string& log, const std::string& ip) {
  int count = 0;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("decision seq=") != std::string::npos && line.find(" ip=" + ip + " ") != std::string::npos) {
      ++count;
    }
  }
  return count;
}

// fleetban_events_total from the aggregator's /metrics, summed over outcomes: kind -> count.
std::optional<std::map<std::string, long>> event_counts(const std::string& http_address) {
  const auto colon = http_address.rfind(':');
  httplib::Client client(http_address.substr(0, colon), std::stoi(http_address.substr(colon + 1)));
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(10));
  const auto result = client.Get("/metrics");
  if (!result || result->status != 200) {
    return std::nullopt;
  }
  std::map<std::string, long> counts{{"ban", 0}, {"unban", 0}};
  std::istringstream lines(result->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("fleetban_events_total{", 0) != 0) {
      continue;
    }
    const std::string kind = line.find("kind=\"unban\"") != std::string::npos ? "unban" : "ban";
    counts[kind] += std::stol(line.substr(line.rfind(' ') + 1));
  }
  return counts;
}

struct FleetOptions {
  std::string a_sshd_extra;              // more lines for A's [sshd]
  std::vector<std::string> b_allowlist;  // B's [enforce] allowlist
  bool http = false;                     // the aggregator's HTTP server (for /metrics)
};

class Fail2ban : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fail2ban_available()) {
      GTEST_SKIP() << "fail2ban-server and fail2ban-client are not on the PATH";
    }
  }

  // Hosts A and B with their fail2ban-servers, the aggregator, B's subscriber;
  // returns once a probe ban has reached B's fleet jail. Use with ASSERT_NO_FATAL_FAILURE.
  void start_fleet(const FleetOptions& options = {}) {
    a_host = &fleet.add_host("A");
    b_host = &fleet.add_host("B");
    a = std::make_unique<Fail2banHost>("A", a_host->dir, reporter_jail_local(*a_host, options.a_sshd_extra));
    b = std::make_unique<Fail2banHost>("B", b_host->dir, fleet_jail_local());
    use_fail2ban_backend(fleet, dir, *b_host, *b, options.b_allowlist);
    if (options.http) {
      http_address = "127.0.0.1:" + std::to_string(free_tcp_port());
      const std::string toml = read_file(fleet.aggregator_config());
      const auto at = toml.find("http      = \"\"\n");
      ASSERT_NE(at, std::string::npos) << "no http line to replace in\n" << toml;
      write_file(fleet.aggregator_config(), toml.substr(0, at) + "http = " + toml_string(http_address) + "\n" +
                                                toml.substr(at + std::string("http      = \"\"\n").size()));
    }
    ASSERT_TRUE(fleet.start_aggregator(*a_host));
    ASSERT_TRUE(a->start());
    ASSERT_TRUE(b->start());
    b_subscriber = &fleet.start_subscriber(*b_host);
    ASSERT_TRUE(probe_b());
  }

  // Publishes a ban of a fresh probe address through A's host config and waits
  // until B's fleet jail holds it: every decision made before is applied on B.
  ::testing::AssertionResult probe_b() {
    const std::string probe = "192.0.2." + std::to_string(120 + probes++);
    const auto result = fleet.publish(*a_host, {"ban", "--ip", probe, "--jail", "probe", "--bantime", "3600"});
    if (result.exit_code != 0) {
      return ::testing::AssertionFailure() << "the probe ban was not published\n" << describe(result);
    }
    return b->holds_soon("fleetban", probe);
  }

  // The current fleet entry for ip (nullopt: not banned by the fleet).
  std::optional<nlohmann::json> fleet_entry(const std::string& ip) {
    const auto listed = fleet.list(*a_host);
    EXPECT_EQ(listed.exit_code, 0) << describe(listed);
    const auto document = nlohmann::json::parse(listed.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(document.is_discarded()) << describe(listed);
    const auto* ban = find_ban(document, ip);
    return ban != nullptr ? std::optional<nlohmann::json>(*ban) : std::nullopt;
  }

  // Polls `fleetban list --json` until ip's entry satisfies predicate; returns it.
  ::testing::AssertionResult fleet_entry_until(const std::string& ip, const std::string& what,
                                               const std::function<bool(const nlohmann::json&)>& predicate,
                                               nlohmann::json* entry, Deadline deadline = deadline_in(kSoon)) {
    nlohmann::json document;
    auto outcome = fleet.list_until(
        *a_host, what,
        [&](const nlohmann::json& doc) {
          const auto* ban = find_ban(doc, ip);
          return ban != nullptr && predicate(*ban);
        },
        &document, deadline);
    if (outcome && entry != nullptr) {
      *entry = *find_ban(document, ip);
    }
    return outcome;
  }

  ::testing::AssertionResult fleet_drops(const std::string& ip, Deadline deadline = deadline_in(kSoon)) {
    return fleet.unlisted(*a_host, ip, deadline);
  }

  void expect_spool_empty(const Host& host) {
    EXPECT_TRUE(regular_files_under(host.spool).empty())
        << host.id
        << " spooled events, so the aggregator did not ack them in time: " << regular_files_under(host.spool).size()
        << " file(s) in " << host.spool.string();
  }

  // Destroyed in reverse: the Fail2Ban servers stop first, then the fleet's programs.
  TempDir dir;
  Fleet fleet{dir};
  const Host* a_host = nullptr;
  const Host* b_host = nullptr;
  std::unique_ptr<Fail2banHost> a;
  std::unique_ptr<Fail2banHost> b;
  Process* b_subscriber = nullptr;
  std::string http_address;
  int probes = 0;
};

// ---------------------------------------------------------------- the action file

TEST_F(Fail2ban, ShippedActionFileLoadsWithItsParameters) {
  const Host& host = fleet.add_host("A");
  Fail2banHost server("A", host.dir, reporter_jail_local(host));
  ASSERT_TRUE(server.start());

  const auto actions = server.client({"get", "sshd", "actions"});
  ASSERT_EQ(actions.exit_code, 0) << describe(actions);
  EXPECT_NE(actions.out.find("fleetban"), std::string::npos) << describe(actions);

  auto property = [&](const std::string& name) {
    const auto result = server.client({"get", "sshd", "action", "fleetban", name});
    EXPECT_EQ(result.exit_code, 0) << describe(result);
    return trimmed(result.out);
  };
  EXPECT_EQ(property("config"), host.config.string());
  EXPECT_EQ(property("publish"), program("fleetban-publish"));
  // A stop or restart runs the no-op actionflush instead of an unban per address.
  EXPECT_EQ(property("actionflush"), "true");
  const std::string ban = property("actionban");
  EXPECT_NE(ban.find("\"" + program("fleetban-publish") + "\" ban"), std::string::npos) << ban;
  EXPECT_NE(ban.find("--config \"" + host.config.string() + "\""), std::string::npos) << ban;
  EXPECT_NE(ban.find("--restored \"<restored>\""), std::string::npos) << ban;
  const std::string unban = property("actionunban");
  EXPECT_NE(unban.find("\"" + program("fleetban-publish") + "\" unban"), std::string::npos) << unban;
  EXPECT_NE(property("actionprolong").find(" ban "), std::string::npos);

  const std::string log = read_file(server.server_log());
  EXPECT_EQ(log.find(" ERROR "), std::string::npos) << log;
  EXPECT_TRUE(server.stop());
}

// ---------------------------------------------------------------- bans and unbans

TEST_F(Fail2ban, FailedLoginsOnABanTheAddressInTheFleetJailOnB) {
  ASSERT_NO_FATAL_FAILURE(start_fleet());

  const auto before = unix_now();
  a->fail("192.0.2.11", 2);
  ASSERT_TRUE(a->holds_soon("sshd", "192.0.2.11"));
  EXPECT_TRUE(b->holds_soon("fleetban", "192.0.2.11"));

  nlohmann::json ban;
  ASSERT_TRUE(fleet_entry_until(
      "192.0.2.11", "the fleet to ban 192.0.2.11", [](const nlohmann::json&) { return true; }, &ban));
  const auto after = unix_now();
  EXPECT_EQ(strings_of(ban.value("reporters", nlohmann::json())), std::vector<std::string>{"A"}) << ban.dump();
  EXPECT_EQ(strings_of(ban.value("jails", nlohmann::json())), std::vector<std::string>{"sshd"}) << ban.dump();
  EXPECT_EQ(ban.value("ban_count", nlohmann::json()), 1) << ban.dump();
  ASSERT_TRUE(ban.contains("expires_at") && ban["expires_at"].is_number_integer()) << ban.dump();
  // A's jail bans for 600 s from the last failure, and so does the fleet.
  EXPECT_GE(ban["expires_at"].get<std::int64_t>(), before + 600 - 1) << ban.dump();
  EXPECT_LE(ban["expires_at"].get<std::int64_t>(), after + 600) << ban.dump();
  expect_spool_empty(*a_host);
}

TEST_F(Fail2ban, Ipv6BanOnAReachesTheFleetJailOnB) {
  ASSERT_NO_FATAL_FAILURE(start_fleet());

  a->fail("2001:db8::77", 2);
  ASSERT_TRUE(a->holds_soon("sshd", "2001:db8::77"));
  EXPECT_TRUE(b->holds_soon("fleetban", "2001:db8::77"));
  EXPECT_TRUE(fleet_entry_until(
      "2001:db8::77", "the fleet to ban 2001:db8::77", [](const nlohmann::json&) { return true; }, nullptr));
}

TEST_F(Fail2ban, UnbanipOnALiftsTheAddressFromTheFleetJailOnB) {
  ASSERT_NO_FATAL_FAILURE(start_fleet());
  a->fail("192.0.2.12", 2);
  ASSERT_TRUE(a->holds_soon("sshd", "192.0.2.12"));
  ASSERT_TRUE(b->holds_soon("fleetban", "192.0.2.12"));

  // An operator's early unban on A; host_unban = "fleet" (the default) lifts it everywhere.
  const auto unbanned = a->client({"set", "sshd", "unbanip", "192.0.2.12"});
  ASSERT_EQ(unbanned.exit_code, 0) << describe(unbanned);
  EXPECT_TRUE(b->releases_soon("fleetban", "192.0.2.12"));
  EXPECT_TRUE(fleet_drops("192.0.2.12"));
  expect_spool_empty(*a_host);
}

// A's ban expires long before the fleet's: the fleet ban, kept alive by a second
// reporter, must stay on B until the fleet's own expiry, and only then go.
TEST_F(Fail2ban, ExpiryOnAIsNotAFleetUnban) {
  const Host& c = fleet.add_host("C");  // a second reporter, publishing by hand
  ASSERT_NO_FATAL_FAILURE(start_fleet({.a_sshd_extra = "bantime = 3\n"}));

  const std::string ip = "192.0.2.13";
  const auto now = unix_now();
  const auto reported =
      fleet.publish(c, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "15", "--time", std::to_string(now)});
  ASSERT_EQ(reported.exit_code, 0) << describe(reported);
  ASSERT_TRUE(b->holds_soon("fleetban", ip));

  a->fail(ip, 2);
  ASSERT_TRUE(a->holds_soon("sshd", ip));
  nlohmann::json ban;
  ASSERT_TRUE(fleet_entry_until(
      ip, "A's report of " + ip + " to reach the fleet",
      [](const nlohmann::json& entry) {
        return strings_of(entry.value("reporters", nlohmann::json())) == std::vector<std::string>{"A", "C"};
      },
      &ban));
  ASSERT_TRUE(ban["expires_at"].is_number_integer()) << ban.dump();
  const auto expires_at = ban["expires_at"].get<std::int64_t>();
  EXPECT_EQ(expires_at, now + 15) << "the longest report (C's) sets the fleet's expiry\n" << ban.dump();

  // A's 3 s ban ends and its action publishes the unban (an expiry).
  ASSERT_TRUE(a->releases_soon("sshd", ip));
  // Fail2Ban drops the address from the jail before it runs the unban actions,
  // and runs the jail's actions one after another: once a later ban on A has
  // reached B, the unban has been published and applied.
  a->fail("192.0.2.14", 2);
  ASSERT_TRUE(b->holds_soon("fleetban", "192.0.2.14"));
  ASSERT_LT(unix_now(), expires_at) << "too slow to tell an early unban from the fleet's expiry";

  EXPECT_TRUE(b->holds("fleetban", ip)) << "A's expiry lifted the fleet ban on B";
  const auto kept = fleet_entry(ip);
  ASSERT_TRUE(kept.has_value()) << "A's expiry ended the fleet ban of " << ip;
  EXPECT_EQ(kept->value("expires_at", nlohmann::json()), expires_at) << kept->dump();
  EXPECT_EQ(kept->value("ban_count", nlohmann::json()), 1) << kept->dump();
  expect_spool_empty(*a_host);

  // At the fleet's expiry, and not before, B lifts it.
  std::int64_t lifted_seen_ms = 0;
  ASSERT_TRUE(poll_until(
      [&] {
        const auto held = b->banned("fleetban");
        lifted_seen_ms = unix_now_ms();
        return held && std::find(held->begin(), held->end(), ip) == held->end();
      },
      deadline_in(std::chrono::seconds(expires_at - unix_now() + 15)),
      "B to lift " + ip + " at the fleet's expiry (" + std::to_string(expires_at) + ")"));
  EXPECT_GE(lifted_seen_ms, expires_at * 1000) << "B lifted the fleet ban before its expiry";
  EXPECT_TRUE(fleet_drops(ip));
}

// ---------------------------------------------------------------- restarts

TEST_F(Fail2ban, RestartingFail2banOnASendsNoUnbansAndResendsNoBans) {
  ASSERT_NO_FATAL_FAILURE(start_fleet({.http = true}));
  const std::string ip = "192.0.2.15";
  a->fail(ip, 2);
  ASSERT_TRUE(a->holds_soon("sshd", ip));
  ASSERT_TRUE(b->holds_soon("fleetban", ip));
  nlohmann::json before;
  ASSERT_TRUE(fleet_entry_until(
      ip, "the fleet to ban " + ip, [](const nlohmann::json&) { return true; }, &before));
  const auto events_before = event_counts(http_address);
  ASSERT_TRUE(events_before.has_value()) << "no /metrics on " << http_address;
  const int decisions_before = decision_lines(fleet.aggregator()->log(), ip);
  EXPECT_EQ(decisions_before, 1) << fleet.aggregator()->log();

  // Stop: the no-op actionflush runs instead of an unban per address.
  ASSERT_TRUE(a->stop());
  // Start: Fail2Ban restores the ban from its database and runs actionban with restored=1.
  ASSERT_TRUE(a->start());
  ASSERT_TRUE(a->holds_soon("sshd", ip)) << "Fail2Ban on A did not restore its ban";
  // A's jail runs its actions in order: the restored ban's before this new one's.
  a->fail("192.0.2.16", 2);
  ASSERT_TRUE(b->holds_soon("fleetban", "192.0.2.16"));

  EXPECT_TRUE(b->holds("fleetban", ip)) << "restarting Fail2Ban on A lifted the fleet ban on B";
  const auto after = fleet_entry(ip);
  ASSERT_TRUE(after.has_value()) << "restarting Fail2Ban on A ended the fleet ban of " << ip;
  EXPECT_EQ(after->value("expires_at", nlohmann::json()), before.value("expires_at", nlohmann::json()))
      << "before: " << before.dump() << "\nafter:  " << after->dump();
  EXPECT_EQ(after->value("ban_count", nlohmann::json()), before.value("ban_count", nlohmann::json()))
      << "before: " << before.dump() << "\nafter:  " << after->dump();
  EXPECT_EQ(strings_of(after->value("reporters", nlohmann::json())),
            strings_of(before.value("reporters", nlohmann::json())));
  EXPECT_EQ(decision_lines(fleet.aggregator()->log(), ip), decisions_before) << fleet.aggregator()->log();

  // The aggregator received exactly one event since: the ban of 192.0.2.16.
  const auto events_after = event_counts(http_address);
  ASSERT_TRUE(events_after.has_value()) << "no /metrics on " << http_address;
  EXPECT_EQ(events_after->at("unban"), events_before->at("unban")) << "a stop or restart sent unbans";
  EXPECT_EQ(events_after->at("ban"), events_before->at("ban") + 1) << "the restored ban was sent again";
  expect_spool_empty(*a_host);
}

TEST_F(Fail2ban, FleetUnbanWhileTheSubscriberOnBIsDownIsReconciledWhenItStarts) {
  ASSERT_NO_FATAL_FAILURE(start_fleet());
  const std::string ip = "192.0.2.17";
  a->fail(ip, 2);
  ASSERT_TRUE(a->holds_soon("sshd", ip));
  ASSERT_TRUE(b->holds_soon("fleetban", ip));

  EXPECT_EQ(b_subscriber->terminate(), 0) << "B's subscriber did not exit cleanly on SIGTERM";
  const auto unbanned = a->client({"set", "sshd", "unbanip", ip});
  ASSERT_EQ(unbanned.exit_code, 0) << describe(unbanned);
  ASSERT_TRUE(fleet_drops(ip));
  // Nobody told B: its jail still holds the address (bantime = -1).
  ASSERT_TRUE(b->holds("fleetban", ip));

  b_subscriber = &fleet.start_subscriber(*b_host);
  EXPECT_TRUE(b->releases_soon("fleetban", ip)) << "no reconcile after the snapshot";
  EXPECT_TRUE(probe_b());
}

// ---------------------------------------------------------------- bantime.increment

TEST_F(Fail2ban, IncrementedBantimeOnAProlongsTheFleetBan) {
  // The second ban of an address lasts 3 s x 3 = 9 s on A. Fail2Ban may hand
  // actionban the base bantime (3 s) and the raised one to actionprolong, which
  // it runs min(10, max(0, 9 - 3 - 5)) = 1 s later (fail2ban/server/observer.py).
  // The fleet's ban from actionban alone lasts 6 s (escalation 2 x 3 s): long
  // enough for the prolong to find it still active, and shorter than the 9 s.
  ASSERT_NO_FATAL_FAILURE(start_fleet({.a_sshd_extra = "bantime = 3\n"
                                                       "bantime.increment = true\n"
                                                       "bantime.multipliers = 1 3\n"}));
  const std::string ip = "192.0.2.18";
  a->fail(ip, 2);
  ASSERT_TRUE(a->holds_soon("sshd", ip));
  nlohmann::json first;
  ASSERT_TRUE(fleet_entry_until(
      ip, "the fleet to ban " + ip, [](const nlohmann::json&) { return true; }, &first));
  ASSERT_TRUE(a->releases_soon("sshd", ip));
  ASSERT_TRUE(fleet_drops(ip));
  ASSERT_TRUE(b->releases_soon("fleetban", ip));

  const auto second_failures = unix_now();
  a->fail(ip, 2);
  ASSERT_TRUE(a->holds_soon("sshd", ip));
  // The fleet's second ban of ip lasts what A's raised bantime says (9 s from
  // the last failure), more than its escalation (2 x 3 s) would give.
  nlohmann::json second;
  EXPECT_TRUE(fleet_entry_until(
      ip, "the fleet ban of " + ip + " to last A's raised bantime (9 s)",
      [&](const nlohmann::json& entry) {
        return entry["expires_at"].is_number_integer() &&
               entry["expires_at"].get<std::int64_t>() >= second_failures + 9;
      },
      &second))
      << "first ban: " << first.dump();
  if (!second.is_null()) {
    EXPECT_LE(second["expires_at"].get<std::int64_t>(), unix_now() + 9) << second.dump();
    // One fleet ban per ban on A: the prolong extended the second, it did not make a third.
    EXPECT_EQ(second.value("ban_count", nlohmann::json()), 2) << second.dump();
  }
  EXPECT_TRUE(b->holds_soon("fleetban", ip));
  expect_spool_empty(*a_host);
}

// ---------------------------------------------------------------- host allowlist

TEST_F(Fail2ban, HostAllowlistedAddressIsNeverBannedOnB) {
  ASSERT_NO_FATAL_FAILURE(start_fleet({.b_allowlist = {"198.51.100.0/24"}}));
  const std::string ip = "198.51.100.9";
  a->fail(ip, 2);
  ASSERT_TRUE(a->holds_soon("sshd", ip));
  ASSERT_TRUE(fleet_entry_until(
      ip, "the fleet to ban " + ip, [](const nlohmann::json&) { return true; }, nullptr));

  // The decision was applied on B once this later one has arrived.
  ASSERT_TRUE(probe_b());
  EXPECT_FALSE(b->holds("fleetban", ip)) << "B banned an address of its host allowlist";
  EXPECT_NE(b_subscriber->log().find("not_enforced ip=" + ip), std::string::npos) << b_subscriber->log();

  // Nor after a snapshot: a restarted subscriber reconciles without it.
  EXPECT_EQ(b_subscriber->terminate(), 0);
  b_subscriber = &fleet.start_subscriber(*b_host);
  ASSERT_TRUE(probe_b());
  EXPECT_FALSE(b->holds("fleetban", ip)) << "B banned an address of its host allowlist after a snapshot";

  // And a ban published by hand, outside Fail2Ban, is no different.
  const auto published = fleet.publish(*a_host, {"ban", "--ip", "198.51.100.10", "--jail", "sshd"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  ASSERT_TRUE(probe_b());
  EXPECT_FALSE(b->holds("fleetban", "198.51.100.10")) << "B banned an address of its host allowlist";
}

}  // namespace
}  // namespace fleetban::testing
