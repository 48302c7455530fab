// The HTTP thread's copy of the decisions: made when asked, let go of once it is no longer fresh.

#include "aggregator/state_view.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <future>
#include <set>
#include <string>

#include "aggregator/fleet_state.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::common::Event;
using fleetban::common::IpPrefix;
using std::chrono::milliseconds;
using std::chrono::seconds;

FleetState state_with_bans(int bans) {
  Policy policy;
  FleetState state(policy);
  for (int i = 0; i < bans; ++i) {
    Event e;
    e.id = fleetban::common::random_event_id();
    e.prefix = *IpPrefix::parse("192.0.2." + std::to_string(i + 1));
    e.jail = "sshd";
    e.host_id = "web-01";
    e.bantime = seconds(3600);
    e.time = fleetban::common::now_ms();
    e.created = e.time;
    state.apply(e, fleetban::common::now_seconds());
  }
  return state;
}

// Asks for the decisions on another thread, and plays the loop until it has them.
StateView::Decisions ask(StateView& view, const FleetState& state, StateView::Clock::time_point now) {
  auto reader = std::async(std::launch::async, [&] { return view.decisions(seconds(10)); });
  while (reader.wait_for(milliseconds(5)) != std::future_status::ready) view.publish_if_requested(state, now);
  return reader.get();
}

TEST(StateView, NothingIsCopiedUntilAsked) {
  StateView view;
  FleetState state = state_with_bans(3);
  view.publish_if_requested(state);
  EXPECT_FALSE(view.holds_copy());
}

TEST(StateView, ReaderGetsTheActiveDecisions) {
  StateView view;
  FleetState state = state_with_bans(3);
  auto decisions = ask(view, state, StateView::Clock::now());
  ASSERT_EQ(decisions->size(), 3u);
  EXPECT_TRUE(view.holds_copy());
}

TEST(StateView, CopyIsLetGoOnceNoLongerFreshButReadersKeepTheirs) {
  StateView view;
  FleetState state = state_with_bans(3);
  auto t0 = StateView::Clock::now();
  auto decisions = ask(view, state, t0);
  view.publish_if_requested(state, t0 + StateView::kKeepFor);
  EXPECT_TRUE(view.holds_copy());
  view.publish_if_requested(state, t0 + StateView::kKeepFor + seconds(1));
  EXPECT_FALSE(view.holds_copy());
  EXPECT_EQ(decisions->size(), 3u);                           // the reader's own reference is untouched
  EXPECT_EQ(ask(view, state, t0 + seconds(20))->size(), 3u);  // and the next reader gets a new one
}

Event event(const std::string& ip, bool ban) {
  Event e;
  e.id = fleetban::common::random_event_id();
  e.prefix = *IpPrefix::parse(ip);
  e.jail = "sshd";
  e.host_id = "web-01";
  e.kind = ban ? fleetban::common::EventKind::ban : fleetban::common::EventKind::unban;
  e.bantime = seconds(3600);
  e.time = fleetban::common::now_ms();
  e.created = e.time;
  return e;
}

// `count` IPv6 addresses banned, every third one lifted again, and `v4` IPv4 addresses banned.
FleetState state_with_holes(int count, int v4 = 0) {
  FleetState state{Policy{}};
  auto now = fleetban::common::now_seconds();
  for (int i = 0; i < count; ++i) {
    std::string ip = "2001:db8::" + std::to_string(i + 1);
    state.apply(event(ip, true), now);
    if (i % 3 == 1) state.apply(event(ip, false), now);
  }
  for (int i = 0; i < v4; ++i) state.apply(event("198.51.100." + std::to_string(i + 1), true), now);
  return state;
}

