#include "subscriber/nftables_backend.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>

#include "common/errors.hpp"
#include "subscriber/command.hpp"

namespace {

using namespace fleetban::subscriber;
using fleetban::common::Decision;
using fleetban::common::EnforceConfig;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using std::chrono::seconds;

constexpr std::int64_t T = 1'795'650'000;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

NftTable table(std::string_view text) { return *NftTable::parse(text); }

Decision decision(std::string_view ip, std::optional<std::int64_t> expires_at) {
  Decision d;
  d.sequence = 1;
  d.prefix = p(ip);
  d.active = true;
  d.banned_at = from_unix(T);
  if (expires_at) d.expires_at = from_unix(*expires_at);
  return d;
}

bool has_line(const std::string& text, std::string_view line) {
  return text.find(std::string(line) + "\n") != std::string::npos;
}

std::size_t position(const std::string& text, std::string_view needle) {
  auto at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << "'" << needle << "' is not in:\n" << text;
  return at;
}

TEST(NftablesBackend, ListedTablesAreMatchedWhole) {
  const std::string listing = "table inet filter\ntable ip fleetban\ntable inet fleetban-other\n";
  EXPECT_FALSE(NftablesBackend::lists_table(listing, table("inet fleetban")));  // neither family nor prefix
  EXPECT_TRUE(NftablesBackend::lists_table(listing, table("ip fleetban")));
  EXPECT_TRUE(NftablesBackend::lists_table(listing, table("inet filter")));
  EXPECT_TRUE(NftablesBackend::lists_table("table inet fleetban", table("inet fleetban")));  // no newline
  EXPECT_FALSE(NftablesBackend::lists_table("", table("inet fleetban")));
}

TEST(NftablesBackend, FromConfigTakesTheTableAsLoadedAndRunsNothing) {
  // A bad nft_table never gets here: load_host_config refuses it (test_host_config.cpp).
  EnforceConfig config;
  config.backend = fleetban::common::BackendKind::nftables;
  config.nft_table = table("ip6 fb");
  EXPECT_EQ(NftablesBackend::from_config(config)->table(), table("ip6 fb"));
}

// ---------------------------------------------------------------- elements

TEST(NftablesBackend, ElementCarriesTheSecondsLeft) {
  auto e = NftablesBackend::element_for(decision("192.0.2.7", T + 600), from_unix(T + 100));
  EXPECT_EQ(e.prefix, p("192.0.2.7"));
  EXPECT_EQ(e.timeout, seconds(500));
}

TEST(NftablesBackend, PermanentElementHasNoTimeout) {
  EXPECT_EQ(NftablesBackend::element_for(decision("2001:db8::5", std::nullopt), from_unix(T)).timeout, std::nullopt);
}

TEST(NftablesBackend, ExpiredElementKeepsOneSecond) {
  EXPECT_EQ(NftablesBackend::element_for(decision("192.0.2.7", T), from_unix(T + 5)).timeout, seconds(1));
}

TEST(NftablesBackend, TimeoutBeyondWhatNftTakesBecomesPermanent) {
  const auto max = NftablesBackend::kMaxTimeout.count();
  EXPECT_EQ(NftablesBackend::element_for(decision("192.0.2.7", T + max), from_unix(T)).timeout,
            NftablesBackend::kMaxTimeout);
  EXPECT_EQ(NftablesBackend::element_for(decision("192.0.2.7", T + max + 1), from_unix(T)).timeout, std::nullopt);
}

TEST(NftablesBackend, NestedPrefixesKeepOnlyTheOutermost) {
  std::map<IpPrefix, Decision> prefixes;
  for (auto ip :
       {"198.51.0.0/16", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "2001:db8:1::/48", "2001:db9::/48"}) {
    prefixes.emplace(p(ip), decision(ip, T + 3600));
  }
  auto elements = NftablesBackend::prefix_elements(prefixes, from_unix(T));
  std::vector<IpPrefix> got;
  for (const auto& e : elements) got.push_back(e.prefix);
  std::sort(got.begin(), got.end());
  std::vector<IpPrefix> want = {p("198.51.0.0/16"), p("203.0.113.0/24"), p("2001:db8::/32"), p("2001:db9::/48")};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST(NftablesBackend, ExpiredPrefixNeitherAppearsNorCovers) {
  std::map<IpPrefix, Decision> prefixes;
  prefixes.emplace(p("198.51.0.0/16"), decision("198.51.0.0/16", T - 1));
  prefixes.emplace(p("198.51.100.0/24"), decision("198.51.100.0/24", std::nullopt));
  auto elements = NftablesBackend::prefix_elements(prefixes, from_unix(T));
  ASSERT_EQ(elements.size(), 1u);
  EXPECT_EQ(elements[0], (NftElement{p("198.51.100.0/24"), std::nullopt}));
}

// ---------------------------------------------------------------- ruleset text

TEST(NftablesBackend, SetupOfAnInetTableHasBothFamilies) {
  auto text = NftablesBackend::setup_text(table("inet fleetban"));
  EXPECT_EQ(text,
            "add table inet fleetban\n"
            "add set inet fleetban v4 { type ipv4_addr; flags timeout; }\n"
            "add set inet fleetban v4net { type ipv4_addr; flags interval, timeout; }\n"
            "add set inet fleetban v6 { type ipv6_addr; flags timeout; }\n"
            "add set inet fleetban v6net { type ipv6_addr; flags interval, timeout; }\n"
            "add chain inet fleetban input { type filter hook input priority -10; policy accept; }\n"
            "flush chain inet fleetban input\n"
            "add rule inet fleetban input ip saddr @v4 drop\n"
            "add rule inet fleetban input ip saddr @v4net drop\n"
            "add rule inet fleetban input ip6 saddr @v6 drop\n"
            "add rule inet fleetban input ip6 saddr @v6net drop\n");
}

TEST(NftablesBackend, SetupOfAnIpTableHasOnlyItsFamily) {
  auto v4 = NftablesBackend::setup_text(table("ip fb"));
  EXPECT_TRUE(has_line(v4, "add set ip fb v4 { type ipv4_addr; flags timeout; }"));
  EXPECT_TRUE(has_line(v4, "add rule ip fb input ip saddr @v4net drop"));
  EXPECT_EQ(v4.find("v6"), std::string::npos) << v4;
  auto v6 = NftablesBackend::setup_text(table("ip6 fb"));
  EXPECT_TRUE(has_line(v6, "add set ip6 fb v6net { type ipv6_addr; flags interval, timeout; }"));
  EXPECT_TRUE(has_line(v6, "add rule ip6 fb input ip6 saddr @v6 drop"));
  EXPECT_EQ(v6.find("v4"), std::string::npos) << v6;
}

TEST(NftablesBackend, EmptyChangeIsNoCommand) {
  EXPECT_EQ(NftablesBackend::change_text(table("inet fleetban"), {}), "");
}

TEST(NftablesBackend, RewriteAddsDeletesThenAddsWithTimeout) {
  auto t = table("inet fleetban");
  NftChange change;
  change.rewrite = {{p("192.0.2.7"), seconds(600)}, {p("192.0.2.8"), std::nullopt}, {p("2001:db8::5"), seconds(60)}};
  EXPECT_EQ(NftablesBackend::change_text(t, change),
            "add element inet fleetban v4 {\n  192.0.2.7,\n  192.0.2.8\n}\n"
            "delete element inet fleetban v4 {\n  192.0.2.7,\n  192.0.2.8\n}\n"
            "add element inet fleetban v4 {\n  192.0.2.7 timeout 600s,\n  192.0.2.8\n}\n"
            "add element inet fleetban v6 {\n  2001:db8::5\n}\n"
            "delete element inet fleetban v6 {\n  2001:db8::5\n}\n"
            "add element inet fleetban v6 {\n  2001:db8::5 timeout 60s\n}\n");
}

TEST(NftablesBackend, InsertIsOnePlainAdd) {
  auto t = table("inet fleetban");
  NftChange change;
  change.insert = {{p("192.0.2.7"), seconds(600)}, {p("2001:db8::5"), std::nullopt}};
  EXPECT_EQ(NftablesBackend::change_text(t, change),
            "add element inet fleetban v4 {\n  192.0.2.7 timeout 600s\n}\n"
            "add element inet fleetban v6 {\n  2001:db8::5\n}\n");
}

TEST(NftablesBackend, RemovalsRewritesAndInsertsShareThreeCommands) {
  auto t = table("ip fleetban");
  NftChange change;
  change.remove = {p("192.0.2.1")};
  change.rewrite = {{p("192.0.2.2"), seconds(60)}};
  change.insert = {{p("192.0.2.3"), seconds(30)}};
  EXPECT_EQ(NftablesBackend::change_text(t, change),
            "add element ip fleetban v4 {\n  192.0.2.1,\n  192.0.2.2\n}\n"
            "delete element ip fleetban v4 {\n  192.0.2.1,\n  192.0.2.2\n}\n"
            "add element ip fleetban v4 {\n  192.0.2.2 timeout 60s,\n  192.0.2.3 timeout 30s\n}\n");
}

TEST(NftablesBackend, RemovalAddsFirstSoAMissingElementCannotFailTheBatch) {
  auto t = table("inet fleetban");
  NftChange change;
  change.remove = {p("192.0.2.7"), p("2001:db8::5")};
  auto text = NftablesBackend::change_text(t, change);
  EXPECT_LT(position(text, "add element inet fleetban v4 {\n  192.0.2.7\n}\n"),
            position(text, "delete element inet fleetban v4 {\n  192.0.2.7\n}\n"));
  EXPECT_LT(position(text, "add element inet fleetban v6 {\n  2001:db8::5\n}\n"),
            position(text, "delete element inet fleetban v6 {\n  2001:db8::5\n}\n"));
  EXPECT_EQ(text.find("timeout"), std::string::npos) << text;
  EXPECT_EQ(text.find("v4net"), std::string::npos) << "prefix sets untouched:\n" << text;
  EXPECT_EQ(text.find("v6net"), std::string::npos) << "prefix sets untouched:\n" << text;
}

TEST(NftablesBackend, PrefixSetsAreFlushedAndRefilled) {
  auto t = table("inet fleetban");
  NftChange change;
  change.prefixes = std::vector<NftElement>{{p("198.51.100.0/24"), seconds(30)}};
  auto text = NftablesBackend::change_text(t, change);
  EXPECT_LT(position(text, "flush set inet fleetban v4net\n"),
            position(text, "add element inet fleetban v4net {\n  198.51.100.0/24 timeout 30s\n}\n"));
  // The v6 prefixes are rewritten too: now none.
  EXPECT_TRUE(has_line(text, "flush set inet fleetban v6net"));
  EXPECT_EQ(text.find("add element inet fleetban v6net"), std::string::npos) << text;
  EXPECT_EQ(text.find("flush set inet fleetban v4\n"), std::string::npos) << text;
}

TEST(NftablesBackend, SnapshotFlushesEverySetThenAddsOnce) {
  auto t = table("inet fleetban");
  NftChange change;
  change.replace_addresses = true;
  change.remove = {p("192.0.2.1")};  // ignored: the flush removes everything
  change.insert = {{p("192.0.2.7"), seconds(600)}};
  change.prefixes = std::vector<NftElement>{{p("2001:db8::/32"), std::nullopt}};
  EXPECT_EQ(NftablesBackend::change_text(t, change),
            "flush set inet fleetban v4\n"
            "add element inet fleetban v4 {\n  192.0.2.7 timeout 600s\n}\n"
            "flush set inet fleetban v4net\n"
            "flush set inet fleetban v6\n"
            "flush set inet fleetban v6net\n"
            "add element inet fleetban v6net {\n  2001:db8::/32\n}\n");
}

TEST(NftablesBackend, ElementsOfAFamilyTheTableLacksAreLeftOut) {
  NftChange change;
  change.insert = {{p("192.0.2.7"), seconds(600)}, {p("2001:db8::5"), seconds(60)}};
  auto text = NftablesBackend::change_text(table("ip fb"), change);
  EXPECT_NE(text.find("192.0.2.7"), std::string::npos);
  EXPECT_EQ(text.find("2001:db8::5"), std::string::npos) << text;
}

TEST(NftablesBackend, CleanupAddsThenDeletesTheTable) {
  EXPECT_EQ(NftablesBackend::cleanup_text(table("ip6 fb")), "add table ip6 fb\ndelete table ip6 fb\n");
}

// ---------------------------------------------------------------- listing

TEST(NftablesBackend, ParsesTheListingOfNft106) {
  // As printed by `nft -j list table inet fb` (nftables 1.0.6).
  const char* json = R"({"nftables": [
    {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "fb", "handle": 1}},
    {"set": {"family": "inet", "name": "v4", "table": "fb", "type": "ipv4_addr", "handle": 1,
             "flags": ["timeout"],
             "elem": ["10.0.0.1", {"elem": {"val": "192.0.2.1", "timeout": 900, "expires": 899}}]}},
    {"set": {"family": "inet", "name": "v4net", "table": "fb", "type": "ipv4_addr", "handle": 2,
             "flags": ["interval", "timeout"],
             "elem": [{"elem": {"val": {"prefix": {"addr": "198.51.100.0", "len": 24}},
                                "timeout": 200, "expires": 199}},
                      {"prefix": {"addr": "203.0.113.0", "len": 25}},
                      {"range": ["192.0.2.10", "192.0.2.20"]}]}},
    {"set": {"family": "inet", "name": "v6", "table": "fb", "type": "ipv6_addr", "handle": 3, "flags": ["timeout"]}},
    {"set": {"family": "inet", "name": "v6net", "table": "fb", "type": "ipv6_addr", "handle": 4,
             "flags": ["interval", "timeout"], "elem": [{"prefix": {"addr": "2001:db8::", "len": 32}}]}},
    {"set": {"family": "inet", "name": "other", "table": "fb", "type": "ipv4_addr", "handle": 5, "elem": ["10.9.9.9"]}},
    {"chain": {"family": "inet", "table": "fb", "name": "input", "handle": 6, "type": "filter", "hook": "input",
               "prio": -10, "policy": "accept"}}
  ]})";
  auto listed = NftablesBackend::parse_listing(json);
  ASSERT_TRUE(listed);
  std::map<IpPrefix, std::optional<seconds>> got;
  for (const auto& e : *listed) got.emplace(e.prefix, e.timeout);
  // The time each has left: "expires", not the "timeout" it was given.
  EXPECT_EQ(got, (std::map<IpPrefix, std::optional<seconds>>{{p("10.0.0.1"), std::nullopt},
                                                             {p("192.0.2.1"), seconds(899)},
                                                             {p("198.51.100.0/24"), seconds(199)},
                                                             {p("203.0.113.0/25"), std::nullopt},
                                                             {p("2001:db8::/32"), std::nullopt}}));
}

