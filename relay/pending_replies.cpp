#include "relay/pending_replies.hpp"

namespace fleetban::relay {

void PendingReplies::expect(const std::string& key, Waiter waiter, Clock::time_point now) {
  auto [it, fresh] = waiting_.try_emplace(key, Entry{{}, now});
  if (fresh) {
    order_.emplace_back(key, now);
    // The oldest go first: their requesters have most likely given up already.
    while (waiting_.size() > kMaxEntries) drop_oldest();
    it = waiting_.find(key);
    if (it == waiting_.end()) return;
  }
  for (const Waiter& w : it->second.waiters) {
    if (w.route == waiter.route) return;  // the same connection sent it again: one ack is enough
  }
  if (it->second.waiters.size() < kMaxWaitersPerKey) it->second.waiters.push_back(std::move(waiter));
}

std::vector<PendingReplies::Waiter> PendingReplies::take(const std::string& key) {
  auto it = waiting_.find(key);
  if (it == waiting_.end()) return {};
  std::vector<Waiter> waiters = std::move(it->second.waiters);
  waiting_.erase(it);
  return waiters;  // its order_ entry goes when it comes to the front (a key absent or newer there is skipped)
}

void PendingReplies::expire(Clock::time_point now) {
  while (!order_.empty() && (now - order_.front().second > kMaxAge || order_.size() > 2 * kMaxEntries)) drop_oldest();
}

void PendingReplies::drop_oldest() {
  auto it = waiting_.find(order_.front().first);
  // A key taken and expected again has a newer place further back: this one is stale.
  if (it != waiting_.end() && it->second.since == order_.front().second) waiting_.erase(it);
  order_.pop_front();
}

}  // namespace fleetban::relay
