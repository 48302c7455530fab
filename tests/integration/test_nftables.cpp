// fleetban-subscriber with backend = "nftables", for real. Every program of a test and every nft
// command runs inside a network namespace the test creates (`ip netns add`, its own loopback), so
// nothing ever touches this machine's ruleset. Skipped where no namespace can be made (it takes
// root, or CAP_SYS_ADMIN and CAP_NET_ADMIN) or nft does not run.
#include "fleet.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

// The table the tests' subscribers use: `nft_table = "inet fbtest"`.
constexpr const char* kFamily = "inet";
constexpr const char* kTable = "fbtest";

// The nft the tests run: FLEETBAN_NFT (which the subscriber reads too), or nft on the PATH.
std::string nft_program() {
  const char* env = std::getenv("FLEETBAN_NFT");
  return env != nullptr && *env != '\0' ? env : "nft";
}

// A named network namespace with its loopback up, deleted when the object goes.
class NetworkNamespace {
 public:
  NetworkNamespace() : name_("fbtest-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++)) {
    const auto added = run({"ip", "netns", "add", name_});
    if (added.exit_code != 0) {
      error_ = describe(added);
      return;
    }
    created_ = true;
    const auto up = run(exec({"ip", "link", "set", "lo", "up"}));
    if (up.exit_code != 0) {
      error_ = describe(up);
    }
  }
  ~NetworkNamespace() {
    if (created_) {
      run({"ip", "netns", "del", name_});
    }
  }
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  bool ok() const { return created_ && error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }

  // argv, run inside the namespace (`ip netns exec` execs it: same pid, same process group).
  std::vector<std::string> exec(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"ip", "netns", "exec", name_});
    return argv;
  }

 private:
  static inline int counter_ = 0;
  std::string name_;
  bool created_ = false;
  std::string error_;
};

// The elements of each set of the table: set name -> element ("192.0.2.7", "198.51.100.0/24")
// -> its timeout in seconds (nullopt: none).
using Sets = std::map<std::string, std::map<std::string, std::optional<std::int64_t>>>;

std::optional<std::string> element_text(const nlohmann::json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_object() && value.contains("prefix")) {
    const auto& prefix = value["prefix"];
    return prefix.value("addr", std::string()) + "/" + std::to_string(prefix.value("len", 0));
  }
  return std::nullopt;
}

Sets parse_sets(const std::string& json) {
  Sets sets;
  const auto document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.contains("nftables")) {
    return sets;
  }
  for (const auto& item : document["nftables"]) {
    if (!item.contains("set")) {
      continue;
    }
    const auto& set = item["set"];
    auto& elements = sets[set.value("name", std::string())];
    if (!set.contains("elem")) {
      continue;
    }
    for (const auto& element : set["elem"]) {
      if (element.is_object() && element.contains("elem")) {
        const auto& inner = element["elem"];
        std::optional<std::int64_t> timeout;
        if (inner.contains("timeout")) {
          timeout = inner["timeout"].get<std::int64_t>();
        }
        if (auto text = element_text(inner["val"])) {
          elements[*text] = timeout;
        }
      } else if (auto text = element_text(element)) {
        elements[*text] = std::nullopt;
      }
    }
  }
  return sets;
}

std::set<std::string> keys(const std::map<std::string, std::optional<std::int64_t>>& elements) {
  std::set<std::string> names;
  for (const auto& [name, timeout] : elements) {
    names.insert(name);
  }
  return names;
}

std::string show(const std::set<std::string>& names) {
  std::string text = "{";
  for (const auto& name : names) {
    text += (text.size() > 1 ? ", " : " ") + name;
  }
  return text + " }";
}