TEST(NftablesBackend, ListingThatIsNotNftJsonIsNothing) {
  EXPECT_FALSE(NftablesBackend::parse_listing(""));
  EXPECT_FALSE(NftablesBackend::parse_listing("table inet fb {"));
  EXPECT_FALSE(NftablesBackend::parse_listing(R"({"tables": []})"));
  auto empty = NftablesBackend::parse_listing(R"({"nftables": []})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

// ---------------------------------------------------------------- against the real nft

// The nft command the live tests use: FLEETBAN_NFT, or "nft".
std::vector<std::string> nft_command() {
  const char* env = std::getenv("FLEETBAN_NFT");
  return fleetban::subscriber::CommandTemplate::parse(env != nullptr && *env != '\0' ? env : "nft")->words();
}

// Runs body in a child process inside a network namespace of its own, so that nothing touches
// this machine's ruleset. Skips when no namespace can be made here or nft is missing.
void in_own_network_namespace(const std::function<void()>& body) {
  constexpr int kNoNamespace = 77;
  constexpr int kNoNft = 78;
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWNET) != 0) _exit(kNoNamespace);
    auto argv = nft_command();
    argv.emplace_back("list");
    argv.emplace_back("ruleset");
    if (fleetban::subscriber::run_command(argv, std::chrono::seconds(10)).exit_code != 0) _exit(kNoNft);
    body();
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died, status " << status;
  if (WEXITSTATUS(status) == kNoNamespace) GTEST_SKIP() << "cannot create a network namespace here (unshare -n)";
  if (WEXITSTATUS(status) == kNoNft) GTEST_SKIP() << "nft does not run here (install nftables, or set FLEETBAN_NFT)";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failures in the namespace are printed above";
}

