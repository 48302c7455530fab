// The subscriber's Enforcer, driven against a recording Backend (a test double that records each
// call and can be told to fail for chosen prefixes, or to report what it holds).

#include "subscriber/enforcer.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "printers.hpp"

namespace {

using namespace fleetban::subscriber;
using fleetban::common::Decision;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using fleetban::common::UnixSeconds;

constexpr std::int64_t T = 1'795'650'000;
const UnixSeconds kNow = from_unix(T);

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

// What the backend was asked to do, and how it is to answer; shared with the test.
struct BackendScript {
  std::vector<std::vector<Decision>> ban_calls;
  std::vector<std::vector<IpPrefix>> unban_calls;
  std::set<IpPrefix> failing_bans;
  std::set<IpPrefix> failing_unbans;
  std::optional<std::vector<IpPrefix>> held;  // what enforced() reports; nullopt: cannot tell

  std::vector<IpPrefix> banned() const {
    std::vector<IpPrefix> all;
    for (const auto& call : ban_calls)
      for (const auto& d : call) all.push_back(d.prefix);
    std::sort(all.begin(), all.end());
    return all;
  }
  std::vector<IpPrefix> unbanned() const {
    std::vector<IpPrefix> all;
    for (const auto& call : unban_calls) all.insert(all.end(), call.begin(), call.end());
    std::sort(all.begin(), all.end());
    return all;
  }
  void forget_calls() {
    ban_calls.clear();
    unban_calls.clear();
  }
};

class RecordingBackend final : public Backend {
 public:
  explicit RecordingBackend(std::shared_ptr<BackendScript> script) : script_(std::move(script)) {}

  std::vector<Decision> ban(std::span<const Decision> decisions) override {
    script_->ban_calls.emplace_back(decisions.begin(), decisions.end());
    std::vector<Decision> failed;
    for (const auto& d : decisions) {
      if (script_->failing_bans.contains(d.prefix)) failed.push_back(d);
    }
    return failed;
  }
  std::vector<IpPrefix> unban(std::span<const IpPrefix> prefixes) override {
    script_->unban_calls.emplace_back(prefixes.begin(), prefixes.end());
    std::vector<IpPrefix> failed;
    for (const auto& prefix : prefixes) {
      if (script_->failing_unbans.contains(prefix)) failed.push_back(prefix);
    }
    return failed;
  }
  std::optional<std::vector<IpPrefix>> enforced() override { return script_->held; }

 private:
  std::shared_ptr<BackendScript> script_;
};

struct Subject {
  std::shared_ptr<BackendScript> script = std::make_shared<BackendScript>();
  Enforcer enforcer;

  explicit Subject(std::vector<IpPrefix> allowlist = {}, std::vector<IpPrefix> aggregator = {})
      : enforcer(std::make_unique<RecordingBackend>(script), std::move(allowlist), std::move(aggregator)) {}

  std::vector<IpPrefix> enforced_prefixes() const {
    std::vector<IpPrefix> all;
    for (const auto& [prefix, d] : enforcer.enforced()) all.push_back(prefix);
    std::sort(all.begin(), all.end());  // the table is hashed
    return all;
  }
};

Decision ban_decision(std::string_view ip, std::uint64_t sequence, std::optional<std::int64_t> expires_in = 600) {
  Decision d;
  d.sequence = sequence;
  d.prefix = p(ip);
  d.active = true;
  d.banned_at = kNow;
  if (expires_in) d.expires_at = from_unix(T + *expires_in);
  d.reporters = {"web-01"};
  d.jails = {"sshd"};
  d.ban_count = 1;
  return d;
}

Decision end_decision(std::string_view ip, std::uint64_t sequence) {
  Decision d = ban_decision(ip, sequence);
  d.active = false;
  return d;
}

using Prefixes = std::vector<IpPrefix>;

// --- apply --------------------------------------------------------------------------------------

TEST(Enforcer, AppliesABanThenItsEnd) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.7", 1), kNow);
  ASSERT_EQ(s.script->ban_calls.size(), 1u);
  ASSERT_EQ(s.script->ban_calls[0].size(), 1u);
  EXPECT_EQ(s.script->ban_calls[0][0].prefix, p("192.0.2.7"));
  EXPECT_EQ(s.script->ban_calls[0][0].expires_at, from_unix(T + 600));
  EXPECT_EQ(s.enforced_prefixes(), Prefixes{p("192.0.2.7")});

