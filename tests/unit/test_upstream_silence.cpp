// When a relay sends heartbeats of its own: once its upstream is 1.5 s late, once a second, for
// up to 15 s of silence; never while upstream speaks, and again for the next silence.
#include "relay/upstream_silence.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using fleetban::relay::UpstreamSilence;
using Step = UpstreamSilence::Step;
using std::chrono::milliseconds;

const UpstreamSilence::Clock::time_point kT0 = UpstreamSilence::Clock::now();

// The steps of a loop turning every `turn` from `from` to `to` (after kT0), upstream last heard at
// `heard`; only the turns that did something.
std::vector<std::pair<long, Step>> turns(UpstreamSilence& silence, long heard, long from, long to, long turn = 200) {
  std::vector<std::pair<long, Step>> done;
  for (long ms = from; ms <= to; ms += turn) {
    Step step = silence.step(kT0 + milliseconds(ms), kT0 + milliseconds(heard));
    if (step != Step::none) done.emplace_back(ms, step);
  }
  return done;
}

TEST(UpstreamSilence, NothingWhileUpstreamSpeaksInTime) {
  UpstreamSilence silence;
  // Upstream heard every second (its heartbeat), the loop turning every 200 ms.
  for (long heard = 0; heard < 60'000; heard += 1000) {
    EXPECT_TRUE(turns(silence, heard, heard, heard + 1400).empty()) << heard;
  }
}

TEST(UpstreamSilence, HeartbeatsOnceASecondFromLateUntilTheHoldEnds) {
  UpstreamSilence silence;
  auto done = turns(silence, 0, 0, 30'000);
  // First at 1.6 s (the first turn at least 1.5 s after upstream was heard), then every second
  // (each 200 ms turn on or after the next second), the last before 15 s; then one stop, and
  // nothing more however long it lasts.
  ASSERT_FALSE(done.empty());
  EXPECT_EQ(done.front(), std::make_pair(1600L, Step::first));
  std::vector<std::pair<long, Step>> want{{1600, Step::first}};
  for (long ms = 2600; ms < 15'000; ms += 1000) want.emplace_back(ms, Step::send);
  want.emplace_back(15'000, Step::stop_holding);
  EXPECT_EQ(done, want);
}

TEST(UpstreamSilence, NeverMoreThanOneASecondWhateverTheLoopsPace) {
  UpstreamSilence silence;
  auto done = turns(silence, 0, 0, 14'999, 1);  // a loop turning every millisecond
  ASSERT_EQ(done.size(), 14u);                  // at 1.5 s, 2.5 s, ... 14.5 s
  for (std::size_t i = 1; i < done.size(); ++i) EXPECT_EQ(done[i].first - done[i - 1].first, 1000) << i;
}

TEST(UpstreamSilence, UpstreamSpeakingEndsTheHoldAndTheNextSilenceStartsAfresh) {
  UpstreamSilence silence;
  ASSERT_FALSE(turns(silence, 0, 0, 20'000).empty());  // a whole hold, given up at 15 s
  // Upstream is back at 20 s, then silent again: a new hold, announced again, 15 s long again.
  EXPECT_TRUE(turns(silence, 20'000, 20'000, 21'400).empty());
  auto again = turns(silence, 20'000, 21'400, 40'000);
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.front(), std::make_pair(21'600L, Step::first));
  EXPECT_EQ(again.back(), std::make_pair(35'000L, Step::stop_holding));
}

TEST(UpstreamSilence, ASilenceAlreadyOverTheHoldIsNeverCovered) {
  // A relay that has heard nothing for longer than the hold (upstream gone before its loop got
  // here) sends nothing: its hosts are better off with another relay.
  UpstreamSilence silence;
  EXPECT_TRUE(turns(silence, 0, 16'000, 60'000).empty());
}

}  // namespace