std::set<IpPrefix> enforced_set(NftablesBackend& backend) {
  auto held = backend.enforced();
  EXPECT_TRUE(held);
  return held ? std::set<IpPrefix>(held->begin(), held->end()) : std::set<IpPrefix>{};
}

// The time the element has left in table inet fbunit, as nft lists it (nullopt: no timeout).
std::optional<seconds> time_left(const IpPrefix& prefix) {
  auto argv = nft_command();
  argv.insert(argv.end(), {"-j", "list", "table", "inet", "fbunit"});
  auto result = fleetban::subscriber::run_command(argv, seconds(10), fleetban::subscriber::CaptureOutput::yes);
  auto listed = NftablesBackend::parse_listing(result.output);
  EXPECT_TRUE(listed) << result.output;
  for (const auto& e : listed.value_or(std::vector<NftElement>{})) {
    if (e.prefix == prefix) return e.timeout;
  }
  ADD_FAILURE() << prefix.to_string() << " is not listed";
  return std::nullopt;
}

Decision live(std::string_view ip, std::optional<std::chrono::seconds> left) {
  std::optional<std::int64_t> expires;
  if (left) expires = fleetban::common::to_unix(fleetban::common::now_seconds() + *left);
  return decision(ip, expires);
}

TEST(NftablesBackendLive, BansUnbansAndReportsAddressesAndPrefixes) {
  in_own_network_namespace([] {
    NftablesBackend backend(table("inet fbunit"), nft_command());
    backend.setup();
    EXPECT_TRUE(enforced_set(backend).empty());
    std::vector<Decision> bans = {live("192.0.2.7", seconds(600)), live("2001:db8::5", std::nullopt),
                                  live("198.51.100.0/24", seconds(60)), live("2001:db8:1::/48", seconds(60))};
    EXPECT_TRUE(backend.ban(bans).empty());
    EXPECT_EQ(enforced_set(backend),
              (std::set<IpPrefix>{p("192.0.2.7"), p("2001:db8::5"), p("198.51.100.0/24"), p("2001:db8:1::/48")}));
    // Banning again rewrites the timeout (a plain add would keep the old one on kernel 6.1).
    EXPECT_TRUE(backend.ban(std::vector<Decision>{live("192.0.2.7", seconds(900))}).empty());
    EXPECT_GT(time_left(p("192.0.2.7")).value_or(seconds(0)), seconds(600));
    EXPECT_TRUE(backend.ban(std::vector<Decision>{live("192.0.2.7", std::nullopt)}).empty());
    EXPECT_EQ(time_left(p("192.0.2.7")), std::nullopt) << "permanent now";
    // Unbanning present and absent ones together fails none of them.
    std::vector<IpPrefix> unbans = {p("192.0.2.7"), p("192.0.2.99"), p("198.51.100.0/24"), p("203.0.113.0/24")};
    EXPECT_TRUE(backend.unban(unbans).empty());
    EXPECT_EQ(enforced_set(backend), (std::set<IpPrefix>{p("2001:db8::5"), p("2001:db8:1::/48")}));
  });
}

