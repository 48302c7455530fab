// `fleetban hosts`' table: one line per key, STALE, BEHIND and a failing backend flagged, nulls
// shown as "never" or "-"; and the per-host series of /metrics drawn from the same rows.

#include "cli/hosts_command.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "aggregator/host_metrics.hpp"

namespace {

using namespace fleetban::common;

constexpr std::int64_t T = 1'795'650'000;

Hosts sample() {
  Hosts hosts{"", from_unix(T), 50, {}};
  hosts.hosts.push_back(HostEntry{.name = "web-01",
                                  .kind = HostKind::host,
                                  .last_event_at = from_unix(T - 300),
                                  .events_24h = 12,
                                  .subscriber_seen_at = from_unix(T - 3),
                                  .subscriber_sequence = 50,
                                  .lag = 0,
                                  .backend_error = "",
                                  .spool_bytes = 25,
                                  .spool_max_bytes = 100,
                                  .version = "0.1.0"});
  hosts.hosts.push_back(HostEntry{.name = "web-02",
                                  .kind = HostKind::host,
                                  .subscriber_seen_at = from_unix(T - 4),
                                  .subscriber_sequence = 40,
                                  .lag = 10,
                                  .backend_error = "",
                                  .spool_bytes = 0,
                                  .spool_max_bytes = 0,
                                  .behind = true});
  hosts.hosts.push_back(HostEntry{.name = "web-03", .kind = HostKind::host, .stale = true});
  hosts.hosts.push_back(HostEntry{.name = "web-04",
                                  .kind = HostKind::host,
                                  .subscriber_seen_at = from_unix(T - 2),
                                  .subscriber_sequence = 50,
                                  .lag = 0,
                                  .backend_error = "2 ban(s) and 0 unban(s) failed; retrying"});
  hosts.hosts.push_back(HostEntry{.name = "alice", .kind = HostKind::operator_, .last_event_at = from_unix(T - 7200)});
  return hosts;
}

std::string line_of(const std::string& text, std::string_view name) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) == 0) return line;
  }
  return {};
}

TEST(HostsCommand, TheTableFlagsStaleBehindAndFailingHosts) {
  std::ostringstream out;
  fleetban::cli::print_hosts_table(sample(), out);
  const std::string text = out.str();
  EXPECT_NE(line_of(text, "web-01").find("3s ago"), std::string::npos) << text;
  EXPECT_NE(line_of(text, "web-01").find("5m ago"), std::string::npos) << text;
  EXPECT_NE(line_of(text, "web-01").find("25%"), std::string::npos) << text;
  EXPECT_NE(line_of(text, "web-01").find(" ok"), std::string::npos) << text;
  EXPECT_NE(line_of(text, "web-02").find("BEHIND"), std::string::npos) << text;
  EXPECT_NE(line_of(text, "web-03").find("STALE (never seen)"), std::string::npos) << text;
  EXPECT_NE(line_of(text, "web-03").find("never"), std::string::npos) << text;
  EXPECT_NE(line_of(text, "web-04").find("BACKEND FAILING: 2 ban(s)"), std::string::npos) << text;
  EXPECT_NE(line_of(text, "alice").find("operator"), std::string::npos) << text;
  EXPECT_NE(line_of(text, "alice").find("2h ago"), std::string::npos) << text;
  EXPECT_NE(text.find("5 keys admitted, 2 stale or behind, at sequence 50"), std::string::npos) << text;
}

TEST(HostMetrics, SeriesOnlyWhereKnownLabelledWithHostAndKind) {
  const std::string text = fleetban::aggregator::render_host_metrics(sample());
  EXPECT_NE(text.find("fleetban_host_lag{host=\"web-02\",kind=\"host\"} 10\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fleetban_host_spool_bytes{host=\"web-01\",kind=\"host\"} 25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fleetban_host_spool_limit_bytes{host=\"web-01\",kind=\"host\"} 100\n"), std::string::npos);
  EXPECT_NE(text.find("fleetban_host_last_event_timestamp_seconds{host=\"alice\",kind=\"operator\"} " +
                      std::to_string(T - 7200) + "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("fleetban_host_subscriber_last_seen_timestamp_seconds{host=\"web-01\",kind=\"host\"} " +
                      std::to_string(T - 3) + "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("fleetban_host_backend_up{host=\"web-04\",kind=\"host\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fleetban_host_backend_up{host=\"web-01\",kind=\"host\"} 1\n"), std::string::npos) << text;
  // A key never seen has no subscriber series (and never a 0 that would read as "caught up").
  EXPECT_EQ(text.find("fleetban_host_lag{host=\"web-03\""), std::string::npos) << text;
  EXPECT_EQ(text.find("fleetban_host_last_event_timestamp_seconds{host=\"web-03\""), std::string::npos) << text;
  // One HELP and TYPE per family.
  EXPECT_EQ(text.find("# TYPE fleetban_host_lag gauge"), text.rfind("# TYPE fleetban_host_lag gauge"));
}

}  // namespace
