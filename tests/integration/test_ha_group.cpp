// An HA group (issue 12 point 2), black box: two real aggregators on one real PostgreSQL state.
// One is active (it holds the lease, binds ingest and broadcast); the other waits (binds neither,
// answers 503 but for /healthz and /metrics) and takes over when the active one is killed, with
// the sequence carried on and no acked event lost; a leader stopped (SIGSTOP) until the other took
// over never acks again once it runs on. The subscriber lists both members' endpoints (host.toml's
// list form); the tests publish to one member at a time (`--aggregator`), retrying the unacked.
#include "fleet.hpp"
#include "prometheus_series.hpp"
#include "require_postgres.hpp"

#include <httplib.h>
#include <libpq-fe.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>

namespace fleetban::testing {
namespace {

// One member: its aggregator.toml (the Fleet's, with ports of its own) and its process.
struct Member {
  std::string name;
  std::string ingest;
  std::string broadcast;
  std::uint16_t http = 0;
  std::filesystem::path config;
  std::unique_ptr<Process> process;
};

// GET path on a member's HTTP port: status and body (status 0: no answer).
std::pair<int, std::string> http_get(const Member& member, const std::string& path) {
  httplib::Client client("127.0.0.1", member.http);
  client.set_connection_timeout(std::chrono::seconds(2));
  client.set_read_timeout(std::chrono::seconds(5));
  auto result = client.Get(path);
  if (!result) return {0, ""};
  return {result->status, result->body};
}

// Whether the member's /metrics says it is active ("1") or waiting ("0").
::testing::AssertionResult becomes(const Member& member, const std::string& active) {
  std::string last;
  return poll_until(
      [&] {
        last = http_get(member, "/metrics").second;
        return last.find("\nfleetban_ha_active " + active + "\n") != std::string::npos;
      },
      deadline_in(std::chrono::seconds(60)), member.name + "'s fleetban_ha_active to be " + active,
      [&] { return last + "\n" + member.process->log(); });
}

class HaGroup : public ::testing::Test {
 protected:
  void SetUp() override {
    FLEETBAN_REQUIRE_POSTGRES();
    server_ = std::make_unique<PostgresServer>();
    fleet_ = std::make_unique<Fleet>(dir_);
    fleet_->use_state(server_->url());
    publisher_ = &fleet_->add_host("web-01", HostOptions{.timeout = std::chrono::milliseconds(500)});
    follower_ = &fleet_->add_host("web-02");
    for (const char* name : {"a", "b"}) {
      Member& m = members_.emplace_back();
      m.name = std::string("member ") + name;
      m.ingest = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
      m.broadcast = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
      m.http = free_tcp_port();
      m.config = dir_ / (std::string("aggregator-") + name + ".toml");
      fleet_->write_aggregator_config("", "127.0.0.1:" + std::to_string(m.http));
      std::string toml = read_file(fleet_->aggregator_config());
      toml = std::regex_replace(toml, std::regex(fleet_->ingest_endpoint()), m.ingest);
      toml = std::regex_replace(toml, std::regex(fleet_->broadcast_endpoint()), m.broadcast);
      write_file(m.config, toml + "max_events_per_second = 1000000\n");
    }
  }

  void start(Member& m) {
    m.process = std::make_unique<Process>(
        std::vector<std::string>{program("fleetban-aggregator"), "--config", m.config.string()},
        dir_ / "logs" / (m.name.substr(7) + "-" + std::to_string(++starts_) + ".log"));
  }

  // Starts member a, then b once a is active: a active, b waiting.
  ::testing::AssertionResult start_pair() {
    start(members_[0]);
    if (auto active = becomes(members_[0], "1"); !active) return active;
    start(members_[1]);
    return becomes(members_[1], "0");
  }

  // The follower's host.toml lists both members' endpoints (host.toml's list form).
  void list_both_members() {
    for (const Host* host : {follower_}) {
      std::string toml = read_file(host->config);
      toml = std::regex_replace(toml, std::regex("\"" + fleet_->ingest_endpoint() + "\""),
                                "[\"" + members_[0].ingest + "\", \"" + members_[1].ingest + "\"]");
      toml = std::regex_replace(toml, std::regex("\"" + fleet_->broadcast_endpoint() + "\""),
                                "[\"" + members_[0].broadcast + "\", \"" + members_[1].broadcast + "\"]");
      write_file(host->config, toml);
    }
  }