TEST(NftablesBackendLive, AddressInsideABannedPrefixAndNestedPrefixes) {
  in_own_network_namespace([] {
    NftablesBackend backend(table("inet fbunit"), nft_command());
    std::vector<Decision> bans = {live("198.51.100.7", seconds(600)), live("198.51.100.0/24", seconds(600)),
                                  live("198.51.0.0/16", seconds(60))};
    EXPECT_TRUE(backend.ban(bans).empty());
    EXPECT_EQ(enforced_set(backend), (std::set<IpPrefix>{p("198.51.100.7"), p("198.51.100.0/24"), p("198.51.0.0/16")}));
    // The /24 had no element of its own while the /16 covered it; now it has.
    EXPECT_TRUE(backend.unban(std::vector<IpPrefix>{p("198.51.0.0/16")}).empty());
    EXPECT_EQ(enforced_set(backend), (std::set<IpPrefix>{p("198.51.100.7"), p("198.51.100.0/24")}));
    // A fresh backend (a restarted subscriber) sees only the elements.
    NftablesBackend fresh(table("inet fbunit"), nft_command());
    EXPECT_EQ(enforced_set(fresh), (std::set<IpPrefix>{p("198.51.100.7"), p("198.51.100.0/24")}));
  });
}

TEST(NftablesBackendLive, RestartedBackendKeepsThePrefixesItFindsWhenUnbanningAnother) {
  in_own_network_namespace([] {
    NftablesBackend before(table("inet fbunit"), nft_command());
    EXPECT_TRUE(
        before.ban(std::vector<Decision>{live("198.51.100.0/24", seconds(600)), live("203.0.113.0/24", std::nullopt)})
            .empty());
    NftablesBackend after(table("inet fbunit"), nft_command());
    EXPECT_EQ(enforced_set(after), (std::set<IpPrefix>{p("198.51.100.0/24"), p("203.0.113.0/24")}));
    EXPECT_TRUE(after.unban(std::vector<IpPrefix>{p("203.0.113.0/24")}).empty());
    EXPECT_EQ(enforced_set(after), (std::set<IpPrefix>{p("198.51.100.0/24")}));
  });
}