  s.enforcer.apply(end_decision("192.0.2.7", 2), kNow + std::chrono::seconds(10));
  EXPECT_EQ(s.script->unban_calls, std::vector<Prefixes>{{p("192.0.2.7")}});
  EXPECT_TRUE(s.enforcer.enforced().empty());
  EXPECT_EQ(s.script->ban_calls.size(), 1u);
}

// A batch (decisions that arrived together) is applied as its last decision per prefix says,
// in one ban call and one unban call, whatever order the prefixes came in.
TEST(Enforcer, WithinABatchTheLastDecisionOfEachPrefixWins) {
  Subject s;
  s.enforcer.apply(ban_decision("198.51.100.4", 1), kNow);
  s.enforcer.apply(ban_decision("192.0.2.9", 2), kNow);
  s.script->forget_calls();
  std::vector<Decision> batch = {
      ban_decision("192.0.2.7", 3, 60), end_decision("198.51.100.4", 4),      ban_decision("2001:db8::1", 5),
      end_decision("192.0.2.7", 6),     ban_decision("198.51.100.4", 7, 900), ban_decision("192.0.2.7", 8, 1200),
      end_decision("192.0.2.9", 9),     ban_decision("2001:db8::1", 10, 30),  end_decision("2001:db8::1", 11),
  };
  s.enforcer.apply(batch, kNow);
  // 192.0.2.7: banned (its last says 1200 s); 198.51.100.4: banned again for 900 s, never lifted
  // on the way; 192.0.2.9: lifted; 2001:db8::1: never enforced, its last is an end: nothing.
  ASSERT_EQ(s.script->ban_calls.size(), 1u);
  ASSERT_EQ(s.script->unban_calls, std::vector<Prefixes>{{p("192.0.2.9")}});
  EXPECT_EQ(s.script->banned(), (Prefixes{p("192.0.2.7"), p("198.51.100.4")}));
  for (const auto& d : s.script->ban_calls[0]) {
    EXPECT_EQ(d.sequence, d.prefix == p("192.0.2.7") ? 8u : 7u) << d.prefix.to_string();
    EXPECT_EQ(d.expires_at, from_unix(T + (d.prefix == p("192.0.2.7") ? 1200 : 900))) << d.prefix.to_string();
  }
  EXPECT_EQ(s.enforced_prefixes(), (Prefixes{p("192.0.2.7"), p("198.51.100.4")}));
  EXPECT_EQ(s.enforcer.enforced().at(p("192.0.2.7")).sequence, 8u);
}

TEST(Enforcer, EndOfABanItNeverEnforcedCallsNothing) {
  Subject s;
  s.enforcer.apply(end_decision("192.0.2.7", 2), kNow);
  EXPECT_TRUE(s.script->unban_calls.empty());
  EXPECT_TRUE(s.script->ban_calls.empty());
}

TEST(Enforcer, SameBanAgainIsNotReEnforcedButItsSequenceIsKept) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.7", 1), kNow);
  s.enforcer.apply(ban_decision("192.0.2.7", 5), kNow);
  EXPECT_EQ(s.script->ban_calls.size(), 1u);
  EXPECT_EQ(s.enforcer.enforced().at(p("192.0.2.7")).sequence, 5u);
}

