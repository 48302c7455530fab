// The operator's tool (cli/commands.hpp), each subcommand called as cli/main.cpp calls it, against
// a real ROUTER on loopback standing in for the aggregator: what it sends, what it prints, and
// its errors (bad input is a UsageError, exit 2; an aggregator that refuses or is away, exit 1).

#include "cli/commands.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/errors.hpp"
#include "common/keys.hpp"
#include "common/spool.hpp"
#include "fake_aggregator.hpp"
#include "temp_dir.hpp"
#include "usage_error.hpp"

namespace {

using namespace fleetban::common;
using fleetban::testing::dead_endpoint;
using fleetban::testing::FakeAggregator;
using fleetban::testing::has;
using fleetban::testing::TempDir;
using fleetban::testing::usage_error_of;
namespace cli = fleetban::cli;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

HostConfig config_for(const std::string& endpoint, const std::filesystem::path& spool_dir) {
  HostConfig config;
  config.host_id = "ops-alice";
  config.aggregators = {endpoint};
  config.broadcasts = {"tcp://127.0.0.1:1"};
  config.spool_dir = spool_dir;
  config.spool_max_bytes = 1 << 20;
  config.timeout = std::chrono::milliseconds(300);  // the tool waits at least 3 s all the same
  config.security.insecure = true;
  return config;
}

// The events the fake received, and its answer to each.
struct Recorder {
  std::mutex mutex;
  std::vector<Event> events;
  AckOutcome outcome = AckOutcome::applied;
  std::string reason;

