// The fleet policy: how host reports become fleet decisions. Every rule is checked with exact
// instants; T is an arbitrary unix time.

#include "aggregator/fleet_state.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "printers.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::Decision;
using fleetban::common::Event;
using fleetban::common::EventKind;
using fleetban::common::from_unix;
using fleetban::common::from_unix_ms;
using fleetban::common::IpPrefix;
using fleetban::common::UnixSeconds;
using std::chrono::seconds;

constexpr std::int64_t T = 1'795'650'000;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }
UnixSeconds at(std::int64_t unix_seconds) { return from_unix(unix_seconds); }

Event ban(const std::string& host, std::string_view ip, std::int64_t time, std::int64_t bantime,
          const std::string& jail = "sshd") {
  Event e;
  e.id = fleetban::common::random_event_id();
  e.kind = EventKind::ban;
  e.prefix = p(ip);
  e.jail = jail;
  e.host_id = host;
  e.bantime = seconds(bantime);
  e.time = from_unix_ms(time * 1000);
  e.created = e.time;
  return e;
}

// An unban by `host` of its ban that started at `time` for `bantime`, run at `created`.
Event unban(const std::string& host, std::string_view ip, std::int64_t time, std::int64_t bantime, std::int64_t created,
            const std::string& jail = "sshd") {
  Event e = ban(host, ip, time, bantime, jail);
  e.kind = EventKind::unban;
  e.created = from_unix_ms(created * 1000);
  return e;
}

Policy policy(unsigned min_reporters = 1) {
  Policy policy;
  policy.min_reporters = min_reporters;
  policy.report_window = seconds(3600);
  policy.default_bantime = seconds(1800);
  policy.max_bantime = seconds(86400);
  policy.escalation = 2.0;
  policy.host_unban = HostUnban::fleet;
  return policy;
}

// Forgets what is still to be written, so that has_changes() speaks of what follows.
void forget_changes(FleetState& state) {
  state.take_changes([](const FleetRecord&) {});
}

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

// --- a first ban ---------------------------------------------------------------------------------

TEST(FleetState, OneReportBansWhenOneReporterIsEnough) {
  FleetState state(policy(1));
  ApplyResult r = state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  EXPECT_FALSE(r.refused);
  EXPECT_TRUE(state.has_changes());
  ASSERT_TRUE(r.change);
  const Decision& d = *r.change;
  EXPECT_EQ(d.sequence, 1u);
  EXPECT_EQ(d.prefix, p("192.0.2.7"));
  EXPECT_TRUE(d.active);
  EXPECT_EQ(d.banned_at, at(T));
  EXPECT_EQ(d.expires_at, at(T + 600));
  EXPECT_FALSE(d.permanent());
  EXPECT_EQ(d.reporters, std::vector<std::string>{"web-01"});
  EXPECT_EQ(d.jails, std::vector<std::string>{"sshd"});
  EXPECT_EQ(d.ban_count, 1u);

  EXPECT_EQ(state.sequence(), 1u);
  EXPECT_EQ(state.active_count(), 1u);
  ASSERT_EQ(state.active_decisions().size(), 1u);
  EXPECT_EQ(state.active_decisions()[0].expires_at, at(T + 600));
  auto record = state.find(p("192.0.2.7"));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->decision.sequence, 1u);
  EXPECT_EQ(state.next_expiry(), at(T + 600));
}

TEST(FleetState, SequenceContinuesFromTheOneGiven) {
  FleetState state(policy(1), 41);
  auto r = state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->sequence, 42u);
}

TEST(FleetState, BanStartsAtTheReportedTimeNotAtArrival) {
  FleetState state(policy(1));
  auto r = state.apply(ban("web-01", "192.0.2.7", T, 600), at(T + 100));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->expires_at, at(T + 600));
  EXPECT_EQ(r.change->banned_at, at(T + 100));
}

TEST(FleetState, ReportedTimeInTheFutureCountsFromNow) {
  FleetState state(policy(1));
  auto r = state.apply(ban("web-01", "192.0.2.7", T + 5000, 600), at(T));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->expires_at, at(T + 600));
}

TEST(FleetState, ReportThatEndedBeforeItArrivedBansNothing) {
  FleetState state(policy(1));
  auto r = state.apply(ban("web-01", "192.0.2.7", T, 600), at(T + 600));
  EXPECT_FALSE(r.change);
  EXPECT_EQ(state.active_count(), 0u);
  EXPECT_EQ(state.sequence(), 0u);
}

TEST(FleetState, BantimeNotGivenUsesTheDefault) {
  FleetState state(policy(1));
  auto r = state.apply(ban("web-01", "192.0.2.7", T, 0), at(T));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->expires_at, at(T + 1800));
}

TEST(FleetState, BantimeAboveTheMaximumIsCapped) {
  FleetState state(policy(1));
  auto r = state.apply(ban("web-01", "192.0.2.7", T, 10 * 86400), at(T));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->expires_at, at(T + 86400));
}

TEST(FleetState, PermanentBanHasNoExpiry) {
  FleetState state(policy(1));
  auto r = state.apply(ban("web-01", "192.0.2.7", T, -1), at(T));
  ASSERT_TRUE(r.change);
  EXPECT_TRUE(r.change->active);
  EXPECT_TRUE(r.change->permanent());
  EXPECT_FALSE(r.change->expires_at);
  EXPECT_FALSE(state.next_expiry());
  EXPECT_TRUE(state.expire(at(T + 100LL * 365 * 86400)).empty());
  EXPECT_EQ(state.active_count(), 1u);
}

TEST(FleetState, PrefixBanWorksLikeAnAddressBan) {
  FleetState state(policy(1));
  auto r = state.apply(ban("web-01", "2001:db8:1::/48", T, 600), at(T));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->prefix, p("2001:db8:1::/48"));
  EXPECT_FALSE(state.find(p("2001:db8:1::")));  // records are per prefix, exactly
}

// --- min_reporters and report_window -------------------------------------------------------------

TEST(FleetState, OneHostIsNotEnoughWhenTwoAreRequired) {
  FleetState state(policy(2));
  auto r = state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  EXPECT_FALSE(r.refused);
  EXPECT_TRUE(state.has_changes());  // the report is remembered
  EXPECT_FALSE(r.change);
  EXPECT_EQ(state.active_count(), 0u);
  EXPECT_EQ(state.sequence(), 0u);
  ASSERT_TRUE(state.find(p("192.0.2.7")));
  EXPECT_EQ(state.find(p("192.0.2.7"))->reports.size(), 1u);
}

TEST(FleetState, SameHostTwiceIsNotEnough) {
  FleetState state(policy(2));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  EXPECT_FALSE(state.apply(ban("web-01", "192.0.2.7", T + 10, 600), at(T + 10)).change);
  EXPECT_FALSE(state.apply(ban("web-01", "192.0.2.7", T + 20, 600, "nginx"), at(T + 20)).change);
  EXPECT_EQ(state.active_count(), 0u);
}