TEST(Enforcer, ChangedBanIsEnforcedAgain) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.7", 1), kNow);
  s.enforcer.apply(ban_decision("192.0.2.7", 2, 1200), kNow);
  Decision more_reporters = ban_decision("192.0.2.7", 3, 1200);
  more_reporters.reporters.push_back("web-02");
  s.enforcer.apply(more_reporters, kNow);
  Decision permanent = ban_decision("192.0.2.7", 4, std::nullopt);
  s.enforcer.apply(permanent, kNow);
  ASSERT_EQ(s.script->ban_calls.size(), 4u);
  EXPECT_FALSE(s.enforcer.enforced().at(p("192.0.2.7")).expires_at);
  EXPECT_TRUE(s.script->unban_calls.empty());
}

TEST(Enforcer, BanThatHasAlreadyExpiredIsNotEnforced) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.7", 1, 0), kNow);
  EXPECT_TRUE(s.script->ban_calls.empty());
  EXPECT_TRUE(s.enforcer.enforced().empty());
}

TEST(Enforcer, HostAllowlistIsHonoured) {
  Subject s({p("203.0.113.0/24"), p("2001:db8:ffff::/48")});
  s.enforcer.apply(ban_decision("203.0.113.5", 1), kNow);
  s.enforcer.apply(ban_decision("203.0.0.0/16", 2), kNow);  // would cover the allowlist
  s.enforcer.apply(ban_decision("2001:db8:ffff:1::9", 3), kNow);
  EXPECT_TRUE(s.script->ban_calls.empty());
  EXPECT_TRUE(s.enforcer.enforced().empty());

  s.enforcer.apply(ban_decision("203.0.114.5", 4), kNow);
  EXPECT_EQ(s.script->banned(), Prefixes{p("203.0.114.5")});
}

// A ban of the aggregator's address or of loopback would cut this host off from the fleet.
TEST(Enforcer, NeverEnforcesTheAggregatorsAddressOrLoopback) {
  Subject s({}, {p("198.51.100.10")});
  s.enforcer.apply(ban_decision("198.51.100.10", 1), kNow);
  s.enforcer.apply(ban_decision("198.51.100.0/24", 2), kNow);
  s.enforcer.apply(ban_decision("127.0.0.1", 3), kNow);
  s.enforcer.apply(ban_decision("::1", 4), kNow);
  s.enforcer.apply(ban_decision("::ffff:127.0.0.2", 5), kNow);
  EXPECT_TRUE(s.script->ban_calls.empty());
  s.enforcer.reconcile({ban_decision("198.51.100.10", 6), ban_decision("127.0.0.0/8", 7), ban_decision("192.0.2.4", 8)},
                       kNow);
  EXPECT_EQ(s.script->banned(), Prefixes{p("192.0.2.4")});
}

// --- reconcile ----------------------------------------------------------------------------------

TEST(Enforcer, ReconcileBansWhatIsMissingUnbansWhatIsGoneAndLeavesTheRest) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.1", 1), kNow);  // gone from the fleet
  s.enforcer.apply(ban_decision("192.0.2.2", 2), kNow);  // unchanged
  s.enforcer.apply(ban_decision("192.0.2.3", 3), kNow);  // extended meanwhile
  s.script->forget_calls();

  s.enforcer.reconcile(
      {ban_decision("192.0.2.2", 9), ban_decision("192.0.2.3", 10, 5000), ban_decision("192.0.2.4", 11)}, kNow);
  EXPECT_EQ(s.script->unbanned(), Prefixes{p("192.0.2.1")});
  EXPECT_EQ(s.script->banned(), (Prefixes{p("192.0.2.3"), p("192.0.2.4")}));
  EXPECT_EQ(s.enforced_prefixes(), (Prefixes{p("192.0.2.2"), p("192.0.2.3"), p("192.0.2.4")}));
  EXPECT_EQ(s.enforcer.enforced().at(p("192.0.2.2")).sequence, 9u);
  EXPECT_EQ(s.enforcer.enforced().at(p("192.0.2.3")).expires_at, from_unix(T + 5000));
}