TEST(NftablesBackendLive, ReplaceAllLeavesExactlyTheSnapshot) {
  in_own_network_namespace([] {
    NftablesBackend backend(table("inet fbunit"), nft_command());
    EXPECT_TRUE(backend
                    .ban(std::vector<Decision>{live("192.0.2.1", seconds(600)), live("192.0.2.2", seconds(600)),
                                               live("203.0.113.0/24", seconds(600))})
                    .empty());
    std::vector<Decision> snapshot = {live("192.0.2.2", seconds(600)), live("192.0.2.3", std::nullopt),
                                      live("2001:db8::/32", seconds(600))};
    EXPECT_TRUE(backend.replace_all(snapshot));
    EXPECT_EQ(enforced_set(backend), (std::set<IpPrefix>{p("192.0.2.2"), p("192.0.2.3"), p("2001:db8::/32")}));
  });
}

TEST(NftablesBackendLive, IpTableIgnoresIpv6) {
  in_own_network_namespace([] {
    NftablesBackend backend(table("ip fbunit"), nft_command());
    EXPECT_TRUE(
        backend.ban(std::vector<Decision>{live("192.0.2.1", seconds(600)), live("2001:db8::1", seconds(600))}).empty());
    EXPECT_EQ(enforced_set(backend), (std::set<IpPrefix>{p("192.0.2.1")}));
    EXPECT_TRUE(backend.unban(std::vector<IpPrefix>{p("2001:db8::1"), p("192.0.2.1")}).empty());
    EXPECT_TRUE(enforced_set(backend).empty());
  });
}