class NftablesSubscriber : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto probe = run({"unshare", "-n", "true"});
    if (probe.exit_code != 0) {
      GTEST_SKIP() << "cannot create a network namespace here: " << describe(probe);
    }
    try {
      netns_ = std::make_unique<NetworkNamespace>();
    } catch (const std::exception& e) {  // no `ip` program
      GTEST_SKIP() << "cannot create a network namespace here: " << e.what();
    }
    if (!netns_->ok()) {
      GTEST_SKIP() << "cannot create a network namespace here: " << netns_->error();
    }
    const auto nft = run(netns_->exec({nft_program(), "list", "ruleset"}));
    if (nft.exit_code != 0) {
      GTEST_SKIP() << "nft does not run here (install nftables, or set FLEETBAN_NFT): " << describe(nft);
    }

    // A fresh namespace has every port free; these were free on the host a moment ago too.
    const std::string ingest = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    const std::string broadcast = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    aggregator_config_ = dir / "aggregator.toml";
    write_file(aggregator_config_,
               "ingest    = " + toml_string(ingest) + "\n" + "broadcast = " + toml_string(broadcast) + "\n" +
                   "http      = \"\"\n" + "state     = " + toml_string((dir / "state.db").string()) + "\n" +
                   security_settings(dir.path(), Peer::aggregator, "aggregator") + "\n[policy]\nmin_reporters = 1\n");
    host_config_ = dir / "host1" / "host.toml";
    std::filesystem::create_directories(dir / "host1" / "spool");
    write_file(host_config_,
               "host_id    = \"host1\"\n"
               "aggregator = " +
                   toml_string(ingest) + "\n" + "broadcast  = " + toml_string(broadcast) + "\n" +
                   "spool_dir  = " + toml_string((dir / "host1" / "spool").string()) + "\n" + "timeout_ms = 2000\n" +
                   security_settings(dir.path(), Peer::host, "host1") + "\n[enforce]\nbackend   = \"nftables\"\n" +
                   "nft_table = " + toml_string(std::string(kFamily) + " " + kTable) + "\n");
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "===== test dir " << dir.path().string() << "\n";
      for (const auto* process : {aggregator_.get(), subscriber_.get()}) {
        if (process != nullptr) {
          std::cerr << "----- " << describe(process->argv()) << "\n" << process->log() << "\n";
        }
      }
      if (netns_ && netns_->ok()) {
        std::cerr << "----- nft list ruleset\n" << nft({"list", "ruleset"}).output << "\n";
      }
    }
    // The programs go before their namespace.
    subscriber_.reset();
    aggregator_.reset();
    netns_.reset();
  }

  RunResult in_netns(std::vector<std::string> argv) const { return run(netns_->exec(std::move(argv))); }

  RunResult nft(std::vector<std::string> args) const {
    args.insert(args.begin(), nft_program());
    return in_netns(std::move(args));
  }

  RunResult list_table() const { return nft({"-j", "list", "table", kFamily, kTable}); }

  Sets sets() const { return parse_sets(list_table().out); }

  ::testing::AssertionResult start_aggregator() {
    aggregator_ = std::make_unique<Process>(
        netns_->exec({program("fleetban-aggregator"), "--config", aggregator_config_.string()}),
        dir / "logs" / "aggregator.log");
    RunResult last;
    return poll_until(
               [&] {
                 last = in_netns({program("fleetban"), "list", "--json", "--config", host_config_.string()});
                 return last.exit_code == 0 || !aggregator_->running();
               },
               deadline_in(kSoon), "the aggregator to answer `fleetban list`", [&] { return describe(last); }) &&
                   aggregator_->running()
               ? ::testing::AssertionSuccess()
               : ::testing::AssertionFailure() << "the aggregator did not start:\n"
                                               << aggregator_->log();
  }

  // Starts the subscriber and waits until it has set up its table.
  ::testing::AssertionResult start_subscriber() {
    if (subscriber_) {
      subscriber_->terminate();
    }
    subscriber_ =
        std::make_unique<Process>(netns_->exec({program("fleetban-subscriber"), "--config", host_config_.string()}),
                                  dir / "logs" / ("subscriber-" + std::to_string(++subscriber_starts_) + ".log"));
    return poll_until([&] { return sets().contains("v4") || !subscriber_->running(); }, deadline_in(kSoon),
                      "the subscriber to set up its table", [&] { return subscriber_->log(); }) &&
                   subscriber_->running()
               ? ::testing::AssertionSuccess()
               : ::testing::AssertionFailure() << "the subscriber exited:\n"
                                               << subscriber_->log();
  }

  void publish(std::vector<std::string> args) const {
    args.insert(args.begin(), program("fleetban-publish"));
    args.insert(args.end(), {"--config", host_config_.string()});
    const auto result = in_netns(args);
    ASSERT_EQ(result.exit_code, 0) << describe(result);
  }

  void ban(const std::string& ip) const { publish({"ban", "--ip", ip, "--jail", "sshd", "--bantime", "600"}); }

  // An unban long before time + bantime: an operator's unban, which the fleet follows.
  void early_unban(const std::string& ip) const {
    publish({"unban", "--ip", ip, "--jail", "sshd", "--bantime", "600", "--time", std::to_string(unix_now())});
  }

  // Polls until the set's elements are exactly `want`.
  ::testing::AssertionResult set_becomes(const std::string& set, const std::set<std::string>& want) const {
    Sets last;
    return poll_until(
        [&] {
          last = sets();
          return keys(last[set]) == want;
        },
        deadline_in(kSoon), "set " + set + " to hold " + show(want),
        [&] { return "set " + set + " holds " + show(keys(last[set])); });
  }

  ::testing::AssertionResult set_holds(const std::string& set, const std::string& element) const {
    Sets last;
    return poll_until(
        [&] {
          last = sets();
          return last[set].contains(element);
        },
        deadline_in(kSoon), "set " + set + " to hold " + element,
        [&] { return "set " + set + " holds " + show(keys(last[set])); });
  }

  ::testing::AssertionResult set_lacks(const std::string& set, const std::string& element) const {
    Sets last;
    return poll_until(
        [&] {
          last = sets();
          return last.contains(set) && !last[set].contains(element);
        },
        deadline_in(kSoon), "set " + set + " to lose " + element,
        [&] { return "set " + set + " holds " + show(keys(last[set])); });
  }

  TempDir dir;
  std::unique_ptr<NetworkNamespace> netns_;  // declared before the programs: it outlives them
  std::filesystem::path aggregator_config_;
  std::filesystem::path host_config_;
  std::unique_ptr<Process> aggregator_;
  std::unique_ptr<Process> subscriber_;
  int subscriber_starts_ = 0;
};