TEST(Enforcer, ReconcileSkipsInactiveExpiredAndAllowlistedDecisions) {
  Subject s({p("203.0.113.0/24")});
  s.enforcer.reconcile({end_decision("192.0.2.1", 1), ban_decision("192.0.2.2", 2, 0), ban_decision("203.0.113.3", 3),
                        ban_decision("192.0.2.4", 4)},
                       kNow);
  EXPECT_EQ(s.script->banned(), Prefixes{p("192.0.2.4")});
  EXPECT_TRUE(s.script->unban_calls.empty());
}

TEST(Enforcer, EmptySnapshotUnbansEverything) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.1", 1), kNow);
  s.enforcer.apply(ban_decision("2001:db8::1", 2), kNow);
  s.enforcer.reconcile({}, kNow);
  EXPECT_EQ(s.script->unbanned(), (Prefixes{p("192.0.2.1"), p("2001:db8::1")}));
  EXPECT_TRUE(s.enforcer.enforced().empty());
}

TEST(Enforcer, ReconcileWorksFromWhatTheBackendReallyHolds) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.1", 1), kNow);  // still held
  s.enforcer.apply(ban_decision("192.0.2.2", 2), kNow);  // lost: Fail2Ban restarted
  s.script->forget_calls();
  // The backend holds 192.0.2.1 and something the subscriber never banned.
  s.script->held = Prefixes{p("192.0.2.1"), p("198.51.100.9")};

  s.enforcer.reconcile({ban_decision("192.0.2.1", 1), ban_decision("192.0.2.2", 2)}, kNow);
  EXPECT_EQ(s.script->unbanned(), Prefixes{p("198.51.100.9")});
  EXPECT_EQ(s.script->banned(), Prefixes{p("192.0.2.2")});
  EXPECT_EQ(s.enforced_prefixes(), (Prefixes{p("192.0.2.1"), p("192.0.2.2")}));
}

TEST(Enforcer, ReconcileBansWhatTheBackendHoldsButTheSubscriberNeverRecorded) {
  Subject s;
  // After a subscriber restart: the jail holds the ban, the subscriber has no record of it.
  s.script->held = Prefixes{p("192.0.2.1")};
  s.enforcer.reconcile({ban_decision("192.0.2.1", 1)}, kNow);
  EXPECT_TRUE(s.script->unban_calls.empty());
  EXPECT_EQ(s.enforced_prefixes(), Prefixes{p("192.0.2.1")});
}

// --- tick: expiry and retries -------------------------------------------------------------------

TEST(Enforcer, TickLiftsAnExpiredBanExactlyAtItsExpiry) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.7", 1, 600), kNow);
  s.enforcer.apply(ban_decision("192.0.2.8", 2, std::nullopt), kNow);
  s.enforcer.tick(from_unix(T + 599));
  EXPECT_TRUE(s.script->unban_calls.empty());
  s.enforcer.tick(from_unix(T + 600));
  EXPECT_EQ(s.script->unbanned(), Prefixes{p("192.0.2.7")});
  EXPECT_EQ(s.enforced_prefixes(), Prefixes{p("192.0.2.8")});
  s.enforcer.tick(from_unix(T + 100'000'000));
  EXPECT_EQ(s.script->unban_calls.size(), 1u);  // the permanent one stays
}

// tick() looks only at the bans whose time has come (an expiry queue): what was changed since must
// end at its new time, once, and a ban made permanent never.
TEST(Enforcer, ExtendedBanEndsAtItsNewExpiryNotTheOld) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.7", 1, 600), kNow);
  s.enforcer.apply(ban_decision("192.0.2.7", 2, 1200), kNow);
  s.enforcer.tick(from_unix(T + 600));
  EXPECT_TRUE(s.script->unban_calls.empty());
  s.enforcer.tick(from_unix(T + 1200));
  EXPECT_EQ(s.script->unban_calls, std::vector<Prefixes>{{p("192.0.2.7")}});
}

TEST(Enforcer, ShortenedBanEndsAtItsNewExpiryOnce) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.7", 1, 1200), kNow);
  s.enforcer.apply(ban_decision("192.0.2.7", 2, 300), kNow);
  s.enforcer.tick(from_unix(T + 300));
  EXPECT_EQ(s.script->unban_calls, std::vector<Prefixes>{{p("192.0.2.7")}});
  s.enforcer.tick(from_unix(T + 1200));
  EXPECT_EQ(s.script->unban_calls.size(), 1u);
}