  FakeAggregator::Handler handler() {
    return [this](const Request& request) -> std::vector<std::string> {
      const auto* event = std::get_if<Event>(&request);
      if (event == nullptr) return {};
      std::lock_guard lock(mutex);
      events.push_back(*event);
      return {FakeAggregator::frame(Ack{.event_id = event->id, .outcome = outcome, .reason = reason})};
    };
  }
};

// --- ban and unban ------------------------------------------------------------------------------

TEST(Commands, BanSendsAnOperatorEventAndSaysItIsDone) {
  TempDir dir;
  Recorder recorder;
  FakeAggregator aggregator(recorder.handler());
  std::ostringstream out;
  int exit = cli::ban(config_for(aggregator.endpoint(), dir / "spool"),
                      cli::OperatorBan{p("198.51.100.0/24"), std::chrono::seconds(-1), "scanner"}, out);
  EXPECT_EQ(exit, kExitOk);
  EXPECT_EQ(out.str(), "banned 198.51.100.0/24 fleet-wide\n");
  std::lock_guard lock(recorder.mutex);
  ASSERT_EQ(recorder.events.size(), 1u);
  const Event& e = recorder.events[0];
  EXPECT_EQ(e.kind, EventKind::ban);
  EXPECT_EQ(e.prefix, p("198.51.100.0/24"));
  EXPECT_EQ(e.bantime, std::chrono::seconds(-1));
  EXPECT_EQ(e.reason, "scanner");
  EXPECT_EQ(e.jail, "manual");
  EXPECT_EQ(e.host_id, "ops-alice");
  EXPECT_TRUE(e.operator_action);
}

TEST(Commands, UnbanSendsAnOperatorUnban) {
  TempDir dir;
  Recorder recorder;
  FakeAggregator aggregator(recorder.handler());
  std::ostringstream out;
  EXPECT_EQ(cli::unban(config_for(aggregator.endpoint(), dir / "spool"), p("192.0.2.7"), out), kExitOk);
  EXPECT_EQ(out.str(), "unbanned 192.0.2.7 fleet-wide\n");
  std::lock_guard lock(recorder.mutex);
  ASSERT_EQ(recorder.events.size(), 1u);
  EXPECT_EQ(recorder.events[0].kind, EventKind::unban);
  EXPECT_TRUE(recorder.events[0].operator_action);
}

TEST(Commands, RefusedBanIsARuntimeErrorWithTheAggregatorsReason) {
  TempDir dir;
  Recorder recorder;
  recorder.outcome = AckOutcome::refused;
  recorder.reason = "not an operator key";
  FakeAggregator aggregator(recorder.handler());
  std::ostringstream out;
  try {
    cli::ban(config_for(aggregator.endpoint(), dir / "spool"), cli::OperatorBan{p("192.0.2.7")}, out);
    FAIL() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_TRUE(has(e.what(), "not an operator key")) << e.what();
  }
  EXPECT_EQ(out.str(), "");
}

TEST(Commands, BanWithoutAnAggregatorChangesNothingAndSaysWhere) {
  TempDir dir;
  const std::string nobody = dead_endpoint();
  std::ostringstream out;
  try {
    cli::ban(config_for(nobody, dir / "spool"), cli::OperatorBan{p("192.0.2.7")}, out);
    FAIL() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_TRUE(has(e.what(), nobody)) << e.what();
    EXPECT_TRUE(has(e.what(), "nothing was changed")) << e.what();
  }
  // An operator's action is never spooled for later: the operator is told now.
  EXPECT_FALSE(std::filesystem::exists(dir / "spool"));
}

TEST(Commands, BadBantimeAndReasonAreUsageErrorsAndSendNothing) {
  TempDir dir;
  Recorder recorder;
  FakeAggregator aggregator(recorder.handler());
  auto config = config_for(aggregator.endpoint(), dir / "spool");
  std::ostringstream out;
  std::string message = usage_error_of([&] {
    cli::ban(config, cli::OperatorBan{p("192.0.2.7"), std::chrono::seconds(-2)}, out);
  });
  EXPECT_TRUE(has(message, "--bantime")) << message;
  message = usage_error_of([&] {
    cli::ban(config, cli::OperatorBan{p("192.0.2.7"), kMaxBantime + std::chrono::seconds(1)}, out);
  });
  EXPECT_TRUE(has(message, "--bantime")) << message;
  message = usage_error_of([&] {
    cli::ban(config, cli::OperatorBan{p("192.0.2.7"), std::chrono::seconds(60), std::string(257, 'r')}, out);
  });
  EXPECT_TRUE(has(message, "--reason")) << message;
  EXPECT_EQ(aggregator.requests(), 0u);
}

// --- list ---------------------------------------------------------------------------------------

Decision decision(std::string_view ip, std::optional<std::int64_t> expires_at) {
  Decision d;
  d.sequence = 5;
  d.prefix = p(ip);
  d.active = true;
  d.banned_at = from_unix(1'795'650'000);
  if (expires_at) d.expires_at = from_unix(*expires_at);
  d.reporters = {"web-01", "web-02"};
  d.jails = {"sshd"};
  d.reporter_count = 2;
  d.jail_count = 1;
  d.ban_count = 2;
  return d;
}

FakeAggregator::Handler snapshot_of(std::vector<Decision> decisions) {
  return [decisions = std::move(decisions)](const Request& request) -> std::vector<std::string> {
    const auto* asked = std::get_if<SnapshotRequest>(&request);
    if (asked == nullptr) return {};
    // In two chunks, as a large fleet's would come.
    std::vector<Decision> first(decisions.begin(), decisions.begin() + static_cast<long>(decisions.size() / 2));
    std::vector<Decision> second(decisions.begin() + static_cast<long>(decisions.size() / 2), decisions.end());
    return {
        FakeAggregator::frame(
            SnapshotChunk{.request_id = asked->request_id, .sequence = 17, .incarnation = "i", .decisions = first}),
        FakeAggregator::frame(SnapshotChunk{
            .request_id = asked->request_id, .sequence = 17, .incarnation = "i", .decisions = second, .last = true})};
  };
}

TEST(Commands, ListPrintsATableByAddress) {
  TempDir dir;
  FakeAggregator aggregator(
      snapshot_of({decision("198.51.100.9", 1'795'653'600), decision("192.0.2.7", std::nullopt)}));
  std::ostringstream out;
  EXPECT_EQ(cli::list(config_for(aggregator.endpoint(), dir / "spool"), cli::ListFormat::table, out), kExitOk);
  std::istringstream lines(out.str());
  std::string header, first, second, total;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  std::getline(lines, total);
  EXPECT_TRUE(header.starts_with("ADDRESS")) << out.str();
  EXPECT_TRUE(first.starts_with("192.0.2.7 ")) << out.str();
  EXPECT_TRUE(has(first, "never")) << first;
  EXPECT_TRUE(has(first, "web-01,web-02")) << first;
  EXPECT_TRUE(second.starts_with("198.51.100.9 ")) << out.str();
  EXPECT_TRUE(has(second, "2026-")) << second;  // 1795653600 is in 2026, printed in UTC
  EXPECT_EQ(total, "2 active bans at sequence 17");
}

TEST(Commands, ListJsonIsTheBansDocument) {
  TempDir dir;
  FakeAggregator aggregator(
      snapshot_of({decision("198.51.100.9", 1'795'653'600), decision("192.0.2.7", std::nullopt)}));
  std::ostringstream out;
  EXPECT_EQ(cli::list(config_for(aggregator.endpoint(), dir / "spool"), cli::ListFormat::json, out), kExitOk);
  auto document = nlohmann::json::parse(out.str());
  ASSERT_EQ(document["bans"].size(), 2u);
  EXPECT_EQ(document["bans"][0]["ip"], "192.0.2.7");
  EXPECT_TRUE(document["bans"][0]["expires_at"].is_null());
  EXPECT_EQ(document["bans"][1]["expires_at"], 1'795'653'600);
}

TEST(Commands, ListOfAnEmptyFleetSaysSo) {
  TempDir dir;
  FakeAggregator aggregator(snapshot_of({}));
  std::ostringstream out;
  EXPECT_EQ(cli::list(config_for(aggregator.endpoint(), dir / "spool"), cli::ListFormat::table, out), kExitOk);
  EXPECT_TRUE(has(out.str(), "0 active bans at sequence 17")) << out.str();
}

TEST(Commands, ListWithoutAnAggregatorIsARuntimeErrorNamingIt) {
  TempDir dir;
  const std::string nobody = dead_endpoint();
  std::ostringstream out;
  try {
    cli::list(config_for(nobody, dir / "spool"), cli::ListFormat::json, out);
    FAIL() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_TRUE(has(e.what(), nobody)) << e.what();
  }
}

// --- status -------------------------------------------------------------------------------------

FakeAggregator::Handler status_reply() {
  return [](const Request& request) -> std::vector<std::string> {
    const auto* asked = std::get_if<StatusRequest>(&request);
    if (asked == nullptr) return {};
    return {FakeAggregator::frame(Status{.request_id = asked->request_id,
                                         .sequence = 99,
                                         .incarnation = std::string("\x01\xab", 2),
                                         .active_bans = 4,
                                         .reporters = 3,
                                         .subscribers = 2})};
  };
}

TEST(Commands, StatusOfAReachableAggregatorAndAnEmptySpool) {
  TempDir dir;
  FakeAggregator aggregator(status_reply());
  std::ostringstream out;
  EXPECT_EQ(cli::status(config_for(aggregator.endpoint(), dir / "spool"), out), kExitOk);
  const std::string text = out.str();
  EXPECT_TRUE(has(text, "reachable at " + aggregator.endpoint())) << text;
  EXPECT_TRUE(has(text, "99 (incarnation 01ab)")) << text;
  EXPECT_TRUE(has(text, "active bans:  4")) << text;
  EXPECT_TRUE(has(text, "0 events waiting")) << text;
  EXPECT_FALSE(has(text, "UNREACHABLE")) << text;
}

TEST(Commands, StatusOfAnAwayAggregatorExitsOne) {
  TempDir dir;
  const std::string nobody = dead_endpoint();
  std::ostringstream out;
  EXPECT_EQ(cli::status(config_for(nobody, dir / "spool"), out), kExitRuntime);
  EXPECT_TRUE(has(out.str(), "UNREACHABLE: aggregator not reachable at " + nobody)) << out.str();
}

TEST(Commands, StatusAsksTheNextEndpointWhenTheFirstIsAway) {
  TempDir dir;
  const std::string nobody = dead_endpoint();
  FakeAggregator aggregator(status_reply());
  auto config = config_for(nobody, dir / "spool");
  config.aggregators.push_back(aggregator.endpoint());
  config.broadcasts.emplace_back("tcp://127.0.0.1:2");
  std::ostringstream out;
  EXPECT_EQ(cli::status(config, out), kExitOk);
  EXPECT_TRUE(has(out.str(), "reachable at " + aggregator.endpoint())) << out.str();
  EXPECT_FALSE(has(out.str(), "UNREACHABLE")) << out.str();
}

TEST(Commands, StatusOfAListWithNobodyAnsweringNamesEveryEndpoint) {
  TempDir dir;
  const std::string first = dead_endpoint();
  const std::string second = dead_endpoint();
  auto config = config_for(first, dir / "spool");
  config.aggregators.push_back(second);
  config.broadcasts.emplace_back("tcp://127.0.0.1:2");
  std::ostringstream out;
  EXPECT_EQ(cli::status(config, out), kExitRuntime);
  EXPECT_TRUE(has(out.str(), "not reachable at " + first)) << out.str();
  EXPECT_TRUE(has(out.str(), "not reachable at " + second)) << out.str();
}

TEST(Commands, StatusCountsTheSpoolAndWarnsWhenNearlyFull) {
  TempDir dir;
  FakeAggregator aggregator(status_reply());
  auto config = config_for(aggregator.endpoint(), dir / "spool");
  Spool spool(config.spool_dir, 0);
  Event e;
  e.id = random_event_id();
  e.prefix = p("192.0.2.7");
  e.jail = "sshd";
  e.host_id = "ops-alice";
  e.time = from_unix_ms(1'795'652'765'000);
  e.created = e.time;
  ASSERT_TRUE(spool.put(e));
  Event refused = e;
  refused.id = random_event_id();
  auto refused_file = spool.put(refused);
  ASSERT_TRUE(refused_file);
  ASSERT_TRUE(spool.set_aside(*refused_file, "refused: allowlisted"));
  std::ostringstream out;
  EXPECT_EQ(cli::status(config, out), kExitOk);
  EXPECT_TRUE(has(out.str(), "1 event waiting")) << out.str();
  EXPECT_TRUE(has(out.str(), "1 unreadable or refused file(s)")) << out.str();

  config.spool_max_bytes = spool.size_bytes();  // as full as it gets
  std::ostringstream full;
  EXPECT_EQ(cli::status(config, full), kExitRuntime);
  EXPECT_TRUE(has(full.str(), "FULL")) << full.str();
}

// --- keygen -------------------------------------------------------------------------------------

TEST(Commands, KeygenWritesAKeyPairThatReadsBack) {
  TempDir dir;
  std::ostringstream out;
  EXPECT_EQ(cli::keygen("web-01", dir.path(), out), kExitOk);
  auto pair = read_secret_key(dir / "web-01.key");
  EXPECT_EQ(read_public_key(dir / "web-01.pub"), pair.public_key);
  EXPECT_TRUE(has(out.str(), (dir / "web-01.key").string())) << out.str();
  EXPECT_TRUE(has(out.str(), (dir / "web-01.pub").string())) << out.str();
}

TEST(Commands, KeygenRefusesABadNameAndAnExistingKey) {
  TempDir dir;
  std::ostringstream out;
  for (const char* bad : {"", "web 01", "-web", "../etc/passwd", "a/b"}) {
    std::string message = usage_error_of([&] { cli::keygen(bad, dir.path(), out); });
    EXPECT_TRUE(has(message, "'" + std::string(bad) + "'")) << message;
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  ASSERT_EQ(cli::keygen("web-01", dir.path(), out), kExitOk);
  const auto before = read_secret_key(dir / "web-01.key").secret_key;
  std::string message = usage_error_of([&] { cli::keygen("web-01", dir.path(), out); });
  EXPECT_TRUE(has(message, "already exists")) << message;
  EXPECT_EQ(read_secret_key(dir / "web-01.key").secret_key, before);
}

}  // namespace