TEST(FleetState, SecondHostWithinTheWindowBans) {
  FleetState state(policy(2));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  std::int64_t t2 = T + 3600 - 1;
  auto r = state.apply(ban("web-02", "192.0.2.7", t2, 300, "nginx"), at(t2));
  ASSERT_TRUE(r.change);
  EXPECT_TRUE(r.change->active);
  EXPECT_EQ(r.change->sequence, 1u);
  EXPECT_EQ(sorted(r.change->reporters), (std::vector<std::string>{"web-01", "web-02"}));
  EXPECT_EQ(sorted(r.change->jails), (std::vector<std::string>{"nginx", "sshd"}));
  EXPECT_EQ(r.change->expires_at, at(t2 + 600));  // the longest reported bantime
  EXPECT_EQ(state.active_count(), 1u);
}

TEST(FleetState, SecondHostJustOutsideTheWindowDoesNotBan) {
  FleetState state(policy(2));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  std::int64_t t2 = T + 3600 + 1;
  auto r = state.apply(ban("web-02", "192.0.2.7", t2, 600), at(t2));
  EXPECT_FALSE(r.change);
  EXPECT_EQ(state.active_count(), 0u);
  // The late report itself still counts: a third host soon after bans, without web-01.
  auto third = state.apply(ban("web-03", "192.0.2.7", t2 + 5, 600), at(t2 + 5));
  ASSERT_TRUE(third.change);
  EXPECT_EQ(sorted(third.change->reporters), (std::vector<std::string>{"web-02", "web-03"}));
}

TEST(FleetState, ExpiryUnbanDoesNotWithdrawAPendingReport) {
  // web-01's own Fail2Ban ban ends after 600 s, but its report counts for the whole report_window.
  FleetState state(policy(2));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  auto expiry = state.apply(unban("web-01", "192.0.2.7", T, 600, T + 600), at(T + 600));
  EXPECT_FALSE(expiry.change);
  auto r = state.apply(ban("web-02", "192.0.2.7", T + 700, 600), at(T + 700));
  ASSERT_TRUE(r.change) << "an expiry withdrew web-01's report";
  EXPECT_EQ(sorted(r.change->reporters), (std::vector<std::string>{"web-01", "web-02"}));
}

TEST(FleetState, EarlyUnbanWithdrawsAPendingReport) {
  FleetState state(policy(2));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.apply(unban("web-01", "192.0.2.7", T, 600, T + 60), at(T + 60));
  EXPECT_FALSE(state.apply(ban("web-02", "192.0.2.7", T + 100, 600), at(T + 100)).change);
}

TEST(FleetState, ReportsThatMadeABanDoNotCountTowardTheNext) {
  FleetState state(policy(2));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  ASSERT_TRUE(state.apply(ban("web-02", "192.0.2.7", T + 1, 600), at(T + 1)).change);
  ASSERT_EQ(state.expire(at(T + 601)).size(), 1u);
  EXPECT_FALSE(state.apply(ban("web-01", "192.0.2.7", T + 700, 600), at(T + 700)).change);
  EXPECT_TRUE(state.apply(ban("web-02", "192.0.2.7", T + 710, 600), at(T + 710)).change);
}

// --- more reports of an active ban ---------------------------------------------------------------

TEST(FleetState, LongerSecondReportExtendsAndCreditsTheReporter) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  forget_changes(state);
  auto r = state.apply(ban("web-02", "192.0.2.7", T + 100, 600, "nginx"), at(T + 100));
  EXPECT_TRUE(state.has_changes());
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->sequence, 2u);
  EXPECT_EQ(r.change->expires_at, at(T + 700));
  EXPECT_EQ(r.change->banned_at, at(T));
  EXPECT_EQ(r.change->ban_count, 1u);  // the same ban, extended
  EXPECT_EQ(sorted(r.change->reporters), (std::vector<std::string>{"web-01", "web-02"}));
  EXPECT_EQ(sorted(r.change->jails), (std::vector<std::string>{"nginx", "sshd"}));
  EXPECT_EQ(state.active_count(), 1u);
  EXPECT_EQ(state.sequence(), 2u);
  EXPECT_EQ(state.find(p("192.0.2.7"))->decision.sequence, 2u);
}

TEST(FleetState, ShorterSecondReportFromTheSameReporterChangesNothing) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  forget_changes(state);
  auto r = state.apply(ban("web-01", "192.0.2.7", T + 10, 60), at(T + 10));
  EXPECT_FALSE(r.refused);
  EXPECT_FALSE(r.change);
  EXPECT_FALSE(state.has_changes());
  EXPECT_EQ(state.sequence(), 1u);
  EXPECT_EQ(state.find(p("192.0.2.7"))->decision.expires_at, at(T + 600));
}

TEST(FleetState, ShorterReportFromANewHostOnlyCreditsIt) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  auto r = state.apply(ban("web-02", "192.0.2.7", T + 10, 60), at(T + 10));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->expires_at, at(T + 600));
  EXPECT_EQ(r.change->sequence, 2u);
  EXPECT_EQ(sorted(r.change->reporters), (std::vector<std::string>{"web-01", "web-02"}));
}

TEST(FleetState, PermanentSecondReportMakesTheBanPermanent) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  auto r = state.apply(ban("web-01", "192.0.2.7", T + 10, -1), at(T + 10));
  ASSERT_TRUE(r.change);
  EXPECT_TRUE(r.change->permanent());
  EXPECT_TRUE(state.expire(at(T + 600)).empty());  // the old expiry no longer applies
  EXPECT_FALSE(state.next_expiry());
  EXPECT_EQ(state.active_count(), 1u);
}

TEST(FleetState, TimedReportDoesNotShortenAPermanentBan) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, -1), at(T));
  auto r = state.apply(ban("web-01", "192.0.2.7", T + 10, 600), at(T + 10));
  EXPECT_FALSE(r.change);
  EXPECT_TRUE(state.find(p("192.0.2.7"))->decision.permanent());
}

// --- expiry -------------------------------------------------------------------------------------

TEST(FleetState, ExpireEndsABanExactlyAtItsExpiry) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  EXPECT_EQ(state.next_expiry(), at(T + 600));
  EXPECT_TRUE(state.expire(at(T + 599)).empty());
  EXPECT_EQ(state.active_count(), 1u);
  EXPECT_EQ(state.next_expiry(), at(T + 600));

  auto ended = state.expire(at(T + 600));
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].prefix, p("192.0.2.7"));
  EXPECT_FALSE(ended[0].active);
  EXPECT_EQ(ended[0].sequence, 2u);
  EXPECT_EQ(state.sequence(), 2u);
  EXPECT_EQ(state.active_count(), 0u);
  EXPECT_TRUE(state.active_decisions().empty());
  EXPECT_FALSE(state.next_expiry());
  EXPECT_TRUE(state.expire(at(T + 1000)).empty());  // ended once only
}

