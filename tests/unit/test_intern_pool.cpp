// The aggregator's pool of shared values: one copy each, counted, let go with the last holder.

#include "aggregator/intern_pool.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using fleetban::aggregator::InternPool;

TEST(InternPool, TheEmptyValueIsIdZeroAndNeverStored) {
  InternPool<std::string> pool;
  EXPECT_EQ(pool.acquire(""), InternPool<std::string>::kEmpty);
  EXPECT_EQ(pool.get(InternPool<std::string>::kEmpty), "");
  EXPECT_EQ(pool.size(), 0u);
  pool.release(InternPool<std::string>::kEmpty);  // harmless
  EXPECT_EQ(pool.size(), 0u);
}

TEST(InternPool, EqualValuesShareOneId) {
  InternPool<std::string> pool;
  auto a = pool.acquire("web-01");
  auto b = pool.acquire(std::string("web-") + "01");
  auto c = pool.acquire("web-02");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(pool.get(a), "web-01");
  EXPECT_EQ(pool.get(c), "web-02");
  EXPECT_EQ(pool.size(), 2u);
}

TEST(InternPool, ValueStaysUntilItsLastHolderLetsGo) {
  InternPool<std::string> pool;
  auto a = pool.acquire("sshd");
  pool.acquire("sshd");
  pool.release(a);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.get(a), "sshd");
  pool.release(a);
  EXPECT_EQ(pool.size(), 0u);
}

TEST(InternPool, IdsOfValuesLetGoAreReusedForNewOnes) {
  InternPool<std::string> pool;
  auto a = pool.acquire("nginx");
  auto kept = pool.acquire("sshd");
  pool.release(a);
  auto b = pool.acquire("postfix");
  EXPECT_EQ(b, a);  // the table of ids does not grow with churn
  EXPECT_EQ(pool.get(b), "postfix");
  EXPECT_EQ(pool.get(kept), "sshd");
  EXPECT_EQ(pool.acquire("nginx"), pool.acquire("nginx"));  // and a value let go can come back
  EXPECT_EQ(pool.size(), 3u);
}

TEST(InternPool, MovedPoolKeepsItsValues) {
  InternPool<std::string> pool;
  auto a = pool.acquire("web-01");
  InternPool<std::string> moved = std::move(pool);
  EXPECT_EQ(moved.get(a), "web-01");
  EXPECT_EQ(moved.acquire("web-01"), a);
}

}  // namespace
