// The HTTP thread's copy of the decisions: made when asked, let go of once it is no longer fresh.

#include "aggregator/state_view.hpp"

#include <gtest/gtest.h>

#include <future>

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

}  // namespace