TEST(Enforcer, BanMadePermanentNeverEnds) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.7", 1, 600), kNow);
  s.enforcer.apply(ban_decision("192.0.2.7", 2, std::nullopt), kNow);
  s.enforcer.tick(from_unix(T + 100'000'000));
  EXPECT_TRUE(s.script->unban_calls.empty());
  EXPECT_EQ(s.enforced_prefixes(), Prefixes{p("192.0.2.7")});
}

TEST(Enforcer, BansTakenFromASnapshotEndAtTheirExpiry) {
  Subject s;
  s.enforcer.reconcile({ban_decision("192.0.2.7", 1, 600), ban_decision("192.0.2.8", 2, 900)}, kNow);
  s.enforcer.tick(from_unix(T + 600));
  EXPECT_EQ(s.script->unbanned(), Prefixes{p("192.0.2.7")});
  s.enforcer.tick(from_unix(T + 900));
  EXPECT_EQ(s.script->unbanned(), (Prefixes{p("192.0.2.7"), p("192.0.2.8")}));
}

TEST(Enforcer, ManyChangesOfOneBanStillEndItOnceAtTheLastExpiry) {
  Subject s;
  // Thousands of changes leave thousands of stale expiries behind (dropped once they outnumber
  // the bans); only the last one counts.
  for (std::uint64_t i = 1; i <= 5000; ++i) {
    s.enforcer.apply(ban_decision("192.0.2.7", i, static_cast<std::int64_t>(100 + i % 7)), kNow);
  }
  s.enforcer.apply(ban_decision("192.0.2.7", 5001, 50'000), kNow);
  s.enforcer.tick(from_unix(T + 49'999));
  EXPECT_TRUE(s.script->unban_calls.empty());
  s.enforcer.tick(from_unix(T + 50'000));
  EXPECT_EQ(s.script->unban_calls, std::vector<Prefixes>{{p("192.0.2.7")}});
}

TEST(Enforcer, FailedBanIsRetriedOnTick) {
  Subject s;
  s.script->failing_bans = {p("192.0.2.7")};
  s.enforcer.apply(ban_decision("192.0.2.7", 1), kNow);
  EXPECT_EQ(s.script->ban_calls.size(), 1u);
  EXPECT_TRUE(s.enforcer.enforced().empty());

  s.enforcer.tick(from_unix(T + 1));  // still failing
  EXPECT_EQ(s.script->ban_calls.size(), 2u);
  EXPECT_TRUE(s.enforcer.enforced().empty());

  s.script->failing_bans.clear();
  s.enforcer.tick(from_unix(T + 2));
  EXPECT_EQ(s.script->ban_calls.size(), 3u);
  EXPECT_EQ(s.enforced_prefixes(), Prefixes{p("192.0.2.7")});

  s.enforcer.tick(from_unix(T + 3));  // done: no more retries
  EXPECT_EQ(s.script->ban_calls.size(), 3u);
}

TEST(Enforcer, OnlyTheFailedPartOfABatchIsRetried) {
  Subject s;
  s.script->failing_bans = {p("192.0.2.2")};
  s.enforcer.reconcile({ban_decision("192.0.2.1", 1), ban_decision("192.0.2.2", 2)}, kNow);
  EXPECT_EQ(s.enforced_prefixes(), Prefixes{p("192.0.2.1")});
  s.script->failing_bans.clear();
  s.script->forget_calls();
  s.enforcer.tick(from_unix(T + 1));
  EXPECT_EQ(s.script->banned(), Prefixes{p("192.0.2.2")});
}

TEST(Enforcer, FailedBanThatHasSinceExpiredIsNotRetried) {
  Subject s;
  s.script->failing_bans = {p("192.0.2.7")};
  s.enforcer.apply(ban_decision("192.0.2.7", 1, 60), kNow);
  s.script->failing_bans.clear();
  s.enforcer.tick(from_unix(T + 60));
  EXPECT_EQ(s.script->ban_calls.size(), 1u);
  EXPECT_TRUE(s.enforcer.enforced().empty());
}

TEST(Enforcer, RetriesBackOffFromOneSecondDoublingToAMinute) {
  Subject s;
  s.script->failing_bans = {p("192.0.2.7")};
  s.enforcer.apply(ban_decision("192.0.2.7", 1, std::nullopt), kNow);
  std::vector<std::int64_t> retried_at;
  for (std::int64_t t = 1; t <= 300; ++t) {
    std::size_t before = s.script->ban_calls.size();
    s.enforcer.tick(from_unix(T + t));
    if (s.script->ban_calls.size() > before) retried_at.push_back(t);
  }
  EXPECT_EQ(retried_at, (std::vector<std::int64_t>{1, 2, 4, 8, 16, 32, 64, 124, 184, 244}));
}

TEST(Enforcer, FreshFailureAfterAQuietSpellIsRetriedAfterOneSecond) {
  Subject s;
  s.script->failing_bans = {p("192.0.2.7")};
  s.enforcer.apply(ban_decision("192.0.2.7", 1, std::nullopt), kNow);
  for (std::int64_t t = 1; t <= 64; ++t) s.enforcer.tick(from_unix(T + t));  // backed off to a minute
  s.script->failing_bans.clear();
  s.enforcer.tick(from_unix(T + 124));  // the retry succeeds
  ASSERT_EQ(s.enforced_prefixes(), Prefixes{p("192.0.2.7")});
  s.enforcer.tick(from_unix(T + 125));  // nothing pending

  // A new failure starts the back-off over: retried one second later, then two.
  s.script->failing_bans = {p("192.0.2.8")};
  s.enforcer.apply(ban_decision("192.0.2.8", 2, std::nullopt), from_unix(T + 130));
  s.script->forget_calls();
  s.enforcer.tick(from_unix(T + 131));
  EXPECT_EQ(s.script->ban_calls.size(), 1u) << "not retried one second after a fresh failure";
  s.enforcer.tick(from_unix(T + 132));
  s.enforcer.tick(from_unix(T + 133));
  EXPECT_EQ(s.script->ban_calls.size(), 2u);
}

TEST(Enforcer, FailedUnbanIsRetriedOnTick) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.7", 1), kNow);
  s.script->failing_unbans = {p("192.0.2.7")};
  s.enforcer.apply(end_decision("192.0.2.7", 2), kNow);
  EXPECT_EQ(s.script->unban_calls.size(), 1u);
  s.script->failing_unbans.clear();
  s.enforcer.tick(from_unix(T + 1));
  EXPECT_EQ(s.script->unban_calls.size(), 2u);
  EXPECT_TRUE(s.enforcer.enforced().empty());
}

// A backend that is down when a large snapshot comes (Fail2Ban restarting on a host of a fleet
// with many bans) fails it all; the decisions that follow replace or cancel their prefixes'
// retries (one lookup each, not a walk of every pending retry), and the retry asks for each
// prefix once, as its latest decision says.
TEST(Enforcer, ALargeFailedSnapshotIsRetriedOnceEachAsItsLatestDecisionSays) {
  Subject s;
  constexpr int kBans = 100'000;
  auto address = [](int i) { return fmt::format("2001:db8::{:x}:{:x}", i >> 16, i & 0xffff); };
  std::vector<Decision> snapshot;
  for (int i = 0; i < kBans; ++i) {
    snapshot.push_back(ban_decision(address(i), static_cast<std::uint64_t>(i + 1)));
    s.script->failing_bans.insert(snapshot.back().prefix);
  }
  s.enforcer.reconcile(snapshot, kNow);
  EXPECT_TRUE(s.enforcer.enforced().empty());
  EXPECT_EQ(s.enforcer.backend_error(), fmt::format("{} ban(s) and 0 unban(s) failed; retrying", kBans));
  // Still failing: every 50th ban is extended, every 100th lifted (1,000 of each).
  std::uint64_t sequence = kBans;
  for (int i = 0; i < kBans; i += 100) {
    s.enforcer.apply(ban_decision(address(i), ++sequence, 3600), kNow);
    s.enforcer.apply(end_decision(address(i + 50), ++sequence), kNow);
  }
  EXPECT_EQ(s.enforcer.backend_error(), fmt::format("{} ban(s) and 0 unban(s) failed; retrying", kBans - 1000));

  s.script->failing_bans.clear();
  s.script->forget_calls();
  s.enforcer.tick(from_unix(T + 1));
  ASSERT_EQ(s.script->ban_calls.size(), 1u);
  std::map<IpPrefix, std::uint64_t> retried;
  for (const auto& d : s.script->ban_calls.front()) {
    EXPECT_TRUE(retried.emplace(d.prefix, d.sequence).second) << "retried twice: " << d.prefix.to_string();
  }
  EXPECT_EQ(retried.size(), static_cast<std::size_t>(kBans - 1000));
  EXPECT_FALSE(retried.contains(p(address(50))));                              // lifted: not retried
  EXPECT_EQ(retried[p(address(100))], static_cast<std::uint64_t>(kBans + 3));  // extended: its latest
  EXPECT_EQ(retried[p(address(1))], 2u);                                       // untouched: the snapshot's
  EXPECT_EQ(s.enforcer.enforced().size(), static_cast<std::size_t>(kBans - 1000));
  EXPECT_EQ(s.enforcer.enforced().at(p(address(100))).expires_at, from_unix(T + 3600));
  EXPECT_EQ(s.enforcer.backend_error(), "");
}

TEST(Enforcer, NewerUnbanCancelsAPendingBanRetry) {
  Subject s;
  s.script->failing_bans = {p("192.0.2.7")};
  s.enforcer.apply(ban_decision("192.0.2.7", 1), kNow);
  s.script->failing_bans.clear();
  s.enforcer.apply(end_decision("192.0.2.7", 2), kNow);
  s.enforcer.tick(from_unix(T + 1));
  EXPECT_EQ(s.script->ban_calls.size(), 1u);  // only the first, failed attempt
  EXPECT_TRUE(s.script->unban_calls.empty());
  EXPECT_TRUE(s.enforcer.enforced().empty());
}

TEST(Enforcer, NewerBanReplacesAPendingBanRetry) {
  Subject s;
  s.script->failing_bans = {p("192.0.2.7")};
  s.enforcer.apply(ban_decision("192.0.2.7", 1, 600), kNow);
  s.script->failing_bans.clear();
  s.enforcer.apply(ban_decision("192.0.2.7", 2, 1200), kNow);
  s.script->forget_calls();
  s.enforcer.tick(from_unix(T + 1));
  EXPECT_TRUE(s.script->ban_calls.empty());  // the old decision is not retried over the new one
  EXPECT_EQ(s.enforcer.enforced().at(p("192.0.2.7")).expires_at, from_unix(T + 1200));
}

TEST(Enforcer, NewerBanCancelsAPendingUnbanRetry) {
  Subject s;
  s.enforcer.apply(ban_decision("192.0.2.7", 1, 600), kNow);
  s.script->failing_unbans = {p("192.0.2.7")};
  s.enforcer.apply(end_decision("192.0.2.7", 2), kNow);  // fails: an unban retry is pending
  s.script->failing_unbans.clear();
  s.enforcer.apply(ban_decision("192.0.2.7", 3, 1200), kNow);  // the fleet bans it again
  s.script->forget_calls();
  s.enforcer.tick(from_unix(T + 1));
  EXPECT_TRUE(s.script->unban_calls.empty()) << "the stale unban retry lifted the newer ban";
  EXPECT_EQ(s.enforced_prefixes(), Prefixes{p("192.0.2.7")});
}

}  // namespace