// Whether a TCP connection from src to dst, both addresses of the namespace's loopback, is
// accepted within a second. Runs in a child process that joins the namespace.
bool connects(const NetworkNamespace& netns, const char* src, const char* dst) {
  const std::string path = "/run/netns/" + netns.name();
  const pid_t pid = ::fork();
  if (pid < 0) {
    return false;
  }
  if (pid == 0) {
    const int ns = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
      ::_exit(2);
    }
    sockaddr_in server{};
    server.sin_family = AF_INET;
    ::inet_pton(AF_INET, dst, &server.sin_addr);
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    socklen_t length = sizeof server;
    if (::bind(listener, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 ||
        ::listen(listener, 1) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&server), &length) != 0) {
      ::_exit(2);
    }
    sockaddr_in client{};
    client.sin_family = AF_INET;
    ::inet_pton(AF_INET, src, &client.sin_addr);
    const int socket = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (::bind(socket, reinterpret_cast<const sockaddr*>(&client), sizeof client) != 0) {
      ::_exit(2);
    }
    ::connect(socket, reinterpret_cast<const sockaddr*>(&server), sizeof server);
    pollfd ready{socket, POLLOUT, 0};
    int error = -1;
    socklen_t error_length = sizeof error;
    if (::poll(&ready, 1, 1000) == 1) {
      ::getsockopt(socket, SOL_SOCKET, SO_ERROR, &error, &error_length);
    }
    ::_exit(error == 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST_F(NftablesSubscriber, AddressBanReachesTheV4SetWithItsTimeout) {
  ASSERT_TRUE(start_aggregator());
  ASSERT_TRUE(start_subscriber());
  ban("192.0.2.10");
  ASSERT_TRUE(set_holds("v4", "192.0.2.10"));
  const auto timeout = sets()["v4"]["192.0.2.10"];
  ASSERT_TRUE(timeout.has_value()) << "no timeout on the element";
  EXPECT_GE(*timeout, 590);
  EXPECT_LE(*timeout, 600);

  const auto chain = nft({"list", "chain", kFamily, kTable, "input"});
  ASSERT_EQ(chain.exit_code, 0) << describe(chain);
  EXPECT_NE(chain.out.find("hook input"), std::string::npos) << chain.out;
  EXPECT_NE(chain.out.find("ip saddr @v4 drop"), std::string::npos) << chain.out;
  EXPECT_NE(chain.out.find("ip saddr @v4net drop"), std::string::npos) << chain.out;
  EXPECT_NE(chain.out.find("ip6 saddr @v6 drop"), std::string::npos) << chain.out;
  EXPECT_NE(chain.out.find("ip6 saddr @v6net drop"), std::string::npos) << chain.out;
}

TEST_F(NftablesSubscriber, Ipv6BanReachesTheV6Set) {
  ASSERT_TRUE(start_aggregator());
  ASSERT_TRUE(start_subscriber());
  ban("2001:db8::5");
  ASSERT_TRUE(set_holds("v6", "2001:db8::5"));
  EXPECT_TRUE(sets()["v6"]["2001:db8::5"].has_value()) << "no timeout on the element";
  EXPECT_TRUE(keys(sets()["v4"]).empty());
}

TEST_F(NftablesSubscriber, PrefixBansAreIntervalsBesideTheAddressesTheyContain) {
  ASSERT_TRUE(start_aggregator());
  ASSERT_TRUE(start_subscriber());
  ban("198.51.100.7");
  ASSERT_TRUE(set_holds("v4", "198.51.100.7"));
  // Its /24, banned too: an interval in the prefix set, while the address keeps its own element.
  ban("198.51.100.0/24");
  ban("2001:db8:1::/48");
  EXPECT_TRUE(set_holds("v4net", "198.51.100.0/24"));
  EXPECT_TRUE(set_holds("v6net", "2001:db8:1::/48"));
  EXPECT_TRUE(sets()["v4"].contains("198.51.100.7"));
  const auto listing = list_table();
  EXPECT_NE(listing.out.find(R"({"prefix": {"addr": "198.51.100.0", "len": 24}})"), std::string::npos) << listing.out;
}

TEST_F(NftablesSubscriber, UnbanRemovesTheElement) {
  ASSERT_TRUE(start_aggregator());
  ASSERT_TRUE(start_subscriber());
  ban("192.0.2.20");
  ban("192.0.2.21");
  ban("203.0.113.0/24");
  ASSERT_TRUE(set_holds("v4", "192.0.2.20"));
  ASSERT_TRUE(set_holds("v4net", "203.0.113.0/24"));
  early_unban("192.0.2.20");
  early_unban("203.0.113.0/24");
  EXPECT_TRUE(set_lacks("v4", "192.0.2.20"));
  EXPECT_TRUE(set_lacks("v4net", "203.0.113.0/24"));
  EXPECT_TRUE(sets()["v4"].contains("192.0.2.21"));
}

TEST_F(NftablesSubscriber, BannedSourceIsDropped) {
  ASSERT_EQ(in_netns({"ip", "addr", "add", "192.0.2.50/32", "dev", "lo"}).exit_code, 0);
  ASSERT_EQ(in_netns({"ip", "addr", "add", "192.0.2.51/32", "dev", "lo"}).exit_code, 0);
  ASSERT_TRUE(start_aggregator());
  ASSERT_TRUE(start_subscriber());
  ASSERT_TRUE(connects(*netns_, "192.0.2.50", "192.0.2.51")) << "no connection even before the ban";
  ban("192.0.2.50");
  ASSERT_TRUE(set_holds("v4", "192.0.2.50"));
  EXPECT_FALSE(connects(*netns_, "192.0.2.50", "192.0.2.51")) << "the banned source still connects";
  EXPECT_TRUE(connects(*netns_, "192.0.2.51", "192.0.2.51")) << "another source is dropped too";
  early_unban("192.0.2.50");
  ASSERT_TRUE(set_lacks("v4", "192.0.2.50"));
  EXPECT_TRUE(connects(*netns_, "192.0.2.50", "192.0.2.51")) << "still dropped after the unban";
}

TEST_F(NftablesSubscriber, RestartReconcilesTheSetsWithTheFleet) {
  ASSERT_TRUE(start_aggregator());
  ASSERT_TRUE(start_subscriber());
  ban("192.0.2.30");
  ban("192.0.2.31");
  ban("203.0.113.0/24");
  ban("198.51.100.0/24");
  ASSERT_TRUE(set_becomes("v4", {"192.0.2.30", "192.0.2.31"}));
  ASSERT_TRUE(set_becomes("v4net", {"198.51.100.0/24", "203.0.113.0/24"}));

  // While the subscriber is down the fleet changes, and something else writes into its sets.
  EXPECT_EQ(subscriber_->terminate(), 0) << subscriber_->log();
  early_unban("192.0.2.31");
  early_unban("203.0.113.0/24");
  ban("192.0.2.32");
  ASSERT_EQ(nft({"add", "element", kFamily, kTable, "v4", "{ 192.0.2.99 timeout 3600s }"}).exit_code, 0);
  ASSERT_EQ(nft({"add", "element", kFamily, kTable, "v4net", "{ 10.0.0.0/8 }"}).exit_code, 0);
  EXPECT_EQ(keys(sets()["v4"]), (std::set<std::string>{"192.0.2.30", "192.0.2.31", "192.0.2.99"}));

  ASSERT_TRUE(start_subscriber());
  EXPECT_TRUE(set_becomes("v4", {"192.0.2.30", "192.0.2.32"}));
  EXPECT_TRUE(set_becomes("v4net", {"198.51.100.0/24"}));
}

TEST_F(NftablesSubscriber, TableDeletedByAFirewallReloadIsRestored) {
  ASSERT_TRUE(start_aggregator());
  ASSERT_TRUE(start_subscriber());
  ban("192.0.2.40");
  ban("2001:db8::40");
  ban("198.51.100.0/24");
  ASSERT_TRUE(set_holds("v4", "192.0.2.40"));
  ASSERT_TRUE(set_holds("v6", "2001:db8::40"));
  ASSERT_TRUE(set_holds("v4net", "198.51.100.0/24"));

  // What `systemctl reload nftables` does first: every table goes, fleetban's with the rest.
  ASSERT_EQ(nft({"flush", "ruleset"}).exit_code, 0);
  ASSERT_NE(list_table().exit_code, 0) << "the table outlived the flush";

  // The subscriber notices within its check interval and enforces the fleet's bans again.
  EXPECT_TRUE(set_holds("v4", "192.0.2.40"));
  EXPECT_TRUE(set_holds("v6", "2001:db8::40"));
  EXPECT_TRUE(set_holds("v4net", "198.51.100.0/24"));
  EXPECT_NE(subscriber_->log().find("backend_state_lost"), std::string::npos) << subscriber_->log();
  const auto chain = nft({"list", "chain", kFamily, kTable, "input"});
  EXPECT_NE(chain.out.find("ip saddr @v4 drop"), std::string::npos) << describe(chain);
}

TEST_F(NftablesSubscriber, CleanupRemovesTheTable) {
  const auto help = run({program("fleetban-subscriber"), "--help"});
  if (help.output.find("--cleanup") == std::string::npos) {
    GTEST_SKIP() << "fleetban-subscriber has no --cleanup flag yet (NftablesBackend::cleanup() is "
                    "covered by the unit tests)";
  }
  ASSERT_TRUE(start_aggregator());
  ASSERT_TRUE(start_subscriber());
  ban("192.0.2.40");
  ASSERT_TRUE(set_holds("v4", "192.0.2.40"));
  EXPECT_EQ(subscriber_->terminate(), 0) << subscriber_->log();
  EXPECT_EQ(list_table().exit_code, 0) << "stopping the subscriber keeps the table and its bans";

  const auto cleanup = in_netns({program("fleetban-subscriber"), "--cleanup", "--config", host_config_.string()});
  EXPECT_EQ(cleanup.exit_code, 0) << describe(cleanup);
  const auto after = list_table();
  EXPECT_NE(after.exit_code, 0) << "the table is still there:\n" << after.out;
}

}  // namespace
}  // namespace fleetban::testing