// A wave of 25,000 bans with one bantime ends in one second: at most kMaxExpiriesPerCall a turn,
// earliest first, the rest left due for the next turns.
TEST(FleetState, ExpireEndsAtMostItsLimitEarliestFirstAndLeavesTheRestDue) {
  FleetState state(policy(1));
  const int n = 25'000;
  for (int i = 0; i < n; ++i) {
    // The first 100 expire a second earlier than the wave.
    state.apply(ban("web-01", fmt::format("2001:db8::{:x}", i + 1), T, i < 100 ? 599 : 600), at(T));
  }
  const auto now = at(T + 700);
  std::vector<std::size_t> sizes;
  std::set<IpPrefix> ended;
  for (int turn = 0; turn < 5; ++turn) {
    auto decisions = state.expire(now);
    sizes.push_back(decisions.size());
    if (turn == 0) {
      ASSERT_GE(decisions.size(), 100u);
      for (int i = 0; i < 100; ++i) {
        EXPECT_LE(decisions[i].prefix, p("2001:db8::64")) << "the earliest end first";
      }
    }
    for (const auto& d : decisions) {
      EXPECT_FALSE(d.active);
      EXPECT_TRUE(ended.insert(d.prefix).second) << "ended twice: " << d.prefix.to_string();
    }
    if (ended.size() < static_cast<std::size_t>(n)) {
      EXPECT_LE(state.next_expiry(), now) << "the rest are due at once";
    }
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{FleetState::kMaxExpiriesPerCall, FleetState::kMaxExpiriesPerCall,
                                             n - 2 * FleetState::kMaxExpiriesPerCall, 0, 0}));
  EXPECT_EQ(state.active_count(), 0u);
  EXPECT_FALSE(state.next_expiry());
}

TEST(FleetState, NextExpiryIsTheEarliestLiveOne) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.1", T, 900), at(T));
  state.apply(ban("web-01", "192.0.2.2", T, 300), at(T));
  state.apply(ban("web-01", "192.0.2.3", T, 600), at(T));
  EXPECT_EQ(state.next_expiry(), at(T + 300));
  // Extending the earliest one makes the next the 600 s ban.
  state.apply(ban("web-02", "192.0.2.2", T + 10, 1000), at(T + 10));
  EXPECT_EQ(state.next_expiry(), at(T + 600));
  EXPECT_TRUE(state.expire(at(T + 300)).empty());  // the stale entry ends nothing

  auto ended = state.expire(at(T + 1010));
  ASSERT_EQ(ended.size(), 3u);
  EXPECT_EQ(ended[0].prefix, p("192.0.2.3"));
  EXPECT_EQ(ended[1].prefix, p("192.0.2.1"));
  EXPECT_EQ(ended[2].prefix, p("192.0.2.2"));
  EXPECT_FALSE(state.next_expiry());
}

TEST(FleetState, ExtendedBanIsNotEndedByItsOldExpiry) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.apply(ban("web-02", "192.0.2.7", T + 100, 600), at(T + 100));
  EXPECT_TRUE(state.expire(at(T + 600)).empty());
  EXPECT_EQ(state.next_expiry(), at(T + 700));
  EXPECT_EQ(state.expire(at(T + 700)).size(), 1u);
}

TEST(FleetState, UnbannedAddressIsNotExpiredAgain) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  ASSERT_TRUE(state.apply(unban("web-01", "192.0.2.7", T, 600, T + 10), at(T + 10)).change);
  EXPECT_FALSE(state.next_expiry());
  EXPECT_TRUE(state.expire(at(T + 600)).empty());
  EXPECT_EQ(state.sequence(), 2u);
}

// --- escalation ---------------------------------------------------------------------------------

TEST(FleetState, ReOffenderIsBannedForEscalationTimesTheLastBan) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.expire(at(T + 600));

  auto second = state.apply(ban("web-01", "192.0.2.7", T + 1000, 600), at(T + 1000));
  ASSERT_TRUE(second.change);
  EXPECT_EQ(second.change->ban_count, 2u);
  EXPECT_EQ(second.change->expires_at, at(T + 1000 + 1200));
  state.expire(at(T + 2200));

  auto third = state.apply(ban("web-02", "192.0.2.7", T + 3000, 600), at(T + 3000));
  ASSERT_TRUE(third.change);
  EXPECT_EQ(third.change->ban_count, 3u);
  EXPECT_EQ(third.change->expires_at, at(T + 3000 + 2400));
}

TEST(FleetState, EscalationIsCappedAtTheMaximumBantime) {
  Policy capped = policy(1);
  capped.max_bantime = seconds(1000);
  FleetState state(capped);
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.expire(at(T + 600));
  auto second = state.apply(ban("web-01", "192.0.2.7", T + 1000, 600), at(T + 1000));
  ASSERT_TRUE(second.change);
  EXPECT_EQ(second.change->expires_at, at(T + 1000 + 1000));
}

TEST(FleetState, ReportLongerThanTheEscalatedBanWins) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.expire(at(T + 600));
  auto second = state.apply(ban("web-01", "192.0.2.7", T + 1000, 5000), at(T + 1000));
  ASSERT_TRUE(second.change);
  EXPECT_EQ(second.change->expires_at, at(T + 1000 + 5000));
}

TEST(FleetState, EscalationOfOneKeepsTheReportedBantime) {
  Policy flat = policy(1);
  flat.escalation = 1.0;
  FleetState state(flat);
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.expire(at(T + 600));
  auto second = state.apply(ban("web-01", "192.0.2.7", T + 1000, 600), at(T + 1000));
  ASSERT_TRUE(second.change);
  EXPECT_EQ(second.change->expires_at, at(T + 1600));
}

TEST(FleetState, EscalationIsPerAddress) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.expire(at(T + 600));
  auto other = state.apply(ban("web-01", "192.0.2.8", T + 1000, 600), at(T + 1000));
  ASSERT_TRUE(other.change);
  EXPECT_EQ(other.change->ban_count, 1u);
  EXPECT_EQ(other.change->expires_at, at(T + 1600));
}

// --- unbans -------------------------------------------------------------------------------------

TEST(FleetState, EarlyUnbanEndsTheFleetBanWhenHostUnbanIsFleet) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  forget_changes(state);
  auto r = state.apply(unban("web-01", "192.0.2.7", T, 600, T + 599), at(T + 599));
  EXPECT_FALSE(r.refused);
  EXPECT_TRUE(state.has_changes());
  ASSERT_TRUE(r.change);
  EXPECT_FALSE(r.change->active);
  EXPECT_EQ(r.change->prefix, p("192.0.2.7"));
  EXPECT_EQ(r.change->sequence, 2u);
  EXPECT_EQ(state.active_count(), 0u);
  EXPECT_TRUE(state.active_decisions().empty());
}

TEST(FleetState, EarlyUnbanByAnyHostEndsTheFleetBanWhenHostUnbanIsFleet) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  auto r = state.apply(unban("web-09", "192.0.2.7", T + 5, 600, T + 50), at(T + 50));
  ASSERT_TRUE(r.change);
  EXPECT_FALSE(r.change->active);
}

TEST(FleetState, UnbanAtTheEndOfItsBantimeIsAnExpiry) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  auto at_end = state.apply(unban("web-01", "192.0.2.7", T, 600, T + 600), at(T + 600));
  EXPECT_FALSE(at_end.change);
  auto after_end = state.apply(unban("web-01", "192.0.2.7", T, 600, T + 900), at(T + 900));
  EXPECT_FALSE(after_end.change);
  EXPECT_EQ(state.sequence(), 1u);
  EXPECT_TRUE(state.find(p("192.0.2.7"))->decision.active);
}

TEST(FleetState, ExpiryOfOneHostsBanDoesNotEndALongerFleetBan) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.apply(ban("web-02", "192.0.2.7", T + 10, 3000), at(T + 10));
  EXPECT_FALSE(state.apply(unban("web-01", "192.0.2.7", T, 600, T + 600), at(T + 600)).change);
  EXPECT_EQ(state.active_count(), 1u);
}