TEST(NftablesBackendLive, TableDeletedBehindItsBackComesBackWithTheNextChange) {
  in_own_network_namespace([] {
    NftablesBackend backend(table("inet fbunit"), nft_command());
    backend.setup();
    EXPECT_TRUE(backend.ban(std::vector<Decision>{live("192.0.2.1", seconds(600))}).empty());
    auto flush = nft_command();
    flush.insert(flush.end(), {"flush", "ruleset"});
    ASSERT_EQ(fleetban::subscriber::run_command(flush, seconds(10)).exit_code, 0);
    EXPECT_TRUE(backend.ban(std::vector<Decision>{live("192.0.2.2", seconds(600))}).empty());
    EXPECT_TRUE(backend.unban(std::vector<IpPrefix>{p("192.0.2.1")}).empty());
    EXPECT_EQ(enforced_set(backend), (std::set<IpPrefix>{p("192.0.2.2")}));
  });
}

TEST(NftablesBackendLive, CleanupDeletesTheTableAndMayRunTwice) {
  in_own_network_namespace([] {
    NftablesBackend backend(table("inet fbunit"), nft_command());
    EXPECT_TRUE(backend.ban(std::vector<Decision>{live("192.0.2.1", seconds(600))}).empty());
    auto list = nft_command();
    list.insert(list.end(), {"list", "table", "inet", "fbunit"});
    auto capture = fleetban::subscriber::CaptureOutput::yes;
    EXPECT_EQ(fleetban::subscriber::run_command(list, seconds(10), capture).exit_code, 0);
    EXPECT_NO_THROW(backend.cleanup());
    EXPECT_NE(fleetban::subscriber::run_command(list, seconds(10), capture).exit_code, 0) << "the table is still there";
    EXPECT_NO_THROW(backend.cleanup());
  });
}

TEST(NftablesBackendLive, TenThousandBansInOneCall) {
  in_own_network_namespace([] {
    NftablesBackend backend(table("inet fbunit"), nft_command());
    backend.setup();
    std::vector<Decision> bans;
    for (int i = 0; i < 10'000; ++i) {
      bans.push_back(live("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256), seconds(3600 + i)));
    }
    auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(backend.ban(bans).empty());
    auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ timing   ] ban() of %zu new decisions: %.3f s (%.0f/s)\n", bans.size(), took,
                static_cast<double>(bans.size()) / took);
    start = std::chrono::steady_clock::now();
    EXPECT_TRUE(backend.ban(bans).empty());
    took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ timing   ] ban() of %zu decisions already there: %.3f s\n", bans.size(), took);
    start = std::chrono::steady_clock::now();
    EXPECT_TRUE(backend.replace_all(bans));
    took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ timing   ] replace_all() of %zu decisions: %.3f s\n", bans.size(), took);
    start = std::chrono::steady_clock::now();
    EXPECT_EQ(enforced_set(backend).size(), bans.size());
    took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ timing   ] enforced() of %zu elements: %.3f s\n", bans.size(), took);
  });
}

}  // namespace
