// The aggregator on PostgreSQL state (state = "postgresql://..."), black box against a real
// PostgreSQL server: acked bans survive a restart and a kill -9 with the sequence and the
// incarnation carried on (subscribers go on without a new snapshot), the history is served from
// PostgreSQL too, and a server that cannot be reached or a URL that does not parse is reported
// as INTERFACE.md says (exit 1 naming the URL without its password; exit 2 naming `state`).
#include "fleet.hpp"
#include "require_postgres.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <regex>
#include <string>

namespace fleetban::testing {
namespace {

// `fleetban status`'s "sequence: N (incarnation HEX)".
struct Version {
  std::uint64_t sequence = 0;
  std::string incarnation;
};

std::optional<Version> status_version(const Host& via) {
  RunResult result = run({program("fleetban"), "status", "--config", via.config.string()});
  std::smatch match;
  const std::regex pattern(R"(sequence:\s*(\d+) \(incarnation ([0-9a-f]+)\))");
  if (result.exit_code != 0 || !std::regex_search(result.out, match, pattern)) return std::nullopt;
  return Version{std::stoull(match[1].str()), match[2].str()};
}

std::string ban_ip(int i) { return "198.51.100." + std::to_string(i + 1); }

class PostgresState : public ::testing::Test {
 protected:
  void SetUp() override {
    FLEETBAN_REQUIRE_POSTGRES();
    server_ = std::make_unique<PostgresServer>();
  }
  std::unique_ptr<PostgresServer> server_;
};

TEST_F(PostgresState, AckedBansSequenceAndIncarnationSurviveRestartAndKill) {
  TempDir dir;
  Fleet fleet(dir);
  fleet.use_state(server_->url());
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web02);
  ASSERT_TRUE(fleet.probe_subscribers(web01));  // ban 1: the probe

  constexpr int kBans = 20;
  for (int i = 0; i < kBans; ++i) {
    RunResult published = fleet.publish(web01, {"ban", "--ip", ban_ip(i), "--jail", "sshd", "--bantime", "3600"});
    ASSERT_EQ(published.exit_code, 0) << describe(published);
  }
  ASSERT_TRUE(regular_files_under(web01.spool).empty()) << "every publish was acked, none spooled";
  auto before = status_version(web01);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->sequence, kBans + 1u);

  // A clean restart, then a kill -9: each time the state, sequence and incarnation carry on.
  ASSERT_EQ(fleet.stop_aggregator(), 0);
  ASSERT_TRUE(fleet.start_aggregator(web01));
  auto after = status_version(web01);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->sequence, before->sequence);
  EXPECT_EQ(after->incarnation, before->incarnation);

  RunResult more = fleet.publish(web01, {"ban", "--ip", "203.0.113.9", "--jail", "sshd"});
  ASSERT_EQ(more.exit_code, 0) << describe(more);
  fleet.aggregator()->kill(SIGKILL);
  fleet.aggregator()->wait_for_exit(deadline_in(kSoon));
  ASSERT_TRUE(fleet.start_aggregator(web01));
  auto killed = status_version(web01);
  ASSERT_TRUE(killed);
  EXPECT_EQ(killed->sequence, before->sequence + 1);
  EXPECT_EQ(killed->incarnation, before->incarnation);

  nlohmann::json listed;
  ASSERT_TRUE(fleet.list_until(
      web01, "every acked ban listed",
      [&](const nlohmann::json& document) {
        for (int i = 0; i < kBans; ++i) {
          if (find_ban(document, ban_ip(i)) == nullptr) return false;
        }
        return find_ban(document, "203.0.113.9") != nullptr;
      },
      &listed));
  // The subscriber followed through both restarts without starting over: it has every ban, and
  // one after the restarts reaches it too.
  for (int i = 0; i < kBans; ++i) EXPECT_TRUE(recorded(web02.ban_log, ban_ip(i))) << ban_ip(i);
  EXPECT_TRUE(fleet.probe_subscribers(web01));
  EXPECT_TRUE(fleet.enforced(web02, "203.0.113.9"));

  // The history comes from PostgreSQL too (`fleetban show`, GET /api/v1/bans/IP's document).
  RunResult shown = run({program("fleetban"), "show", ban_ip(3), "--json", "--config", web01.config.string()});
  ASSERT_EQ(shown.exit_code, 0) << describe(shown);
  auto document = nlohmann::json::parse(shown.out, nullptr, false);
  ASSERT_TRUE(document.is_object()) << shown.out;
  ASSERT_EQ(document["history"].size(), 1u) << shown.out;  // web-01's report made the fleet ban
  EXPECT_EQ(document["history"][0]["host"], "web-01") << shown.out;
  EXPECT_EQ(document["history"][0]["fleet"], true) << shown.out;
  // The aggregator's log names the database without its password.
  EXPECT_EQ(fleet.aggregator()->log().find("secret"), std::string::npos);
  EXPECT_NE(fleet.aggregator()->log().find("fleetban:***@127.0.0.1"), std::string::npos);
}

TEST_F(PostgresState, AnUnreachableDatabaseExitsOneNamingTheUrlWithoutItsPassword) {
  TempDir dir;
  Fleet fleet(dir);
  const std::string url = "postgresql://fleetban:hunter2@127.0.0.1:" + std::to_string(free_tcp_port()) + "/fleetban";
  fleet.use_state(url);
  RunResult result = run({program("fleetban-aggregator"), "--config", fleet.aggregator_config().string()});
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_NE(result.output.find("fleetban:***@127.0.0.1"), std::string::npos) << describe(result);
  EXPECT_EQ(result.output.find("hunter2"), std::string::npos) << describe(result);
  // A database the server does not have is the same kind of error.
  fleet.use_state(server_->url("no_such_database"));
  result = run({program("fleetban-aggregator"), "--config", fleet.aggregator_config().string()});
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_NE(result.output.find("no_such_database"), std::string::npos) << describe(result);
}

TEST(PostgresStateConfig, AMalformedUrlExitsTwoNamingTheKey) {
  TempDir dir;
  Fleet fleet(dir);
  for (const std::string url : {"postgresql://fleetban:hunter2@127.0.0.1:54x2/fleetban",
                                "postgres://fleetban:hunter2@127.0.0.1/fleetban?no_such_option=1"}) {
    fleet.use_state(url);
    RunResult result = run({program("fleetban-aggregator"), "--config", fleet.aggregator_config().string()});
    EXPECT_EQ(result.exit_code, 2) << describe(result);
    EXPECT_NE(result.output.find("state"), std::string::npos) << describe(result);
    EXPECT_EQ(result.output.find("hunter2"), std::string::npos) << describe(result);
  }
}

}  // namespace
}  // namespace fleetban::testing