TEST(FleetState, UnbanOfAnUnknownAddressChangesNothing) {
  FleetState state(policy(1));
  auto r = state.apply(unban("web-01", "192.0.2.7", T, 600, T + 10), at(T + 10));
  EXPECT_FALSE(r.change);
  EXPECT_FALSE(state.has_changes());
  EXPECT_EQ(state.sequence(), 0u);
}

TEST(FleetState, UnbanOfAnEndedBanChangesNothing) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.expire(at(T + 600));
  EXPECT_FALSE(state.apply(unban("web-01", "192.0.2.7", T, 600, T + 300), at(T + 700)).change);
  EXPECT_EQ(state.sequence(), 2u);
}

TEST(FleetState, RetractWithTwoReportersOnlyWithdrawsThatReporter) {
  Policy retract = policy(1);
  retract.host_unban = HostUnban::retract;
  FleetState state(retract);
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.apply(ban("web-02", "192.0.2.7", T + 10, 600), at(T + 10));

  auto r = state.apply(unban("web-01", "192.0.2.7", T, 600, T + 100), at(T + 100));
  ASSERT_TRUE(r.change);
  EXPECT_TRUE(r.change->active);
  EXPECT_EQ(r.change->reporters, std::vector<std::string>{"web-02"});
  EXPECT_EQ(r.change->expires_at, at(T + 610));
  EXPECT_EQ(r.change->sequence, 3u);
  EXPECT_EQ(state.active_count(), 1u);

  auto last = state.apply(unban("web-02", "192.0.2.7", T + 10, 600, T + 200), at(T + 200));
  ASSERT_TRUE(last.change);
  EXPECT_FALSE(last.change->active);
  EXPECT_EQ(last.change->sequence, 4u);
  EXPECT_EQ(state.active_count(), 0u);
}

TEST(FleetState, RetractWithOneReporterEndsTheBan) {
  Policy retract = policy(1);
  retract.host_unban = HostUnban::retract;
  FleetState state(retract);
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  auto r = state.apply(unban("web-01", "192.0.2.7", T, 600, T + 100), at(T + 100));
  ASSERT_TRUE(r.change);
  EXPECT_FALSE(r.change->active);
  EXPECT_EQ(state.active_count(), 0u);
}

TEST(FleetState, RetractByAHostThatNeverReportedChangesNothing) {
  Policy retract = policy(1);
  retract.host_unban = HostUnban::retract;
  FleetState state(retract);
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  auto r = state.apply(unban("web-09", "192.0.2.7", T, 600, T + 100), at(T + 100));
  EXPECT_FALSE(r.change);
  EXPECT_TRUE(state.find(p("192.0.2.7"))->decision.active);
  EXPECT_EQ(state.sequence(), 1u);
}

// --- refusals -----------------------------------------------------------------------------------

TEST(FleetState, AllowlistedAddressesAndOverlappingPrefixesAreRefused) {
  Policy allow = policy(1);
  allow.allowlist = {p("10.0.0.0/8"), p("192.0.2.9"), p("2001:db8:ffff::/48")};
  FleetState state(allow);
  for (const char* ip :
       {"192.0.2.9", "10.1.2.3", "10.20.0.0/16", "192.0.2.0/24", "2001:db8:ffff:1::5", "2001:db8::/32"}) {
    auto r = state.apply(ban("web-01", ip, T, 600), at(T));
    ASSERT_TRUE(r.refused) << ip;
    EXPECT_NE(r.refused->find("allowlisted"), std::string::npos) << *r.refused;
    EXPECT_EQ(r.refused_because, RejectReason::allowlisted) << ip;
    EXPECT_FALSE(r.change) << ip;
    EXPECT_FALSE(state.has_changes()) << ip;
    EXPECT_FALSE(state.find(p(ip))) << ip;
  }
  EXPECT_EQ(state.sequence(), 0u);
  EXPECT_EQ(state.active_count(), 0u);
  // Next to the allowlist is fine.
  EXPECT_TRUE(state.apply(ban("web-01", "192.0.2.10", T, 600), at(T)).change);
  EXPECT_TRUE(state.apply(ban("web-01", "11.0.0.1", T, 600), at(T)).change);
}

TEST(FleetState, PrefixesShorterThanTheMinimumAreRefused) {
  Policy strict = policy(1);
  strict.min_prefix_v4 = 16;
  strict.min_prefix_v6 = 32;
  FleetState state(strict);
  for (const char* ip : {"10.0.0.0/15", "0.0.0.0/0", "2001:d00::/24", "2000::/31", "::/0"}) {
    auto r = state.apply(ban("web-01", ip, T, 600), at(T));
    ASSERT_TRUE(r.refused) << ip;
    EXPECT_EQ(r.refused_because, RejectReason::prefix_too_short) << ip;
    EXPECT_FALSE(r.change) << ip;
  }
  EXPECT_TRUE(state.apply(ban("web-01", "10.0.0.0/16", T, 600), at(T)).change);
  EXPECT_TRUE(state.apply(ban("web-01", "2001:db8::/32", T, 600), at(T)).change);
  EXPECT_EQ(state.active_count(), 2u);
}

// --- operator bans and unbans (`fleetban ban`/`unban`) ------------------------------------------

Event operator_event(EventKind kind, std::string_view ip, std::int64_t now, std::int64_t bantime) {
  Event e = ban("alice", ip, now, bantime, "manual");
  e.kind = kind;
  e.operator_action = true;
  e.reason = "seen in the web logs";
  return e;
}

TEST(FleetState, OperatorBanNeedsNoOtherReporter) {
  FleetState state(policy(3));
  auto r = state.apply(operator_event(EventKind::ban, "192.0.2.7", T, 3600), at(T));
  ASSERT_TRUE(r.change);
  EXPECT_TRUE(r.change->active);
  EXPECT_EQ(r.change->sequence, 1u);
  EXPECT_EQ(r.change->expires_at, at(T + 3600));
  EXPECT_EQ(r.change->reporters, std::vector<std::string>{"alice"});
  EXPECT_EQ(r.change->ban_count, 1u);
  EXPECT_EQ(r.change->reason, "seen in the web logs");
  EXPECT_EQ(state.active_count(), 1u);
  EXPECT_EQ(state.next_expiry(), at(T + 3600));
}

TEST(FleetState, OperatorBanUsesTheDefaultAndTheMaximumBantime) {
  FleetState state(policy(1));
  auto by_default = state.apply(operator_event(EventKind::ban, "192.0.2.7", T, 0), at(T));
  ASSERT_TRUE(by_default.change);
  EXPECT_EQ(by_default.change->expires_at, at(T + 1800));
  auto capped = state.apply(operator_event(EventKind::ban, "192.0.2.8", T, 10 * 86400), at(T));
  ASSERT_TRUE(capped.change);
  EXPECT_EQ(capped.change->expires_at, at(T + 86400));
  auto permanent = state.apply(operator_event(EventKind::ban, "192.0.2.9", T, -1), at(T));
  ASSERT_TRUE(permanent.change);
  EXPECT_TRUE(permanent.change->permanent());
}

