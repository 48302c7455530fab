// The HA group's lease (aggregator/lease) and its keeper (aggregator/lease_keeper), against a real
// PostgreSQL server: a member busy for longer than the term (a large state loading) keeps the lease
// only while a LeaseKeeper renews it, and a keeper whose lease another member took says so when the
// work is done, before the member could ack or broadcast; a walk on the loop's own thread (a
// snapshot) renews on the way. Each wait here is longer than the lease's
// term (3 s): that is what is tested.

#include "aggregator/lease_keeper.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "aggregator/postgres_store.hpp"
#include "aggregator/state_store.hpp"
#include "require_postgres.hpp"

namespace {

using namespace fleetban::aggregator;
using fleetban::testing::PostgresServer;
using Clock = std::chrono::steady_clock;

class LeaseKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FLEETBAN_REQUIRE_POSTGRES();
    server_ = std::make_unique<PostgresServer>();
    PostgresStore store(server_->url());  // creates the lease's table
  }
  std::unique_ptr<PostgresServer> server_;
};

// Longer than the term, and than the term from the last renewal before the wait began.
constexpr auto kLongWork = Lease::kTerm + std::chrono::seconds(2);

TEST_F(LeaseKeeperTest, WorkLongerThanTheTermKeepsTheLeaseWhileAKeeperRenewsIt) {
  Lease a(server_->url(), "a");
  Lease b(server_->url(), "b");
  ASSERT_TRUE(a.try_take());
  {
    LeaseKeeper keeper(&a);
    // The loop's thread is busy; the other member finds the lease held all along.
    for (auto until = Clock::now() + kLongWork; Clock::now() < until;) {
      ASSERT_FALSE(b.try_take());
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    EXPECT_NO_THROW(keeper.finish());
  }
  EXPECT_NO_THROW(a.check());
  EXPECT_EQ(b.holder().member, "a");
  EXPECT_FALSE(b.holder().lapsed);
  EXPECT_EQ(server_->query("SELECT epoch FROM lease"), "1");
}

TEST_F(LeaseKeeperTest, WithoutAKeeperTheSameWorkLosesTheLease) {
  Lease a(server_->url(), "a");
  Lease b(server_->url(), "b");
  ASSERT_TRUE(a.try_take());
  std::this_thread::sleep_for(kLongWork);
  EXPECT_TRUE(b.try_take());
  EXPECT_THROW(a.check(), LeadershipLost);
}

TEST_F(LeaseKeeperTest, AKeeperWhoseEpochMovedOnRethrowsAtFinishAndStopsRenewing) {
  Lease a(server_->url(), "a");
  ASSERT_TRUE(a.try_take());
  LeaseKeeper keeper(&a);
  // Another member's takeover, as a fencing epoch that moved on.
  server_->query("UPDATE lease SET epoch = epoch + 1, holder = 'b'");
  std::this_thread::sleep_for(Lease::kRenewEvery * 3);  // past the keeper's next renewal
  EXPECT_THROW(keeper.finish(), LeadershipLost);
  EXPECT_EQ(server_->query("SELECT holder FROM lease"), "b");
  EXPECT_NO_THROW(keeper.finish());  // said once
}

// A snapshot's walk on the loop's thread, slowed to 50 ms an item: 5 s in all.
TEST_F(LeaseKeeperTest, AWalkLongerThanTheTermRenewsOnTheWay) {
  Lease a(server_->url(), "a");
  Lease b(server_->url(), "b");
  ASSERT_TRUE(a.try_take());
  std::size_t taken = 0;
  auto walking = renewing_on_the_way<int>(
      &a,
      [&](int&&) {
        ++taken;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return true;
      },
      4);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(walking(int{i}));
    if (i % 10 == 0) {
      ASSERT_FALSE(b.try_take()) << "after " << i << " items";
    }
  }
  EXPECT_EQ(taken, 100u);
  EXPECT_NO_THROW(a.check());
  EXPECT_EQ(server_->query("SELECT holder FROM lease"), "a");
}

TEST_F(LeaseKeeperTest, AWalkWhoseEpochMovedOnEndsWithLeadershipLost) {
  Lease a(server_->url(), "a");
  ASSERT_TRUE(a.try_take());
  auto walking = renewing_on_the_way<int>(
      &a,
      [](int&&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return true;
      },
      1);
  server_->query("UPDATE lease SET epoch = epoch + 1, holder = 'b'");
  int walked = 0;
  EXPECT_THROW(
      {
        for (; walked < 100; ++walked) walking(int{walked});
      },
      LeadershipLost);
  EXPECT_LT(walked, 100);  // within a renewal's interval, not at the end of the walk
}

TEST_F(LeaseKeeperTest, AWalkWithNoLeaseIsTheWalkItself) {
  int taken = 0;
  auto walking = renewing_on_the_way<int>(nullptr, [&](int&& i) {
    taken += i;
    return i < 3;
  });
  EXPECT_TRUE(walking(1));
  EXPECT_FALSE(walking(3));
  EXPECT_EQ(taken, 4);
}

TEST_F(LeaseKeeperTest, AKeeperOfNoLeaseDoesNothing) {
  LeaseKeeper keeper(nullptr);
  EXPECT_NO_THROW(keeper.finish());
}

}  // namespace
