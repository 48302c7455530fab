#include "common/bans_json.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace fleetban::common {

std::string bans_json(const std::vector<Decision>& decisions) {
  std::vector<const Decision*> active;
  for (const auto& d : decisions) {
    if (d.active) active.push_back(&d);
  }
  std::sort(active.begin(), active.end(), [](const Decision* a, const Decision* b) { return a->prefix < b->prefix; });
  nlohmann::json bans = nlohmann::json::array();
  for (const Decision* d : active) {
    bans.push_back({
        {"ip", d->prefix.to_string()},
        {"expires_at", d->expires_at ? nlohmann::json(to_unix(*d->expires_at)) : nlohmann::json(nullptr)},
        {"reporters", d->reporters},
        {"jails", d->jails},
        {"ban_count", d->ban_count},
    });
  }
  return nlohmann::json{{"bans", std::move(bans)}}.dump();
}

}  // namespace fleetban::common