TEST(FleetState, OperatorBanIsNotEscalated) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.expire(at(T + 600));
  auto r = state.apply(operator_event(EventKind::ban, "192.0.2.7", T + 1000, 600), at(T + 1000));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->expires_at, at(T + 1600));
  EXPECT_EQ(r.change->ban_count, 2u);
}

TEST(FleetState, OperatorBanOfABannedAddressSetsItsExpiry) {
  FleetState state(policy(1));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  auto r = state.apply(operator_event(EventKind::ban, "192.0.2.7", T + 10, 60), at(T + 10));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->sequence, 2u);
  EXPECT_EQ(r.change->expires_at, at(T + 70));
  EXPECT_EQ(r.change->ban_count, 1u);  // the same ban
  EXPECT_EQ(sorted(r.change->reporters), (std::vector<std::string>{"alice", "web-01"}));
  EXPECT_EQ(state.active_count(), 1u);
  EXPECT_EQ(state.next_expiry(), at(T + 70));
  EXPECT_EQ(state.expire(at(T + 70)).size(), 1u);
  EXPECT_EQ(state.active_count(), 0u);
}

TEST(FleetState, OperatorUnbanEndsTheBanWhateverTheHostUnbanPolicy) {
  Policy retract = policy(1);
  retract.host_unban = HostUnban::retract;
  FleetState state(retract);
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.apply(ban("web-02", "192.0.2.7", T, 600), at(T));
  auto r = state.apply(operator_event(EventKind::unban, "192.0.2.7", T + 10, 0), at(T + 10));
  ASSERT_TRUE(r.change);
  EXPECT_FALSE(r.change->active);
  EXPECT_EQ(r.change->sequence, 3u);
  EXPECT_EQ(state.active_count(), 0u);
  EXPECT_FALSE(state.next_expiry());
}

TEST(FleetState, OperatorUnbanOfWhatIsNotBannedChangesNothing) {
  FleetState state(policy(1));
  EXPECT_FALSE(state.apply(operator_event(EventKind::unban, "192.0.2.7", T, 0), at(T)).change);
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  state.expire(at(T + 600));
  EXPECT_FALSE(state.apply(operator_event(EventKind::unban, "192.0.2.7", T + 700, 0), at(T + 700)).change);
  EXPECT_EQ(state.sequence(), 2u);
}

TEST(FleetState, OperatorBanOfAnAllowlistedOrShortPrefixIsRefused) {
  Policy allow = policy(1);
  allow.allowlist = {p("10.0.0.0/8")};
  FleetState state(allow);
  auto allowlisted = state.apply(operator_event(EventKind::ban, "10.1.2.3", T, 600), at(T));
  EXPECT_TRUE(allowlisted.refused);
  EXPECT_EQ(allowlisted.refused_because, RejectReason::allowlisted);
  EXPECT_FALSE(allowlisted.change);
  auto short_prefix = state.apply(operator_event(EventKind::ban, "192.0.0.0/8", T, 600), at(T));
  EXPECT_TRUE(short_prefix.refused);
  EXPECT_EQ(short_prefix.refused_because, RejectReason::prefix_too_short);
  EXPECT_EQ(state.active_count(), 0u);
}

// --- prefix promotion (promote_after) -----------------------------------------------------------

Policy promoting(unsigned promote_after) {
  Policy p = policy(1);
  p.promote_after = promote_after;
  return p;
}

TEST(FleetState, PromotionBansThePrefixAndEndsTheAddressesInIt) {
  FleetState state(promoting(3));
  EXPECT_TRUE(state.apply(ban("web-01", "192.0.2.1", T, 600), at(T)).more_changes.empty());
  EXPECT_TRUE(state.apply(ban("web-02", "192.0.2.2", T, 900, "nginx"), at(T)).more_changes.empty());
  auto r = state.apply(ban("web-03", "192.0.2.3", T + 5, 300), at(T + 5));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->prefix, p("192.0.2.3"));
  EXPECT_EQ(r.change->sequence, 3u);
  ASSERT_EQ(r.more_changes.size(), 4u);

  const Decision& prefix = r.more_changes[0];
  EXPECT_EQ(prefix.prefix, p("192.0.2.0/24"));
  EXPECT_TRUE(prefix.active);
  EXPECT_EQ(prefix.sequence, 4u);
  EXPECT_EQ(prefix.expires_at, at(T + 900));  // the longest member ban
  EXPECT_EQ(sorted(prefix.reporters), (std::vector<std::string>{"web-01", "web-02", "web-03"}));
  EXPECT_EQ(sorted(prefix.jails), (std::vector<std::string>{"nginx", "sshd"}));

  std::vector<IpPrefix> ended;
  for (std::size_t i = 1; i < r.more_changes.size(); ++i) {
    EXPECT_FALSE(r.more_changes[i].active);
    EXPECT_EQ(r.more_changes[i].sequence, 4u + i);
    ended.push_back(r.more_changes[i].prefix);
  }
  std::sort(ended.begin(), ended.end());
  EXPECT_EQ(ended, (std::vector<IpPrefix>{p("192.0.2.1"), p("192.0.2.2"), p("192.0.2.3")}));

  EXPECT_EQ(state.sequence(), 7u);
  EXPECT_EQ(state.active_count(), 1u);
  ASSERT_EQ(state.active_decisions().size(), 1u);
  EXPECT_EQ(state.active_decisions()[0].prefix, p("192.0.2.0/24"));
  EXPECT_EQ(state.next_expiry(), at(T + 900));
  EXPECT_EQ(state.expire(at(T + 900)).size(), 1u);
  EXPECT_EQ(state.active_count(), 0u);
}

TEST(FleetState, NoPromotionBelowTheThresholdOrAcrossPrefixes) {
  FleetState state(promoting(3));
  state.apply(ban("web-01", "192.0.2.1", T, 600), at(T));
  state.apply(ban("web-01", "192.0.2.2", T, 600), at(T));
  auto other = state.apply(ban("web-01", "192.0.3.3", T, 600), at(T));  // another /24
  EXPECT_TRUE(other.more_changes.empty());
  EXPECT_EQ(state.active_count(), 3u);
  EXPECT_FALSE(state.find(p("192.0.2.0/24")));
}

TEST(FleetState, NoPromotionWhenPromoteAfterIsZero) {
  FleetState state(promoting(0));
  for (int i = 1; i <= 20; ++i) {
    auto r = state.apply(ban("web-01", "192.0.2." + std::to_string(i), T, 600), at(T));
    EXPECT_TRUE(r.more_changes.empty());
  }
  EXPECT_EQ(state.active_count(), 20u);
}

TEST(FleetState, EndedBansDoNotCountTowardPromotion) {
  FleetState state(promoting(3));
  state.apply(ban("web-01", "192.0.2.1", T, 60), at(T));
  state.apply(ban("web-01", "192.0.2.2", T, 600), at(T));
  state.expire(at(T + 60));
  auto r = state.apply(ban("web-01", "192.0.2.3", T + 70, 600), at(T + 70));
  EXPECT_TRUE(r.more_changes.empty());
  EXPECT_EQ(state.active_count(), 2u);
}