// Every page of a walk, each asked after the last one's `next`.
std::vector<StateView::Page> walk(const FleetState& state, StateView::PageRequest request) {
  std::vector<StateView::Page> pages;
  do {
    pages.push_back(StateView::fill_page(state, request));
    request.after = pages.back().next;
  } while (request.after && pages.size() < 100'000);
  return pages;
}

TEST(StateViewPage, WalkingAllPagesGivesEachActiveDecisionOnceAndEndsWithNoNext) {
  FleetState state = state_with_holes(1000);
  std::set<IpPrefix> seen;
  std::size_t entries = 0;
  auto pages = walk(state, {.limit = 7});
  for (const auto& page : pages) {
    EXPECT_LE(page.decisions.size(), 7u);
    for (const auto& d : page.decisions) {
      EXPECT_TRUE(d.active);
      seen.insert(d.prefix);
      ++entries;
    }
  }
  EXPECT_EQ(entries, state.active_count());
  EXPECT_EQ(seen.size(), state.active_count());
  EXPECT_FALSE(pages.back().next);
  // Full pages but the last: a page ends only where another entry follows.
  for (std::size_t i = 0; i + 1 < pages.size(); ++i) EXPECT_EQ(pages[i].decisions.size(), 7u);
  EXPECT_EQ(pages.size(), (state.active_count() + 6) / 7);
}

TEST(StateViewPage, ExactlyFullLastPageHasNoNext) {
  FleetState state = state_with_holes(0, 10);
  auto page = StateView::fill_page(state, {.limit = 10});
  EXPECT_EQ(page.decisions.size(), 10u);
  EXPECT_FALSE(page.next);
}

TEST(StateViewPage, PrefixesOfOneFamily) {
  FleetState state = state_with_holes(30, 12);
  std::size_t v4 = 0, v6 = 0;
  for (const auto& page : walk(state, {.limit = 5, .prefixes_only = true, .family = fleetban::common::Family::v4})) {
    EXPECT_TRUE(page.decisions.empty());
    for (const auto& p : page.prefixes) v4 += p.family() == fleetban::common::Family::v4 ? 1 : 100;
  }
  for (const auto& page : walk(state, {.limit = 5, .prefixes_only = true, .family = fleetban::common::Family::v6})) {
    for (const auto& p : page.prefixes) v6 += p.family() == fleetban::common::Family::v6 ? 1 : 100;
  }
  EXPECT_EQ(v4, 12u);
  EXPECT_EQ(v6, state.active_count() - 12);
}

TEST(StateViewPage, AfterAnAddressWithNoRecordIsSaidSo) {
  FleetState state = state_with_holes(5);
  auto page = StateView::fill_page(state, {.after = *IpPrefix::parse("192.0.2.200"), .limit = 5});
  EXPECT_TRUE(page.unknown_after);
  EXPECT_TRUE(page.decisions.empty());
  // An ended ban keeps its record, and so its place.
  auto after_ended = StateView::fill_page(state, {.after = *IpPrefix::parse("2001:db8::2"), .limit = 100});
  EXPECT_FALSE(after_ended.unknown_after);
  ASSERT_FALSE(after_ended.decisions.empty());
  EXPECT_EQ(after_ended.decisions.front().prefix, *IpPrefix::parse("2001:db8::3"));
}

TEST(StateViewPage, SkippedRecordsAreBoundedAndTheWalkResumesPastThem) {
  // More ended records in a row than one page may look at: the first page comes back short, with
  // a `next` to carry on from, and the walk still finds the ban behind them.
  FleetState state{Policy{}};
  auto now = fleetban::common::now_seconds();
  constexpr std::size_t kScan = 1000;  // StateView::kPageScan in real use: fewer here, to stay quick
  const int ended = static_cast<int>(kScan) + 50;
  for (int i = 0; i < ended; ++i) {
    char ip[64];
    std::snprintf(ip, sizeof ip, "2001:db8::%x:%x", i / 65536 + 1, i % 65536);
    state.apply(event(ip, true), now);
    state.apply(event(ip, false), now);
  }
  state.apply(event("198.51.100.9", true), now);
  auto first = StateView::fill_page(state, {.limit = 10, .scan = kScan});
  EXPECT_TRUE(first.decisions.empty());
  ASSERT_TRUE(first.next);
  auto pages = walk(state, {.limit = 10, .scan = kScan});
  ASSERT_EQ(pages.size(), 2u);
  ASSERT_EQ(pages[1].decisions.size(), 1u);
  EXPECT_EQ(pages[1].decisions[0].prefix, *IpPrefix::parse("198.51.100.9"));
  EXPECT_FALSE(pages[1].next);
}

TEST(StateViewPage, EndedOrAllRecordsAndAFilterWithinTheWalk) {
  FleetState state = state_with_holes(30);  // 10 of the 30 ended
  auto count = [&](StateView::PageRequest request) {
    std::size_t n = 0;
    for (const auto& page : walk(state, std::move(request))) n += page.decisions.size();
    return n;
  };
  EXPECT_EQ(count({.limit = 4, .records = StateView::Records::ended}), 10u);
  EXPECT_EQ(count({.limit = 4, .records = StateView::Records::all}), 30u);
  for (const auto& page : walk(state, {.limit = 4, .records = StateView::Records::ended})) {
    for (const auto& d : page.decisions) EXPECT_FALSE(d.active);
  }
  // Addresses ending in 7: ::7, ::17, ::27 (::17 was lifted again, and is kept with `all`).
  auto ends_in_7 = [](const fleetban::common::Decision& d) { return d.prefix.to_string().ends_with('7'); };
  EXPECT_EQ(count({.limit = 2, .records = StateView::Records::all, .filter = ends_in_7}), 3u);
  EXPECT_EQ(count({.limit = 2, .filter = ends_in_7}), 2u);
}

TEST(StateViewPage, ExactGivesOneRecordActiveOrEnded) {
  FleetState state = state_with_holes(5);
  auto active = StateView::fill_page(state, {.exact = *IpPrefix::parse("2001:db8::1")});
  ASSERT_EQ(active.decisions.size(), 1u);
  EXPECT_TRUE(active.decisions[0].active);
  EXPECT_FALSE(active.next);
  auto ended = StateView::fill_page(state, {.exact = *IpPrefix::parse("2001:db8::2")});
  ASSERT_EQ(ended.decisions.size(), 1u);
  EXPECT_FALSE(ended.decisions[0].active);
  EXPECT_TRUE(StateView::fill_page(state, {.exact = *IpPrefix::parse("192.0.2.1")}).decisions.empty());
}

TEST(StateViewPage, ReaderGetsAPageFromTheLoopAndTheVersion) {
  StateView view;
  FleetState state = state_with_holes(20);
  view.set_version({"abc", 0});
  auto reader = std::async(std::launch::async, [&] { return view.page({.limit = 3}, seconds(10)); });
  while (reader.wait_for(milliseconds(5)) != std::future_status::ready) view.publish_if_requested(state);
  auto page = reader.get();
  ASSERT_TRUE(page);
  EXPECT_EQ(page->decisions.size(), 3u);
  EXPECT_TRUE(page->next);
  EXPECT_EQ(view.version().incarnation, "abc");
  EXPECT_EQ(view.version().sequence, state.sequence());
  EXPECT_FALSE(view.holds_copy());  // a page is no copy of the whole
}

TEST(StateViewPage, UnansweredPageTimesOut) {
  StateView view;
  EXPECT_FALSE(view.page({.limit = 3}, milliseconds(20)));
}

}  // namespace