  // Publishes a ban of ip to member m (to the host.toml's endpoints when m is null); true once
  // acked (an event that was spooled instead is removed from the spool, for the caller to send
  // again).
  bool publish(const Member* m, const std::string& ip) {
    std::vector<std::string> argv{
        program("fleetban-publish"), "ban", "--ip", ip, "--jail", "sshd", "--bantime", "3600", "--config",
        publisher_->config.string()};
    if (m != nullptr) argv.insert(argv.end(), {"--aggregator", m->ingest});
    RunResult result = run(argv);
    EXPECT_EQ(result.exit_code, 0) << describe(result);
    auto spooled = regular_files_under(publisher_->spool);
    for (const auto& file : spooled) std::filesystem::remove(file);
    return result.exit_code == 0 && spooled.empty();
  }

  // `fleetban list --json` of member m.
  nlohmann::json list(const Member& m) {
    RunResult result =
        run({program("fleetban"), "list", "--json", "--config", publisher_->config.string(), "--aggregator", m.ingest});
    return result.exit_code == 0 ? nlohmann::json::parse(result.out, nullptr, false) : nlohmann::json();
  }

  TempDir dir_;
  std::unique_ptr<PostgresServer> server_;
  std::unique_ptr<Fleet> fleet_;
  const Host* publisher_ = nullptr;
  const Host* follower_ = nullptr;
  std::vector<Member> members_;
  int starts_ = 0;
};

std::string address(int i) {
  return "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
}

TEST_F(HaGroup, KillNineOfTheActiveMemberLosesNoAckedEventAndTheOtherCarriesOn) {
  Member& a = members_[0];
  Member& b = members_[1];
  ASSERT_TRUE(start_pair());
  // The waiting member holds no state: only /healthz and /metrics answer.
  EXPECT_EQ(http_get(b, "/api/v1/bans").first, 503);
  EXPECT_EQ(http_get(b, "/healthz").first, 200);
  // Both members serve every HA series the alert rules read.
  for (const Member* member : {&a, &b}) {
    const std::string metrics = http_get(*member, "/metrics").second;
    const std::set<std::string> served = series_served(metrics);
    for (const auto& name : series_in_rules()) {
      if (!is_ha_series(name)) continue;
      EXPECT_TRUE(served.contains(name)) << name << " not served by " << member->name << ":\n" << metrics;
    }
  }
  // The subscriber knows both members, as INTERFACE.md's HA setup has it.
  list_both_members();
  fleet_->start_subscriber(*follower_);

  constexpr int kEvents = 2000;
  constexpr int kKillAt = 700;
  std::set<std::string> acked;
  Member* target = &a;
  const Deadline deadline = deadline_in(std::chrono::seconds(300));
  for (int i = 0; i < kEvents; ++i) {
    if (i == kKillAt) {
      a.process->kill(SIGKILL);
      a.process->wait_for_exit(deadline_in(kSoon));
    }
    const std::string ip = address(i + 1);
    while (!publish(target, ip)) {
      ASSERT_LT(Clock::now(), deadline) << "no member acked " << ip << "\n" << b.process->log();
      target = target == &a ? &b : &a;  // unacked: the next member, as a client with both endpoints does
    }
    acked.insert(ip);
  }
  ASSERT_EQ(acked.size(), static_cast<std::size_t>(kEvents));
  EXPECT_EQ(target, &b);
  ASSERT_TRUE(becomes(b, "1"));

  // Every acked event is in the new leader's state, and its subscriber converged on all of them.
  nlohmann::json document;
  ASSERT_TRUE(poll_until(
      [&] {
        document = list(b);
        for (const auto& ip : acked) {
          if (find_ban(document, ip) == nullptr) return false;
        }
        return true;
      },
      deadline_in(kSoon), "every acked ban in member b's list", [&] { return document.dump().substr(0, 2000); }));
  ASSERT_TRUE(poll_until(
      [&] {
        auto enforced = recorded_addresses(follower_->ban_log);
        std::set<std::string> seen(enforced.begin(), enforced.end());
        return std::includes(seen.begin(), seen.end(), acked.begin(), acked.end());
      },
      deadline_in(std::chrono::seconds(60)),
      "the subscriber that followed member a, then b, to enforce every acked ban"));
  // The sequence carried on from member a's (one decision per address, no number twice).
  RunResult status =
      run({program("fleetban"), "status", "--config", publisher_->config.string(), "--aggregator", b.ingest});
  EXPECT_NE(status.out.find("sequence:     " + std::to_string(kEvents) + " "), std::string::npos) << describe(status);
  EXPECT_NE(status.out.find("(HA epoch 2)"), std::string::npos) << describe(status);
  EXPECT_EQ(server_->query("SELECT epoch FROM lease"), "2");
}

TEST_F(HaGroup, APausedLeaderThatLostTheLeaseNeverAcksOrCommitsAgain) {
  Member& a = members_[0];
  Member& b = members_[1];
  ASSERT_TRUE(start_pair());
  ASSERT_TRUE(publish(&a, "192.0.2.1"));

  a.process->kill(SIGSTOP);  // paused: it cannot renew, and b takes the lapsed lease over
  ASSERT_TRUE(becomes(b, "1"));
  ASSERT_TRUE(publish(&b, "192.0.2.2"));
  a.process->kill(SIGCONT);
  // Whatever a does next, it acks nothing: its lease's epoch has moved on.
  EXPECT_FALSE(publish(&a, "192.0.2.3"));
  auto exit = a.process->wait_for_exit(deadline_in(kSoon));
  EXPECT_EQ(exit, std::optional<int>(1)) << a.process->log();
  EXPECT_NE(a.process->log().find("ha_leadership_lost"), std::string::npos) << a.process->log();

  nlohmann::json document = list(b);
  EXPECT_NE(find_ban(document, "192.0.2.1"), nullptr) << document.dump();
  EXPECT_NE(find_ban(document, "192.0.2.2"), nullptr) << document.dump();
  EXPECT_EQ(find_ban(document, "192.0.2.3"), nullptr) << document.dump();
  EXPECT_EQ(server_->query("SELECT count(*) FROM records"), "2");
  EXPECT_EQ(server_->query("SELECT epoch FROM lease"), "2");

  // Started again, the old leader waits; a clean stop of the active one hands the lease over.
  start(a);
  ASSERT_TRUE(becomes(a, "0"));
  EXPECT_EQ(b.process->terminate(), 0);
  ASSERT_TRUE(becomes(a, "1"));
  EXPECT_TRUE(publish(&a, "192.0.2.4"));
  EXPECT_EQ(server_->query("SELECT epoch FROM lease"), "3");
}

// A state that takes longer than the lease's term to load (a million bans take about that long
// here) must not cost the member its lease at the end of the load: else every member that takes
// the lease loses it again, and the group never has an active member. The load is made slow for
// certain by holding the records table locked for over twice the term.
TEST_F(HaGroup, AMemberWhoseLoadOutlastsTheLeaseTermStaysActive) {
  Member& a = members_[0];
  start(a);
  ASSERT_TRUE(becomes(a, "1"));
  ASSERT_TRUE(publish(&a, "192.0.2.1"));
  ASSERT_EQ(a.process->terminate(), 0);  // a clean stop releases the lease

  // The lease's term is 3 s (aggregator/lease.hpp, Lease::kTerm): the lock is held for over twice that.
  std::atomic<int> locked{0};  // 1 locked, -1 failed
  std::jthread holder([&] {
    std::unique_ptr<PGconn, decltype(&PQfinish)> db(PQconnectdb(server_->url().c_str()), &PQfinish);
    auto exec = [&](const char* sql) {
      std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(db.get(), sql), &PQclear);
      return PQresultStatus(result.get()) == PGRES_COMMAND_OK || PQresultStatus(result.get()) == PGRES_TUPLES_OK;
    };
    if (PQstatus(db.get()) != CONNECTION_OK || !exec("BEGIN; LOCK TABLE records IN ACCESS EXCLUSIVE MODE")) {
      locked = -1;
      return;
    }
    locked = 1;
    exec("SELECT pg_sleep(8); COMMIT");
  });
  ASSERT_TRUE(poll_until([&] { return locked.load() != 0; }, deadline_in(kSoon), "the records table to be locked"));
  ASSERT_EQ(locked.load(), 1) << "could not lock the records table";
  start(a);
  // The member took the lease and waits in its load behind the lock.
  EXPECT_TRUE(poll_until([&] { return a.process->log().find("ha_active") != std::string::npos; }, deadline_in(kSoon),
                         "a to take the lease", [&] { return a.process->log(); }));
  holder.join();

  ASSERT_TRUE(becomes(a, "1"));
  EXPECT_TRUE(publish(&a, "192.0.2.2"));
  EXPECT_TRUE(a.process->running()) << a.process->log();
  EXPECT_EQ(a.process->log().find("ha_leadership_lost"), std::string::npos) << a.process->log();
  nlohmann::json document = list(a);
  EXPECT_NE(find_ban(document, "192.0.2.1"), nullptr) << document.dump();
  EXPECT_NE(find_ban(document, "192.0.2.2"), nullptr) << document.dump();
  EXPECT_EQ(server_->query("SELECT epoch FROM lease"), "2");  // one takeover per start, none lost
}

}  // namespace
}  // namespace fleetban::testing