TEST(FleetState, PromotionWorksOnIpv6Slash64) {
  FleetState state(promoting(2));
  state.apply(ban("web-01", "2001:db8:1:2::5", T, 600), at(T));
  auto r = state.apply(ban("web-01", "2001:db8:1:2:ffff::9", T, 600), at(T));
  ASSERT_FALSE(r.more_changes.empty());
  EXPECT_EQ(r.more_changes[0].prefix, p("2001:db8:1:2::/64"));
  EXPECT_TRUE(r.more_changes[0].active);
}

TEST(FleetState, ReportInsideAPromotedPrefixExtendsThePrefixBan) {
  FleetState state(promoting(2));
  state.apply(ban("web-01", "192.0.2.1", T, 600), at(T));
  state.apply(ban("web-01", "192.0.2.2", T, 600), at(T));
  auto r = state.apply(ban("web-02", "192.0.2.77", T + 10, 3600), at(T + 10));
  ASSERT_TRUE(r.change);
  EXPECT_EQ(r.change->prefix, p("192.0.2.0/24"));
  EXPECT_EQ(r.change->expires_at, at(T + 3610));
  EXPECT_EQ(state.active_count(), 1u);
  auto address = state.find(p("192.0.2.77"));
  EXPECT_TRUE(!address || !address->decision.active);
}

TEST(FleetState, PermanentMemberMakesThePromotedBanPermanent) {
  FleetState state(promoting(2));
  state.apply(ban("web-01", "192.0.2.1", T, -1), at(T));
  auto r = state.apply(ban("web-01", "192.0.2.2", T, 600), at(T));
  ASSERT_FALSE(r.more_changes.empty());
  EXPECT_TRUE(r.more_changes[0].permanent());
}

TEST(FleetState, PromotionNeverCoversAnAllowlistedAddress) {
  Policy allow = promoting(2);
  allow.allowlist = {p("192.0.2.9")};
  FleetState state(allow);
  state.apply(ban("web-01", "192.0.2.1", T, 600), at(T));
  auto r = state.apply(ban("web-01", "192.0.2.2", T, 600), at(T));
  for (const auto& d : r.more_changes) {
    EXPECT_FALSE(d.active && d.prefix.contains(p("192.0.2.9"))) << d.prefix.to_string() << " covers the allowlist";
  }
  EXPECT_EQ(state.active_count(), 2u);
}

TEST(FleetState, PromotionNeverMakesAPrefixShorterThanTheMinimum) {
  Policy strict = promoting(2);
  strict.min_prefix_v4 = 28;
  FleetState state(strict);
  state.apply(ban("web-01", "192.0.2.1", T, 600), at(T));
  auto r = state.apply(ban("web-01", "192.0.2.2", T, 600), at(T));
  for (const auto& d : r.more_changes) {
    EXPECT_FALSE(d.active && d.prefix.length() < 28) << d.prefix.to_string() << " is shorter than /28";
  }
  EXPECT_EQ(state.active_count(), 2u);
}

TEST(FleetState, PromotionGroupsAreRebuiltOnRestore) {
  FleetState before(promoting(3));
  std::vector<FleetRecord> saved;
  before.apply(ban("web-01", "192.0.2.1", T, 600), at(T));
  before.apply(ban("web-01", "192.0.2.2", T, 600), at(T));
  saved.push_back(*before.find(p("192.0.2.1")));
  saved.push_back(*before.find(p("192.0.2.2")));

  FleetState after(promoting(3));
  for (auto& record : saved) after.restore(record);
  auto r = after.apply(ban("web-01", "192.0.2.3", T + 1, 600), at(T + 1));
  ASSERT_FALSE(r.more_changes.empty());
  EXPECT_EQ(r.more_changes[0].prefix, p("192.0.2.0/24"));
}

TEST(FleetState, ASecondPromotionOfAGroupIsANewBanOfItsNewMembers) {
  // Opening a promoted ban is opening a ban like any other: a new sequence, the group's ban count
  // up, only the new members' names, its own expiry and what the next escalation starts from.
  FleetState state(promoting(2));
  state.apply(ban("web-01", "192.0.2.1", T, 600), at(T));
  state.apply(ban("web-02", "192.0.2.2", T, 600), at(T));
  ASSERT_EQ(state.expire(at(T + 600)).size(), 1u);  // the /24, ended at its members' expiry
  ASSERT_EQ(state.active_count(), 0u);

  state.apply(ban("web-03", "192.0.2.3", T + 1000, 300, "nginx"), at(T + 1000));
  auto r = state.apply(ban("web-04", "192.0.2.4", T + 1000, 900), at(T + 1000));
  ASSERT_EQ(r.more_changes.size(), 3u);
  const Decision& prefix = r.more_changes[0];
  EXPECT_EQ(prefix.prefix, p("192.0.2.0/24"));
  EXPECT_TRUE(prefix.active);
  EXPECT_EQ(prefix.sequence, r.change->sequence + 1);
  EXPECT_EQ(prefix.ban_count, 2u);
  EXPECT_EQ(prefix.banned_at, at(T + 1000));
  EXPECT_EQ(prefix.expires_at, at(T + 1900));
  EXPECT_EQ(sorted(prefix.reporters), (std::vector<std::string>{"web-03", "web-04"}));
  EXPECT_EQ(prefix.reporter_count, 2u);
  EXPECT_EQ(sorted(prefix.jails), (std::vector<std::string>{"nginx", "sshd"}));
  EXPECT_EQ(prefix.reason, "promoted: 2 addresses banned in 192.0.2.0/24");

  auto record = state.find(p("192.0.2.0/24"));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->decision.sequence, prefix.sequence);
  EXPECT_EQ(record->last_duration, seconds(900));
  EXPECT_TRUE(record->reports.empty());
  EXPECT_EQ(state.active_count(), 1u);
  EXPECT_EQ(state.next_expiry(), at(T + 1900));

  // A report of the /24 itself after it ended is a re-offence of the promoted ban: escalated.
  state.expire(at(T + 1900));
  auto again = state.apply(ban("web-05", "192.0.2.0/24", T + 2000, 60), at(T + 2000));
  ASSERT_TRUE(again.change);
  EXPECT_EQ(again.change->ban_count, 3u);
  EXPECT_EQ(again.change->expires_at, at(T + 2000 + 1800));  // 2 x 900 s
}

// --- bounded decisions -------------------------------------------------------------------------

TEST(FleetState, OneHostWithManyJailsNamesTheFirst64AndCountsThemAll) {
  FleetState state(policy(1));
  for (int i = 0; i < 1100; ++i) state.apply(ban("web-01", "192.0.2.7", T, 600, "jail-" + std::to_string(i)), at(T));
  auto record = state.find(p("192.0.2.7"));
  ASSERT_TRUE(record);
  const Decision& d = record->decision;
  ASSERT_EQ(d.jails.size(), fleetban::common::kMaxDecisionNames);
  EXPECT_EQ(d.jails.front(), "jail-0");
  EXPECT_EQ(d.jails.back(), "jail-63");
  EXPECT_EQ(d.jail_count, 1100u);
  EXPECT_EQ(d.reporters, std::vector<std::string>{"web-01"});
  EXPECT_EQ(d.reporter_count, 1u);
  // Nothing new from a listed name: no change to broadcast.
  EXPECT_FALSE(state.apply(ban("web-01", "192.0.2.7", T, 600, "jail-5"), at(T)).change);
}

