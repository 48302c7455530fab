// host.toml's `aggregator` and `broadcast` as lists (INTERFACE.md: an HA group's members, or
// relays): every program uses whichever answers. Two real fleetban-aggregator processes, each
// with its own state.db (so the second is another incarnation, and a subscriber that moves to it
// takes a snapshot), and ports where nothing listens.
#include "fleet.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <sstream>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

// A generous bound, not a timing threshold: it only catches a program that hangs.
constexpr std::chrono::seconds kBound{20};

std::string toml_list(const std::vector<std::string>& items) {
  std::string list = "[";
  for (const auto& item : items) list += (list.size() > 1 ? ", " : "") + toml_string(item);
  return list + "]";
}

// Rewrites the host's `aggregator` and `broadcast` lines (as Fleet::add_host wrote them) with
// these values, verbatim TOML.
void point_host_at(const Host& host, const std::string& aggregator, const std::string& broadcast) {
  std::istringstream lines(read_file(host.config));
  std::string toml;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("aggregator ")) line = "aggregator = " + aggregator;
    if (line.starts_with("broadcast ")) line = "broadcast  = " + broadcast;
    toml += line + "\n";
  }
  write_file(host.config, toml);
}

// Under CURVE (FLEETBAN_TEST_SECURITY=curve) the members of one list share a key pair, and admit
// the same hosts: `to` gets the aggregator keys of `from` and the public keys of `hosts`.
void share_keys(const std::filesystem::path& from, const std::filesystem::path& to,
                const std::vector<std::string>& hosts) {
  if (!std::filesystem::exists(from / "keys")) return;  // the suite's default: no CURVE
  const auto overwrite = std::filesystem::copy_options::overwrite_existing;
  for (const char* file : {"aggregator.key", "aggregator.pub"}) {
    std::filesystem::copy_file(from / "keys" / file, to / "keys" / file, overwrite);
  }
  for (const auto& host : hosts) {
    std::filesystem::copy_file(from / "keys" / "authorized" / (host + ".pub"),
                               to / "keys" / "authorized" / (host + ".pub"), overwrite);
  }
}

std::vector<std::filesystem::path> spooled_events(const std::filesystem::path& spool) {
  std::vector<std::filesystem::path> events;
  for (const auto& file : regular_files_under(spool)) {
    if (file.filename().string().rfind('.', 0) != 0 && file.parent_path() == spool) events.push_back(file);
  }
  return events;
}

// Two fleets, A and B, each an aggregator with its own state; `web` lists [A, B] (or whatever
// a test points it at); `via_a` and `via_b` reach one aggregator each.
class EndpointLists : public ::testing::Test {
 protected:
  TempDir dir_a;
  TempDir dir_b;
  Fleet a{dir_a};
  Fleet b{dir_b};
  const Host& web = a.add_host("web-01", HostOptions{std::chrono::milliseconds(2000), ""});
  const Host& via_a = a.add_host("ops-a");
  const Host& via_b = b.add_host("ops-b");

  void SetUp() override {
    share_keys(dir_a.path(), dir_b.path(), {"web-01", "ops-a"});
    point_host_at(web, toml_list({a.ingest_endpoint(), b.ingest_endpoint()}),
                  toml_list({a.broadcast_endpoint(), b.broadcast_endpoint()}));
  }

  RunResult publish_ban(const std::string& ip) {
    return a.publish(web, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "600"}, kBound);
  }
};

