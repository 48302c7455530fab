// The series names deploy/prometheus/fleetban.rules.yml reads, and those a /metrics text serves:
// the tests that hold the rules to what the aggregator really serves (test_prometheus for one
// on SQLite, test_ha_group for the fleetban_ha_* series only members of an HA group serve,
// test_relays for the fleetban_relay_* series of a relay).
#pragma once

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "harness.hpp"

namespace fleetban::testing {

// Every fleetban_* name in the rules file (empty when it cannot be read).
inline std::set<std::string> series_in_rules() {
  const std::string rules =
      read_file(std::filesystem::path(FLEETBAN_SOURCE_DIR) / "deploy/prometheus/fleetban.rules.yml");
  std::set<std::string> named;
  const std::regex series(R"(fleetban_[a-z0-9_]+)");
  for (std::sregex_iterator it(rules.begin(), rules.end(), series), end; it != end; ++it) named.insert(it->str());
  return named;
}

// Every fleetban_* series with a sample in a Prometheus text exposition.
inline std::set<std::string> series_served(const std::string& metrics) {
  std::set<std::string> served;
  const std::regex sample(R"(^(fleetban_[a-z0-9_]+)[{ ])");
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_search(line, match, sample)) served.insert(match[1]);
  }
  return served;
}

// The series only the members of an HA group (PostgreSQL state) serve.
inline bool is_ha_series(const std::string& name) { return name.starts_with("fleetban_ha_"); }

// The series only relays serve (Relays checks those on a real relay).
inline bool is_relay_series(const std::string& name) { return name.starts_with("fleetban_relay_"); }

}  // namespace fleetban::testing