TEST(FleetState, ManyReportersNameTheFirst64AndCountThemAll) {
  FleetState state(policy(1));
  for (int i = 0; i < 1030; ++i) state.apply(ban("web-" + std::to_string(i), "192.0.2.7", T, 600), at(T));
  const Decision d = state.find(p("192.0.2.7"))->decision;
  ASSERT_EQ(d.reporters.size(), fleetban::common::kMaxDecisionNames);
  EXPECT_EQ(d.reporter_count, 1030u);
  EXPECT_EQ(d.jail_count, 1u);
  EXPECT_EQ(state.active_decisions().at(0).reporter_count, 1030u);
}

TEST(FleetState, ABanMadeOfManyPendingReportsIsCapped) {
  FleetState state(policy(200));
  for (int i = 0; i < 200; ++i) {
    state.apply(ban("web-" + std::to_string(i), "192.0.2.7", T, 600, "jail-" + std::to_string(i)), at(T));
  }
  const Decision d = state.find(p("192.0.2.7"))->decision;
  ASSERT_TRUE(d.active);
  EXPECT_EQ(d.reporters.size(), fleetban::common::kMaxDecisionNames);
  EXPECT_EQ(d.jails.size(), fleetban::common::kMaxDecisionNames);
  EXPECT_EQ(d.reporter_count, 200u);
  EXPECT_EQ(d.jail_count, 200u);
}

TEST(FleetState, PendingReportsPerRecordAreBounded) {
  FleetState state(policy(10'000));
  for (int i = 0; i < 300; ++i) state.apply(ban("web-" + std::to_string(i), "192.0.2.7", T, 600), at(T));
  auto record = state.find(p("192.0.2.7"));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->reports.size(), kMaxReportsPerRecord);
  EXPECT_EQ(record->reports.back().host_id, "web-299");
}

TEST(FleetState, PromotionAddsUpTheMembersTotals) {
  FleetState state(promoting(2));
  for (int i = 0; i < 100; ++i) state.apply(ban("web-" + std::to_string(i), "192.0.2.1", T, 600), at(T));
  state.apply(ban("db-1", "192.0.2.2", T, 600), at(T));
  const Decision d = state.find(p("192.0.2.0/24"))->decision;
  ASSERT_TRUE(d.active);
  EXPECT_EQ(d.reporters.size(), fleetban::common::kMaxDecisionNames);
  EXPECT_EQ(d.reporter_count, 101u);
}

// --- the fleet's own links ---------------------------------------------------------------------

TEST(FleetState, LoopbackIsNeverBanned) {
  FleetState state(policy(1));
  for (const char* ip : {"127.0.0.1", "127.255.0.9", "127.0.0.0/24", "::1", "::ffff:127.0.0.1", "120.0.0.0/5"}) {
    Policy wide = policy(1);
    wide.min_prefix_v4 = 0;
    state.set_policy(wide);
    auto r = state.apply(ban("web-01", ip, T, 600), at(T));
    ASSERT_TRUE(r.refused) << ip;
    EXPECT_EQ(r.refused_because, RejectReason::own_link) << ip;
    EXPECT_NE(r.refused->find("loopback"), std::string::npos) << *r.refused;
    auto by_operator = state.apply(operator_event(EventKind::ban, ip, T, 600), at(T));
    EXPECT_EQ(by_operator.refused_because, RejectReason::own_link) << ip;
  }
  EXPECT_EQ(state.active_count(), 0u);
}

TEST(FleetState, TheAggregatorsAndTheMembersAddressesAreNeverBanned) {
  FleetState state(promoting(2));
  state.set_own_addresses({p("198.51.100.10"), p("2001:db8::10")});
  state.note_member_address(p("192.0.2.50"));
  for (const char* ip :
       {"198.51.100.10", "198.51.100.0/24", "2001:db8::10", "2001:db8::/64", "192.0.2.50", "192.0.2.0/25"}) {
    auto r = state.apply(operator_event(EventKind::ban, ip, T, 600), at(T));
    ASSERT_TRUE(r.refused) << ip;
    EXPECT_EQ(r.refused_because, RejectReason::own_link) << ip;
  }
  // Next to them is fine, but a promotion never grows over them.
  EXPECT_TRUE(state.apply(ban("web-01", "192.0.2.51", T, 600), at(T)).change);
  EXPECT_TRUE(state.apply(ban("web-01", "192.0.2.52", T, 600), at(T)).change);
  EXPECT_FALSE(state.find(p("192.0.2.0/24")));
  EXPECT_EQ(state.active_count(), 2u);
}

TEST(FleetState, MemberAddressesAreBoundedOldestForgottenFirst) {
  FleetState state(policy(1));
  for (std::size_t i = 0; i <= FleetState::kMaxMemberAddresses; ++i) {
    state.note_member_address(p("100.64." + std::to_string(i / 256) + "." + std::to_string(i % 256)));
  }
  EXPECT_FALSE(state.apply(ban("web-01", "100.64.0.0", T, 600), at(T)).refused);  // the first, forgotten
  EXPECT_TRUE(state.apply(ban("web-01", "100.64.0.1", T, 600), at(T)).refused);
}

// --- the policy only stops bans -------------------------------------------------------------------

TEST(FleetState, UnbansPassTheAllowlistAndTheMinimumPrefix) {
  Policy strict = policy(1);
  FleetState state(strict);
  ASSERT_TRUE(state.apply(ban("web-01", "10.1.2.3", T, 600), at(T)).change);
  ASSERT_TRUE(state.apply(ban("web-01", "10.9.0.0/16", T, 600), at(T)).change);
  strict.allowlist = {p("10.0.0.0/8")};
  strict.min_prefix_v4 = 24;
  state.set_policy(strict);
  // A host's own early unban and an operator's unban both still end the bans.
  auto host = state.apply(unban("web-01", "10.1.2.3", T, 600, T + 10), at(T + 10));
  EXPECT_FALSE(host.refused) << *host.refused;
  ASSERT_TRUE(host.change);
  EXPECT_FALSE(host.change->active);
  auto by_operator = state.apply(operator_event(EventKind::unban, "10.9.0.0/16", T + 10, 0), at(T + 10));
  EXPECT_FALSE(by_operator.refused) << *by_operator.refused;
  ASSERT_TRUE(by_operator.change);
  EXPECT_FALSE(by_operator.change->active);
  EXPECT_EQ(state.active_count(), 0u);
}

TEST(FleetState, WideningThePolicyEndsTheBansItNowCovers) {
  Policy wide = promoting(2);
  FleetState state(wide);
  state.apply(ban("web-01", "10.1.2.3", T, 600), at(T));
  state.apply(ban("web-01", "2001:db8::/40", T, 600), at(T));  // under a raised min_prefix_v6
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));      // stays
  state.apply(ban("web-01", "198.51.100.7", T, 600), at(T));   // one of a promotion group
  forget_changes(state);
  EXPECT_TRUE(state.end_disallowed(at(T + 1)).empty());  // nothing changed yet

  wide.allowlist = {p("10.0.0.0/8"), p("198.51.100.0/24")};
  wide.min_prefix_v6 = 48;
  state.set_policy(wide);
  std::vector<Decision> ended = state.end_disallowed(at(T + 1));
  ASSERT_EQ(ended.size(), 3u);
  std::vector<std::string> ips;
  std::uint64_t last_sequence = 4;
  for (const auto& d : ended) {
    EXPECT_FALSE(d.active);
    EXPECT_GT(d.sequence, last_sequence);  // numbered like any change, in order
    last_sequence = d.sequence;
    ips.push_back(d.prefix.to_string());
  }
  EXPECT_EQ(sorted(ips), (std::vector<std::string>{"10.1.2.3", "198.51.100.7", "2001:db8::/40"}));
  EXPECT_EQ(state.active_count(), 1u);
  EXPECT_TRUE(state.has_changes());  // to be committed
  EXPECT_TRUE(state.end_disallowed(at(T + 1)).empty());
  EXPECT_TRUE(state.expire(at(T + 600)).size() == 1u);  // only 192.0.2.7 was left to expire
}