TEST_F(EndpointLists, PublishWhoseFirstEndpointHasNothingListeningIsAckedByTheSecond) {
  ASSERT_TRUE(b.start_aggregator(via_b));  // A is never started: nothing listens at its ports
  const auto result = publish_ban("198.51.100.71");
  ASSERT_FALSE(result.timed_out) << describe(result);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  // Acked, not spooled: the ack came within timeout_ms.
  EXPECT_TRUE(spooled_events(web.spool).empty()) << describe(result);
  EXPECT_TRUE(b.list_until(via_b, "198.51.100.71 banned at B",
                           [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.71") != nullptr; }));
  // The next publish starts with B, which acked last.
  const auto second = publish_ban("198.51.100.72");
  EXPECT_EQ(second.exit_code, 0) << describe(second);
  EXPECT_TRUE(spooled_events(web.spool).empty()) << describe(second);
}

TEST_F(EndpointLists, PublishWithEveryEndpointDeadIsSpooledAndExitsZero) {
  // Neither aggregator is started.
  const auto result = publish_ban("198.51.100.73");
  ASSERT_FALSE(result.timed_out) << describe(result);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_EQ(spooled_events(web.spool).size(), 1u) << describe(result);
}

TEST_F(EndpointLists, StatusWithTheFirstEndpointDeadAnswersFromTheSecond) {
  ASSERT_TRUE(b.start_aggregator(via_b));
  const auto result = run({program("fleetban"), "status", "--config", web.config.string()}, kBound);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_NE(result.out.find("reachable at " + b.ingest_endpoint()), std::string::npos) << describe(result);
  const auto list = a.list(web);  // `fleetban list` the same way
  EXPECT_EQ(list.exit_code, 0) << describe(list);
}

TEST_F(EndpointLists, SubscriberMovesToTheSecondAggregatorWhenTheFirstIsKilled) {
  ASSERT_TRUE(a.start_aggregator(via_a));
  ASSERT_TRUE(b.start_aggregator(via_b));
  a.start_subscriber(web);
  // It follows A: a ban made at A is enforced.
  ASSERT_EQ(a.publish(via_a, {"ban", "--ip", "198.51.100.81", "--jail", "sshd", "--bantime", "600"}).exit_code, 0);
  ASSERT_TRUE(a.enforced(web, "198.51.100.81"));

  a.aggregator()->kill(SIGKILL);
  ASSERT_EQ(a.aggregator()->wait_for_exit(deadline_in(kSoon)), 128 + SIGKILL);
  // A ban made at B only: the subscriber must have moved to B (and taken its snapshot) to see it.
  ASSERT_EQ(b.publish(via_b, {"ban", "--ip", "198.51.100.82", "--jail", "sshd", "--bantime", "600"}).exit_code, 0);
  EXPECT_TRUE(a.enforced(web, "198.51.100.82", deadline_in(std::chrono::seconds(60))));
  // And it follows B's broadcast from then on.
  ASSERT_EQ(b.publish(via_b, {"ban", "--ip", "198.51.100.83", "--jail", "sshd", "--bantime", "600"}).exit_code, 0);
  EXPECT_TRUE(a.enforced(web, "198.51.100.83"));
}

// Each bad list exits 2 from every program that reads host.toml, naming the key and the file.
struct BadLists {
  const char* name;
  const char* aggregator;  // TOML, verbatim
  const char* broadcast;
  const char* key;  // the key the message must name
};

void PrintTo(const BadLists& bad, std::ostream* out) { *out << bad.name; }

class BadEndpointList : public ::testing::TestWithParam<BadLists> {
 protected:
  TempDir dir;
  Fleet fleet{dir};
  const Host& host = fleet.add_host("web-01", HostOptions{std::chrono::milliseconds(300), ""});
};

TEST_P(BadEndpointList, ExitsTwoNamingTheKeyAndTheFileFromEveryProgram) {
  const BadLists& bad = GetParam();
  point_host_at(host, bad.aggregator, bad.broadcast);
  const std::vector<std::vector<std::string>> programs{
      {program("fleetban-publish"), "--config", host.config.string(), "ban", "--ip", "192.0.2.90", "--jail", "sshd"},
      {program("fleetban-subscriber"), "--config", host.config.string()},
      {program("fleetban"), "status", "--config", host.config.string()},
  };
  for (const auto& argv : programs) {
    const auto result = run(argv, kBound);
    ASSERT_FALSE(result.timed_out) << describe(result);
    EXPECT_EQ(result.exit_code, 2) << describe(result);
    EXPECT_NE(result.output.find(host.config.string() + ": key '" + bad.key + "'"), std::string::npos)
        << "the message does not name the file and the key '" << bad.key << "'\n"
        << describe(result);
  }
  EXPECT_TRUE(spooled_events(host.spool).empty());
}

INSTANTIATE_TEST_SUITE_P(
    Lists, BadEndpointList,
    ::testing::Values(BadLists{"EmptyList", "[]", "\"tcp://127.0.0.1:7781\"", "aggregator"},
                      BadLists{"NotAString", "[\"tcp://127.0.0.1:7780\", 7780]",
                               "[\"tcp://127.0.0.1:7781\", \"tcp://127.0.0.1:7782\"]", "aggregator"},
                      BadLists{"BadEndpointInTheList", "[\"tcp://127.0.0.1:7780\", \"tcp://127.0.0.1\"]",
                               "[\"tcp://127.0.0.1:7781\", \"tcp://127.0.0.1:7782\"]", "aggregator"},
                      BadLists{"DifferentLengths", "[\"tcp://127.0.0.1:7780\", \"tcp://127.0.0.2:7780\"]",
                               "\"tcp://127.0.0.1:7781\"", "broadcast"},
                      BadLists{"EmptyBroadcastList", "\"tcp://127.0.0.1:7780\"", "[]", "broadcast"}),
    [](const ::testing::TestParamInfo<BadLists>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace fleetban::testing
