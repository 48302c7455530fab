#include "relay/live_copy.hpp"

namespace fleetban::relay {

void LiveCopy::replace(std::uint64_t sequence, std::string incarnation, std::vector<common::Decision> active) {
  decisions_.clear();
  decisions_.reserve(active.size());
  for (auto& decision : active) {
    if (!decision.active) continue;  // a snapshot holds active ones only; a bad upstream must not change that
    common::IpPrefix prefix = decision.prefix;
    decisions_.insert_or_assign(prefix, std::move(decision));
  }
  sequence_ = sequence;
  incarnation_ = std::move(incarnation);
  ready_ = true;
}

void LiveCopy::apply(const common::Decision& decision) {
  if (decision.active) {
    decisions_.insert_or_assign(decision.prefix, decision);
  } else {
    decisions_.erase(decision.prefix);
  }
  if (decision.sequence > sequence_) sequence_ = decision.sequence;
}

void LiveCopy::for_each_active(const std::function<bool(common::Decision&&)>& take) const {
  for (const auto& [prefix, decision] : decisions_) {
    if (!take(common::Decision(decision))) return;
  }
}

}  // namespace fleetban::relay