// --- what must be written to disk ----------------------------------------------------------------

std::vector<IpPrefix> changed(FleetState& state) {
  std::vector<IpPrefix> prefixes;
  state.take_changes([&](const FleetRecord& r) { prefixes.push_back(r.decision.prefix); });
  return prefixes;
}

TEST(FleetState, ChangedRecordsAreTakenOnceEach) {
  FleetState state(policy(2));
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));  // a report, no ban yet: still to persist
  EXPECT_TRUE(state.has_changes());
  state.apply(ban("web-02", "192.0.2.7", T, 600), at(T));
  state.apply(ban("web-01", "2001:db8::1", T, 600), at(T));
  EXPECT_EQ(changed(state), (std::vector<IpPrefix>{p("192.0.2.7"), p("2001:db8::1")}));
  EXPECT_FALSE(state.has_changes());
  EXPECT_TRUE(changed(state).empty());
}

TEST(FleetState, WhatChangesNothingIsNotToBeWritten) {
  FleetState state(policy());
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  changed(state);
  state.apply(ban("web-01", "192.0.2.7", T, 600), at(T + 1));            // the same ban again
  state.apply(unban("web-01", "192.0.2.99", T, 600, T + 5), at(T + 5));  // never reported
  EXPECT_FALSE(state.has_changes());
  state.expire(at(T + 600));
  EXPECT_EQ(changed(state), std::vector<IpPrefix>{p("192.0.2.7")});
}

TEST(FleetState, RestoredRecordsAreNotToBeWrittenAgain) {
  FleetState before(policy());
  before.apply(ban("web-01", "192.0.2.7", T, 600), at(T));
  FleetState after(policy());
  after.restore(*before.find(p("192.0.2.7")));
  EXPECT_FALSE(after.has_changes());
}

// --- sequence and restore -----------------------------------------------------------------------

TEST(FleetState, SequenceNumbersStrictlyIncreaseAcrossEveryChange) {
  Policy retract = policy(1);
  retract.host_unban = HostUnban::retract;
  FleetState state(retract);
  std::vector<std::uint64_t> seen;
  auto note = [&](const ApplyResult& r) {
    if (r.change) seen.push_back(r.change->sequence);
  };
  note(state.apply(ban("web-01", "192.0.2.1", T, 600), at(T)));                       // ban
  note(state.apply(ban("web-01", "192.0.2.2", T, 300), at(T)));                       // another ban
  note(state.apply(ban("web-02", "192.0.2.1", T + 1, 900), at(T + 1)));               // extension
  note(state.apply(unban("web-01", "192.0.2.1", T, 600, T + 2), at(T + 2)));          // retraction
  note(state.apply(ban("web-01", "2001:db8::1", T + 3, -1), at(T + 3)));              // permanent
  for (const auto& d : state.expire(at(T + 300))) seen.push_back(d.sequence);         // expiry
  note(state.apply(unban("web-02", "192.0.2.1", T + 1, 900, T + 400), at(T + 400)));  // end
  note(state.apply(ban("web-01", "192.0.2.2", T + 500, 300), at(T + 500)));           // re-ban
  ASSERT_EQ(seen.size(), 8u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1) << i;
  EXPECT_EQ(state.sequence(), 8u);
}

TEST(FleetState, RestoreBringsBackSequenceActiveCountAndExpiries) {
  FleetRecord active;
  active.decision.sequence = 7;
  active.decision.prefix = p("192.0.2.7");
  active.decision.active = true;
  active.decision.banned_at = at(T);
  active.decision.expires_at = at(T + 600);
  active.decision.reporters = {"web-01"};
  active.decision.jails = {"sshd"};
  active.decision.ban_count = 1;
  active.last_duration = seconds(600);

  FleetRecord ended;
  ended.decision.sequence = 9;
  ended.decision.prefix = p("198.51.100.1");
  ended.decision.active = false;
  ended.decision.expires_at = at(T - 100);
  ended.decision.ban_count = 1;
  ended.last_duration = seconds(300);

  FleetRecord permanent;
  permanent.decision.sequence = 3;
  permanent.decision.prefix = p("2001:db8::1");
  permanent.decision.active = true;
  permanent.decision.ban_count = 1;

  FleetState state(policy(1));
  state.restore(active);
  state.restore(ended);
  state.restore(permanent);
  EXPECT_EQ(state.sequence(), 9u);
  EXPECT_EQ(state.active_count(), 2u);
  EXPECT_EQ(state.active_decisions().size(), 2u);
  EXPECT_EQ(state.next_expiry(), at(T + 600));
  ASSERT_TRUE(state.find(p("192.0.2.7")));
  EXPECT_EQ(state.find(p("192.0.2.7"))->decision.reporters, std::vector<std::string>{"web-01"});

  // The next change continues the sequence; escalation remembers the restored last ban.
  auto again = state.apply(ban("web-01", "198.51.100.1", T, 100), at(T));
  ASSERT_TRUE(again.change);
  EXPECT_EQ(again.change->sequence, 10u);
  EXPECT_EQ(again.change->ban_count, 2u);
  EXPECT_EQ(again.change->expires_at, at(T + 600));

  auto expired = state.expire(at(T + 600));
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].sequence, 11u);
  EXPECT_EQ(expired[1].sequence, 12u);
  EXPECT_EQ(state.active_count(), 1u);  // the permanent one
}

TEST(FleetState, RestoredBanThatExpiredWhileDownEndsAtTheFirstExpire) {
  FleetRecord record;
  record.decision.sequence = 4;
  record.decision.prefix = p("192.0.2.7");
  record.decision.active = true;
  record.decision.expires_at = at(T - 10);
  FleetState state(policy(1));
  state.restore(record);
  EXPECT_EQ(state.next_expiry(), at(T - 10));
  auto ended = state.expire(at(T));
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_FALSE(ended[0].active);
  EXPECT_EQ(ended[0].sequence, 5u);
  EXPECT_EQ(state.active_count(), 0u);
}

TEST(FleetState, RestoredSequenceNeverGoesBackwards) {
  FleetRecord old;
  old.decision.sequence = 5;
  old.decision.prefix = p("192.0.2.7");
  FleetState state(policy(1), 20);
  state.restore(old);
  EXPECT_EQ(state.sequence(), 20u);
}

}  // namespace
