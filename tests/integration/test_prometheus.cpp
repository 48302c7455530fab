// Prometheus, black box: a real aggregator's /metrics passes `promtool check metrics` (the parser
// and linter Prometheus itself ships), and every series deploy/prometheus/fleetban.rules.yml alerts
// on is one the aggregator serves (the fleetban_ha_* ones: test_ha_group).
#include "fleet.hpp"
#include "prometheus_series.hpp"

#include <httplib.h>

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace fleetban::testing {
namespace {

// The per-host series: served once a host has reported (its events) and its subscriber has reported in.
const std::set<std::string> kPerHostSeries{
    "fleetban_host_lag",
    "fleetban_host_last_event_timestamp_seconds",
    "fleetban_host_subscriber_last_seen_timestamp_seconds",
    "fleetban_host_spool_bytes",
    "fleetban_host_spool_limit_bytes",
};

class Prometheus : public ::testing::Test {
 protected:
  // The aggregator with `http` on, after a few publishes and with a subscriber reporting in: every
  // counter and the histogram have values, the refusal counter a label value beside zero, and
  // web-01 every per-host series.
  std::string metrics_after_some_events() {
    const Host& host = fleet.add_host("web-01");
    fleet.write_aggregator_config("", "127.0.0.1:" + std::to_string(port));
    if (!fleet.start_aggregator(host)) return {};
    for (const char* ip : {"192.0.2.10", "198.51.100.0/24", "2001:db8::5"}) {
      const auto result = fleet.publish(host, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "600"});
      EXPECT_EQ(result.exit_code, 0) << describe(result);
    }
    const auto unban = fleet.publish(host, {"unban", "--ip", "192.0.2.10", "--jail", "sshd"});
    EXPECT_EQ(unban.exit_code, 0) << describe(unban);
    const auto refused = fleet.publish(host, {"ban", "--ip", "127.0.0.1", "--jail", "sshd", "--bantime", "600"});
    EXPECT_NE(refused.exit_code, -1) << describe(refused);

    fleet.start_subscriber(host);
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(std::chrono::seconds(10));
    std::string body;
    const bool served = poll_until(
        [&] {
          auto answer = client.Get("/metrics");
          body = answer && answer->status == 200 ? answer->body : "";
          return body.find("fleetban_host_lag{host=\"web-01\"") != std::string::npos;
        },
        deadline_in(kSoon), "web-01's subscriber in /metrics", [&] { return body; });
    EXPECT_TRUE(served);
    return body;
  }

  TempDir dir;
  Fleet fleet{dir};
  std::uint16_t port = free_tcp_port();
};

TEST_F(Prometheus, MetricsPassPromtoolCheckMetrics) {
  const std::string metrics = metrics_after_some_events();
  ASSERT_FALSE(metrics.empty());
  const auto file = dir / "metrics.txt";
  write_file(file, metrics);
  // promtool reads the exposition on stdin; `run` gives a command /dev/null there.
  const auto checked = run({"sh", "-c",
                            "command -v promtool >/dev/null || { echo 'promtool not found: make deps' >&2; "
                            "exit 127; }; promtool check metrics < \"$1\"",
                            "sh", file.string()});
  EXPECT_EQ(checked.exit_code, 0) << describe(checked) << "\n" << metrics;
}

TEST_F(Prometheus, RulesAlertOnSeriesTheAggregatorServes) {
  const std::string metrics = metrics_after_some_events();
  ASSERT_FALSE(metrics.empty());
  const std::set<std::string> served = series_served(metrics);
  const std::set<std::string> named = series_in_rules();
  ASSERT_FALSE(named.empty()) << "cannot read deploy/prometheus/fleetban.rules.yml under " << FLEETBAN_SOURCE_DIR;
  for (const auto& name : named) {
    // Served by HA members only (PostgreSQL state): HaGroup checks those on real members.
    if (is_ha_series(name) || is_relay_series(name)) continue;
    EXPECT_TRUE(served.contains(name)) << name << " is in the rules but not in /metrics:\n" << metrics;
  }
  for (const auto& name : kPerHostSeries) {
    EXPECT_TRUE(named.contains(name)) << name << " is expected in the rules";
    EXPECT_TRUE(served.contains(name)) << name << " is not in /metrics:\n" << metrics;
  }
}

}  // namespace
}  // namespace fleetban::testing
