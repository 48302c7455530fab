#include "common/active_decisions.hpp"

#include <algorithm>

namespace fleetban::common {

std::vector<const Decision*> active_by_prefix(const std::vector<Decision>& decisions) {
  std::vector<const Decision*> active;
  active.reserve(decisions.size());
  for (const auto& d : decisions) {
    if (d.active) active.push_back(&d);
  }
  // Prefixes are unique among active decisions, so no two compare equal and the order is total.
  std::sort(active.begin(), active.end(), [](const Decision* a, const Decision* b) { return a->prefix < b->prefix; });
  return active;
}

}  // namespace fleetban::common
