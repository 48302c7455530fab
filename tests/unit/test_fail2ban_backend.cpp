// The fail2ban backend, against a stand-in for fail2ban-client: a small shell script that logs its
// arguments, answers `get JAIL banned` from a file and fails when told to.

#include "subscriber/fail2ban_backend.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "printers.hpp"
#include "temp_dir.hpp"

namespace {

using namespace fleetban::subscriber;
using fleetban::common::Decision;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using fleetban::subscriber::CommandTemplate;
using fleetban::testing::read_text;
using fleetban::testing::TempDir;
using Prefixes = std::vector<IpPrefix>;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

Decision decision(std::string_view ip) {
  Decision d;
  d.prefix = p(ip);
  d.active = true;
  d.expires_at = from_unix(1'795'650'600);
  d.reporters = {"web-01"};
  d.jails = {"sshd"};
  return d;
}

// The fake client and its files, in one temp dir.
struct FakeClient {
  TempDir dir;
  std::filesystem::path log = dir / "calls.log";
  std::filesystem::path banned = dir / "banned.txt";
  std::filesystem::path script;

  // `fail_when` is a shell `case` pattern over all the arguments: matching calls exit 1.
  explicit FakeClient(std::string_view fail_when = "__never__") {
    script = dir.write("fail2ban-client", "echo \"$*\" >> '" + log.string() +
                                              "'\n"
                                              "case \" $* \" in *\"" +
                                              std::string(fail_when) +
                                              "\"*) exit 1 ;; esac\n"
                                              "case \"$*\" in *' banned') cat '" +
                                              banned.string() +
                                              "' || exit 1 ;; esac\n"
                                              "exit 0\n");
  }

  CommandTemplate command(std::string_view extra = "") const {
    return *CommandTemplate::parse("/bin/sh '" + script.string() + "'" + std::string(extra));
  }

  std::vector<std::string> calls() const {
    std::vector<std::string> lines;
    std::istringstream in(read_text(log));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
};

TEST(Fail2banBackend, BansManyAddressesInOneCall) {
  FakeClient client;
  Fail2banBackend backend(client.command(), "fleetban");
  std::vector<Decision> decisions{decision("192.0.2.7"), decision("2001:db8::5"), decision("198.51.100.0/24")};
  EXPECT_TRUE(backend.ban(decisions).empty());
  EXPECT_EQ(client.calls(), std::vector<std::string>{"set fleetban banip 192.0.2.7 2001:db8::5 198.51.100.0/24"});
}

TEST(Fail2banBackend, UnbansManyAddressesInOneCall) {
  FakeClient client;
  Fail2banBackend backend(client.command(), "fleet");
  Prefixes prefixes{p("192.0.2.7"), p("2001:db8::5")};
  EXPECT_TRUE(backend.unban(prefixes).empty());
  EXPECT_EQ(client.calls(), std::vector<std::string>{"set fleet unbanip 192.0.2.7 2001:db8::5"});
}

TEST(Fail2banBackend, ClientPrefixWordsAreKept) {
  FakeClient client;
  Fail2banBackend backend(client.command(" -s /run/f2b.sock"), "fleetban");
  std::vector<Decision> decisions{decision("192.0.2.7")};
  EXPECT_TRUE(backend.ban(decisions).empty());
  EXPECT_EQ(client.calls(), std::vector<std::string>{"-s /run/f2b.sock set fleetban banip 192.0.2.7"});
}

TEST(Fail2banBackend, NothingToDoRunsNothing) {
  FakeClient client;
  Fail2banBackend backend(client.command(), "fleetban");
  EXPECT_TRUE(backend.ban({}).empty());
  EXPECT_TRUE(backend.unban({}).empty());
  EXPECT_TRUE(client.calls().empty());
}

TEST(Fail2banBackend, LargeBansAreSplitIntoBatches) {
  FakeClient client;
  Fail2banBackend backend(client.command(), "fleetban");
  std::vector<Decision> decisions;
  for (int i = 0; i < 1200; ++i)
    decisions.push_back(decision("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1"));
  EXPECT_TRUE(backend.ban(decisions).empty());
  auto calls = client.calls();
  ASSERT_EQ(calls.size(), 3u);
  std::size_t addresses = 0;
  for (const auto& call : calls) {
    std::istringstream words(call);
    std::size_t n = 0;
    for (std::string w; words >> w;) ++n;
    EXPECT_LE(n - 3, 500u);  // "set fleetban banip" and at most 500 addresses
    addresses += n - 3;
  }
  EXPECT_EQ(addresses, 1200u);
}

TEST(Fail2banBackend, FailedBatchReturnsItsDecisionsOnly) {
  FakeClient client(" 10.3.232.1 ");  // fails the batch holding decisions[1000] (the third)
  Fail2banBackend backend(client.command(), "fleetban");
  std::vector<Decision> decisions;
  for (int i = 0; i < 1200; ++i)
    decisions.push_back(decision("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1"));
  auto failed = backend.ban(decisions);
  ASSERT_EQ(failed.size(), 200u);
  EXPECT_EQ(failed.front().prefix, decisions[1000].prefix);
  EXPECT_EQ(failed.back().prefix, decisions[1199].prefix);
}

TEST(Fail2banBackend, FailedUnbanReturnsThePrefixes) {
  FakeClient client("unbanip");
  Fail2banBackend backend(client.command(), "fleetban");
  Prefixes prefixes{p("192.0.2.7"), p("198.51.100.0/24")};
  EXPECT_EQ(backend.unban(prefixes), prefixes);
}

TEST(Fail2banBackend, MissingClientFailsEveryBan) {
  Fail2banBackend backend(*CommandTemplate::parse("/nonexistent/fail2ban-client"), "fleetban");
  std::vector<Decision> decisions{decision("192.0.2.7")};
  EXPECT_EQ(backend.ban(decisions).size(), 1u);
  EXPECT_FALSE(backend.enforced());
}

TEST(Fail2banBackend, EnforcedReadsTheJailsBannedList) {
  FakeClient client;
  client.dir.write("banned.txt", "['192.0.2.7', '2001:db8::5']\n");
  Fail2banBackend backend(client.command(), "fleetban");
  auto held = backend.enforced();
  ASSERT_TRUE(held);
  EXPECT_EQ(*held, (Prefixes{p("192.0.2.7"), p("2001:db8::5")}));
  EXPECT_EQ(client.calls(), std::vector<std::string>{"get fleetban banned"});
}

TEST(Fail2banBackend, EnforcedIsUnknownWhenTheClientFails) {
  FakeClient client;  // no banned.txt: the fake exits 1
  Fail2banBackend backend(client.command(), "fleetban");
  EXPECT_FALSE(backend.enforced());
}

TEST(Fail2banBackend, ParsesBannedLists) {
  EXPECT_EQ(Fail2banBackend::parse_banned_list("[]"), Prefixes{});
  EXPECT_EQ(Fail2banBackend::parse_banned_list("[]\n"), Prefixes{});
  EXPECT_EQ(Fail2banBackend::parse_banned_list("['192.0.2.7']"), Prefixes{p("192.0.2.7")});
  EXPECT_EQ(Fail2banBackend::parse_banned_list("['192.0.2.7', '198.51.100.0/24', '2001:db8::5']\n"),
            (Prefixes{p("192.0.2.7"), p("198.51.100.0/24"), p("2001:db8::5")}));
}

TEST(Fail2banBackend, SkipsEntriesThatAreNotAddresses) {
  EXPECT_EQ(Fail2banBackend::parse_banned_list("['192.0.2.7', 'not-an-ip', '', '2001:db8::5']"),
            (Prefixes{p("192.0.2.7"), p("2001:db8::5")}));
}

TEST(Fail2banBackend, TextThatIsNotAListIsUnknown) {
  EXPECT_FALSE(Fail2banBackend::parse_banned_list(""));
  EXPECT_FALSE(Fail2banBackend::parse_banned_list("Sorry but the jail 'fleetban' does not exist"));
  EXPECT_FALSE(Fail2banBackend::parse_banned_list("] ["));
}

}  // namespace
