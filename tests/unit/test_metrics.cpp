// The aggregator's counters (aggregator/metrics.hpp) and their Prometheus text: every series
// present from the start, counts by label, the commit histogram cumulative, the gauges as set.

#include "aggregator/metrics.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace {

using fleetban::aggregator::EventOutcome;
using fleetban::aggregator::kCommitBuckets;
using fleetban::aggregator::kRejectReasonNames;
using fleetban::aggregator::Metrics;
using fleetban::aggregator::RejectReason;

// The samples of an exposition: "name{labels}" -> value; comments checked to be HELP or TYPE.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("#")) {
      EXPECT_TRUE(line.starts_with("# HELP ") || line.starts_with("# TYPE ")) << line;
      continue;
    }
    auto space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    EXPECT_TRUE(out.emplace(line.substr(0, space), line.substr(space + 1)).second) << "twice: " << line;
  }
  return out;
}

TEST(Metrics, FreshMetricsShowEverySeriesAtZero) {
  Metrics metrics;
  auto s = samples(metrics.render_prometheus());
  for (const char* kind : {"ban", "unban"}) {
    for (const char* outcome : {"applied", "duplicate", "refused"}) {
      EXPECT_EQ(s[std::string("fleetban_events_total{kind=\"") + kind + "\",outcome=\"" + outcome + "\"}"], "0");
    }
  }
  for (auto reason : kRejectReasonNames) {
    EXPECT_EQ(s["fleetban_rejected_input_total{reason=\"" + std::string(reason) + "\"}"], "0") << reason;
  }
  EXPECT_EQ(s["fleetban_commit_seconds_bucket{le=\"+Inf\"}"], "0");
  EXPECT_EQ(s["fleetban_commit_seconds_count"], "0");
  for (const char* gauge : {"fleetban_active_bans", "fleetban_records", "fleetban_last_sequence",
                            "fleetban_subscribers", "fleetban_reporters", "fleetban_snapshots_total"}) {
    EXPECT_EQ(s[gauge], "0") << gauge;
  }
}

TEST(Metrics, EventsAreCountedByKindAndOutcome) {
  Metrics metrics;
  metrics.count_event(false, EventOutcome::applied);
  metrics.count_event(false, EventOutcome::applied);
  metrics.count_event(true, EventOutcome::duplicate);
  metrics.count_event(false, EventOutcome::refused);
  auto s = samples(metrics.render_prometheus());
  EXPECT_EQ(s["fleetban_events_total{kind=\"ban\",outcome=\"applied\"}"], "2");
  EXPECT_EQ(s["fleetban_events_total{kind=\"unban\",outcome=\"duplicate\"}"], "1");
  EXPECT_EQ(s["fleetban_events_total{kind=\"ban\",outcome=\"refused\"}"], "1");
  EXPECT_EQ(s["fleetban_events_total{kind=\"unban\",outcome=\"applied\"}"], "0");
}

TEST(Metrics, RejectionsAreCountedByReason) {
  Metrics metrics;
  metrics.count_rejected(RejectReason::own_link);
  metrics.count_rejected(RejectReason::own_link);
  metrics.count_rejected(RejectReason::malformed);
  auto s = samples(metrics.render_prometheus());
  EXPECT_EQ(s["fleetban_rejected_input_total{reason=\"own_link\"}"], "2");
  EXPECT_EQ(s["fleetban_rejected_input_total{reason=\"malformed\"}"], "1");
  EXPECT_EQ(s["fleetban_rejected_input_total{reason=\"rate_limited\"}"], "0");
}

TEST(Metrics, CommitHistogramIsCumulativeWithSumAndCount) {
  Metrics metrics;
  metrics.observe_commit(std::chrono::microseconds(300));        // <= 0.0005
  metrics.observe_commit(std::chrono::microseconds(1'500));      // <= 0.002
  metrics.observe_commit(std::chrono::microseconds(2'000));      // <= 0.002, on the bound
  metrics.observe_commit(std::chrono::microseconds(3'000'000));  // beyond every bucket
  auto s = samples(metrics.render_prometheus());
  EXPECT_EQ(s["fleetban_commit_seconds_bucket{le=\"0.0005\"}"], "1");
  EXPECT_EQ(s["fleetban_commit_seconds_bucket{le=\"0.001\"}"], "1");
  EXPECT_EQ(s["fleetban_commit_seconds_bucket{le=\"0.002\"}"], "3");
  EXPECT_EQ(s["fleetban_commit_seconds_bucket{le=\"1\"}"], "3");
  EXPECT_EQ(s["fleetban_commit_seconds_bucket{le=\"+Inf\"}"], "4");
  EXPECT_EQ(s["fleetban_commit_seconds_count"], "4");
  EXPECT_DOUBLE_EQ(std::stod(s["fleetban_commit_seconds_sum"]), 3.0038);
  // Buckets never decrease.
  std::uint64_t previous = 0;
  for (double bound : kCommitBuckets) {
    std::ostringstream le;
    le << bound;
    auto value = std::stoull(s["fleetban_commit_seconds_bucket{le=\"" + le.str() + "\"}"]);
    EXPECT_GE(value, previous) << bound;
    previous = value;
  }
}

TEST(Metrics, GaugesShowTheirLastValue) {
  Metrics metrics;
  metrics.active_bans = 12;
  metrics.records = 40;
  metrics.last_sequence = 999;
  metrics.subscribers = 3;
  metrics.reporters = 5;
  metrics.snapshots_served = 7;
  metrics.active_bans = 11;
  auto s = samples(metrics.render_prometheus());
  EXPECT_EQ(s["fleetban_active_bans"], "11");
  EXPECT_EQ(s["fleetban_records"], "40");
  EXPECT_EQ(s["fleetban_last_sequence"], "999");
  EXPECT_EQ(s["fleetban_subscribers"], "3");
  EXPECT_EQ(s["fleetban_reporters"], "5");
  EXPECT_EQ(s["fleetban_snapshots_total"], "7");
}

TEST(Metrics, HaGaugesShowOnlyInAGroupAndSayWhetherThisMemberIsActive) {
  Metrics metrics;
  EXPECT_EQ(metrics.render_prometheus().find("fleetban_ha_"), std::string::npos);  // SQLite: no group
  metrics.ha_role = Metrics::HaRole::waiting;
  metrics.ha_epoch = 4;
  metrics.ha_since = 1795600000;
  auto s = samples(metrics.render_prometheus());
  EXPECT_EQ(s["fleetban_ha_active"], "0");
  EXPECT_EQ(s["fleetban_ha_epoch"], "4");
  EXPECT_EQ(s["fleetban_ha_active_since_seconds"], "1795600000");
  EXPECT_TRUE(metrics.waiting());
  metrics.ha_role = Metrics::HaRole::active;
  EXPECT_EQ(samples(metrics.render_prometheus())["fleetban_ha_active"], "1");
  EXPECT_FALSE(metrics.waiting());
}

TEST(Metrics, EveryFamilyHasHelpAndType) {
  Metrics metrics;
  std::string text = metrics.render_prometheus();
  for (const char* family :
       {"fleetban_events_total counter", "fleetban_rejected_input_total counter", "fleetban_commit_seconds histogram",
        "fleetban_active_bans gauge", "fleetban_snapshots_total counter"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + family + "\n"), std::string::npos) << family;
  }
  EXPECT_TRUE(text.ends_with("\n"));
}

}  // namespace
