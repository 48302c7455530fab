// Subscribers report in, black box: a real aggregator (CURVE), real subscribers and raw CURVE
// clients. GET /api/v1/hosts and `fleetban hosts` list every admitted key (nulls for a key never
// seen), a following subscriber has lag 0, a stopped one turns stale, a host cannot report for
// another name, a flood of reports is rate limited without growing the aggregator, malformed
// reports are refused or clamped, and the per-host series of /metrics make the spool alerts of
// deploy/prometheus/fleetban.rules.yml fire in `promtool test rules`.
#include "security_helpers.hpp"

#include <httplib.h>

#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <regex>
#include <string>

namespace fleetban::testing {
namespace {

// fleetban.v1.Request{host_report (field 4)}, field by field, valid unless a test spoils a field.
struct WireReport {
  std::string host_id;
  std::uint64_t sequence = 0;
  std::string incarnation;
  std::string backend_error;
  std::int64_t spool_bytes = 0;
  std::int64_t spool_max_bytes = 0;
  std::string version = "test";
};

std::string encode_report(const WireReport& r) {
  std::string body;
  put_bytes(body, 1, r.host_id);
  put_tag(body, 2, 0);
  put_varint(body, r.sequence);
  put_bytes(body, 3, r.incarnation);
  put_bytes(body, 4, r.backend_error);
  put_int(body, 5, r.spool_bytes);
  put_int(body, 6, r.spool_max_bytes);
  put_bytes(body, 7, r.version);
  std::string request;
  put_bytes(request, 4, body);
  return request;
}

// The RSS of a process, in KiB (0 when it cannot be read).
std::uint64_t resident_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

class Hosts : public ::testing::Test {
 protected:
  // web-01 and web-02 run subscribers, web-03 is admitted and never runs one, alice is an operator.
  void SetUp() override {
    web01 = &fleet.add_host("web-01");
    web02 = &fleet.add_host("web-02");
    web03 = &fleet.add_host("web-03");
    alice = &fleet.add_host("alice");
    std::filesystem::create_directories(fleet.authorized_dir() / "operators");
    std::filesystem::rename(fleet.authorized_dir() / "alice.pub", fleet.authorized_dir() / "operators" / "alice.pub");
    fleet.write_aggregator_config("", "127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(fleet.start_aggregator(*web01));
  }

  nlohmann::json api_hosts() {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(std::chrono::seconds(10));
    auto answer = client.Get("/api/v1/hosts");
    if (!answer || answer->status != 200) return nullptr;
    return nlohmann::json::parse(answer->body, nullptr, false);
  }

  std::string metrics() {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(std::chrono::seconds(10));
    auto answer = client.Get("/metrics");
    return answer && answer->status == 200 ? answer->body : std::string();
  }

  static const nlohmann::json* row(const nlohmann::json& document, const std::string& name) {
    if (!document.is_object() || !document.contains("hosts")) return nullptr;
    for (const auto& h : document["hosts"]) {
      if (h["name"] == name) return &h;
    }
    return nullptr;
  }

  // Polls GET /api/v1/hosts until `predicate` holds for the row of `name`.
  ::testing::AssertionResult host_until(const std::string& name, std::string_view what,
                                        const std::function<bool(const nlohmann::json&)>& predicate,
                                        std::chrono::milliseconds timeout = kSoon) {
    nlohmann::json last;
    return poll_until(
        [&] {
          last = api_hosts();
          const auto* h = row(last, name);
          return h != nullptr && predicate(*h);
        },
        deadline_in(timeout), what, [&] { return last.dump(2); });
  }

  std::uint64_t rejected(const std::string& reason) {
    const std::regex sample("fleetban_rejected_input_total\\{reason=\"" + reason + "\"\\} ([0-9]+)");
    std::smatch match;
    const std::string text = metrics();
    return std::regex_search(text, match, sample) ? std::stoull(match[1]) : 0;
  }

  TempDir dir;
  Fleet fleet{dir, SecurityMode::curve};
  std::uint16_t port = free_tcp_port();
  const Host* web01 = nullptr;
  const Host* web02 = nullptr;
  const Host* web03 = nullptr;
  const Host* alice = nullptr;
};

TEST_F(Hosts, FollowingSubscribersHaveLagZeroAndAKeyNeverSeenIsListedWithNulls) {
  fleet.start_subscriber(*web01);
  fleet.start_subscriber(*web02);
  const auto published = fleet.publish(*web01, {"ban", "--ip", "192.0.2.10", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  ASSERT_TRUE(fleet.probe_subscribers(*web01));
  for (const auto* host : {web01, web02}) {
    EXPECT_TRUE(host_until(host->id, host->id + " caught up", [](const nlohmann::json& h) {
      return h["lag"] == 0 && h["subscriber_seen_at"].is_number() && h["stale"] == false && h["behind"] == false &&
             h["backend_error"] == "" && h["spool_max_bytes"].is_number() && h["version"].is_string();
    }));
  }
  const nlohmann::json document = api_hosts();
  const auto* w1 = row(document, "web-01");
  ASSERT_NE(w1, nullptr) << document.dump(2);
  EXPECT_TRUE((*w1)["last_event_at"].is_number()) << w1->dump();
  EXPECT_GE((*w1)["events_24h"].get<int>(), 2) << w1->dump();  // the ban and the probe
  EXPECT_EQ((*w1)["kind"], "host");
  const auto* w3 = row(document, "web-03");
  ASSERT_NE(w3, nullptr) << document.dump(2);
  for (const char* field : {"last_event_at", "subscriber_seen_at", "subscriber_sequence", "lag"}) {
    EXPECT_TRUE((*w3)[field].is_null()) << field << ": " << w3->dump();
  }
  EXPECT_EQ((*w3)["events_24h"], 0);
  EXPECT_EQ((*w3)["stale"], true);
  const auto* a = row(document, "alice");
  ASSERT_NE(a, nullptr) << document.dump(2);
  EXPECT_EQ((*a)["kind"], "operator");
  EXPECT_EQ((*a)["stale"], false);

  // `fleetban hosts --json` prints the same document, over ZeroMQ (the names and fields agree).
  const auto cli = fleetban({"hosts", "--json", "--config", web03->config.string()});
  ASSERT_EQ(cli.exit_code, 0) << describe(cli);
  const auto printed = nlohmann::json::parse(cli.out, nullptr, false);
  ASSERT_FALSE(printed.is_discarded()) << cli.out;
  ASSERT_EQ(printed["hosts"].size(), document["hosts"].size()) << cli.out;
  for (std::size_t i = 0; i < printed["hosts"].size(); ++i) {
    const auto& p = printed["hosts"][i];
    const auto& d = document["hosts"][i];
    EXPECT_EQ(p["name"], d["name"]);
    EXPECT_EQ(p["kind"], d["kind"]);
    EXPECT_EQ(p["last_event_at"], d["last_event_at"]);
    for (const auto& [field, value] : d.items()) EXPECT_TRUE(p.contains(field)) << field;
  }
  // The table for people flags the host whose subscriber never reported in.
  const auto table = fleetban({"hosts", "--config", web01->config.string()});
  ASSERT_EQ(table.exit_code, 0) << describe(table);
  EXPECT_TRUE(has_line_with(table.out, {"web-03", "STALE (never seen)"})) << table.out;
  EXPECT_TRUE(has_line_with(table.out, {"web-01", "ok"})) << table.out;
}

TEST_F(Hosts, AStoppedSubscriberIsFlaggedStale) {
  fleet.start_subscriber(*web01);
  Process& stopped = fleet.start_subscriber(*web02);
  ASSERT_TRUE(host_until("web-02", "web-02 reporting in", [](const auto& h) { return h["lag"] == 0; }));
  stopped.kill(SIGSTOP);
  EXPECT_TRUE(host_until(
      "web-02", "web-02 stale", [](const auto& h) { return h["stale"] == true; }, std::chrono::seconds(60)));
  const auto table = fleetban({"hosts", "--config", web01->config.string()});
  EXPECT_TRUE(has_line_with(table.out, {"web-02", "STALE"})) << table.out;
  EXPECT_FALSE(row(api_hosts(), "web-01")->at("stale").get<bool>());
  stopped.kill(SIGCONT);
  EXPECT_TRUE(host_until("web-02", "web-02 back", [](const auto& h) { return h["stale"] == false; }));
}

TEST_F(Hosts, AHostCannotReportForAnotherName) {
  auto web01_key = connect_raw(fleet, "web-01");
  ASSERT_TRUE(web01_key->send({encode_report({.host_id = "web-03", .spool_bytes = 777})}));
  EXPECT_TRUE(aggregator_logged(fleet, {"host_report_refused", "key=web-01", "does not match"}));
  EXPECT_TRUE(row(api_hosts(), "web-03")->at("subscriber_seen_at").is_null());
  // Its own key may.
  auto web03_key = connect_raw(fleet, "web-03");
  ASSERT_TRUE(web03_key->send({encode_report({.host_id = "web-03", .spool_bytes = 777})}));
  EXPECT_TRUE(host_until("web-03", "web-03's own report", [](const auto& h) { return h["spool_bytes"] == 777; }));
}

TEST_F(Hosts, MalformedReportsAreRefusedOrClamped) {
  auto web03_key = connect_raw(fleet, "web-03");
  const auto malformed_before = rejected("malformed");
  ASSERT_TRUE(web03_key->send({encode_report({.host_id = "web-03", .spool_bytes = -1})}));
  ASSERT_TRUE(web03_key->send({encode_report({.host_id = "web-03", .sequence = std::uint64_t{1} << 60})}));
  ASSERT_TRUE(web03_key->send({encode_report({.host_id = "web-03", .spool_max_bytes = INT64_MAX})}));
  EXPECT_TRUE(poll_until([&] { return rejected("malformed") >= malformed_before + 3; }, deadline_in(kSoon),
                         "three malformed reports counted", [&] { return fleet.aggregator()->log(); }));
  EXPECT_TRUE(row(api_hosts(), "web-03")->at("subscriber_seen_at").is_null());
  // Long (under the 64 KiB frame limit, beyond which libzmq drops the connection): clamped.
  ASSERT_TRUE(web03_key->send({encode_report({.host_id = "web-03", .backend_error = std::string(50'000, 'e')})}));
  EXPECT_TRUE(host_until("web-03", "a clamped backend error", [](const auto& h) {
    return h["backend_error"].is_string() && h["backend_error"].template get<std::string>().size() == 256;
  }));
  EXPECT_TRUE(fleet.aggregator()->running());
}

TEST_F(Hosts, AFloodOfReportsIsRateLimitedAndDoesNotGrowTheAggregator) {
  auto web03_key = connect_raw(fleet, "web-03");
  ASSERT_TRUE(web03_key->send({encode_report({.host_id = "web-03"})}));
  ASSERT_TRUE(host_until("web-03", "web-03 reporting", [](const auto& h) { return h["lag"].is_number(); }));
  const auto limited_before = rejected("rate_limited");
  const auto rss_before = resident_kib(fleet.aggregator()->pid());
  constexpr int kFlood = 50'000;
  for (int i = 0; i < kFlood; ++i) {
    ASSERT_TRUE(web03_key->send({encode_report({.host_id = "web-03", .spool_bytes = i})}));
  }
  // Most of them are dropped by the key's share; what passes lands in web-03's one row.
  EXPECT_TRUE(poll_until([&] { return rejected("rate_limited") >= limited_before + kFlood / 2; }, deadline_in(kSoon),
                         "the flood rate limited"));
  const auto document = api_hosts();
  EXPECT_EQ(document["hosts"].size(), 4u) << document.dump(2);
  const auto rss_after = resident_kib(fleet.aggregator()->pid());
  // Nothing is kept per report: what the flood may cost is libzmq's buffers, not a table's growth.
  // Under AddressSanitizer (make test-asan) every freed block stays resident in its quarantine
  // (256 MiB by default) before it is reused, so there the bound is the quarantine's.
#ifdef __SANITIZE_ADDRESS__
  constexpr std::uint64_t kAsanQuarantineKib = 256 * 1024;
#else
  constexpr std::uint64_t kAsanQuarantineKib = 0;
#endif
  EXPECT_LT(rss_after, rss_before + 32 * 1024 + kAsanQuarantineKib)
      << "RSS before " << rss_before << " KiB, after " << rss_after << " KiB";
}

// The spool alerts could never fire before hosts reported their spools: from the series a real
// aggregator serves, a nearly full spool makes FleetbanSpoolFull fire, a fuller-than-half one
// FleetbanSpoolFilling, and an empty one neither.
TEST_F(Hosts, RealPerHostSeriesMakeTheSpoolAlertsFire) {
  auto web02_key = connect_raw(fleet, "web-02");
  auto web03_key = connect_raw(fleet, "web-03");
  ASSERT_TRUE(web02_key->send({encode_report({.host_id = "web-02", .spool_bytes = 600, .spool_max_bytes = 1000})}));
  ASSERT_TRUE(web03_key->send({encode_report({.host_id = "web-03", .spool_bytes = 950, .spool_max_bytes = 1000})}));
  fleet.start_subscriber(*web01);
  std::string text;
  ASSERT_TRUE(poll_until(
      [&] {
        text = metrics();
        return text.find("fleetban_host_spool_bytes{host=\"web-01\"") != std::string::npos &&
               text.find("fleetban_host_spool_bytes{host=\"web-03\"") != std::string::npos &&
               text.find("fleetban_host_spool_bytes{host=\"web-02\"") != std::string::npos;
      },
      deadline_in(kSoon), "the spool series of web-01, web-02 and web-03", [&] { return text; }));
  // Each scraped spool sample becomes a constant input series of the rules test.
  std::string series;
  const std::regex sample(R"((fleetban_host_spool_(?:limit_)?bytes)\{([^}]*)\} ([0-9]+))");
  for (std::sregex_iterator it(text.begin(), text.end(), sample), end; it != end; ++it) {
    series += "      - series: '" + (*it)[1].str() + "{" + (*it)[2].str() + "}'\n        values: '" + (*it)[3].str() +
              "x20'\n";
  }
  const auto rules = std::filesystem::path(FLEETBAN_SOURCE_DIR) / "deploy/prometheus/fleetban.rules.yml";
  const std::string test = "rule_files:\n  - " + rules.string() +
                           "\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" + series +
                           "    alert_rule_test:\n"
                           "      - eval_time: 5m\n        alertname: FleetbanSpoolFull\n        exp_alerts:\n"
                           "          - exp_labels: {severity: critical, host: web-03, kind: host}\n"
                           "            exp_annotations:\n"
                           "              summary: \"the fleetban spool of web-03 is nearly full\"\n"
                           "              description: \"web-03's spool is 95% full: its next reports will be lost. "
                           "See `fleetban status` and `spool_dir/bad/` there.\"\n"
                           "      - eval_time: 15m\n        alertname: FleetbanSpoolFilling\n        exp_alerts:\n"
                           "          - exp_labels: {severity: warning, host: web-02, kind: host}\n"
                           "            exp_annotations:\n"
                           "              summary: \"the fleetban spool of web-02 is 60% full\"\n"
                           "              description: \"Reports from web-02 are not reaching the aggregator (refused, "
                           "throttled or unreachable); once the spool is full new reports are lost. See `fleetban "
                           "status` there.\"\n"
                           "          - exp_labels: {severity: warning, host: web-03, kind: host}\n"
                           "            exp_annotations:\n"
                           "              summary: \"the fleetban spool of web-03 is 95% full\"\n"
                           "              description: \"Reports from web-03 are not reaching the aggregator (refused, "
                           "throttled or unreachable); once the spool is full new reports are lost. See `fleetban "
                           "status` there.\"\n";
  const auto file = dir / "spool.rules.test.yml";
  write_file(file, test);
  const auto checked = run({"promtool", "test", "rules", file.string()});
  EXPECT_EQ(checked.exit_code, 0) << describe(checked) << "\n" << test << "\n" << text;
}

}  // namespace
}  // namespace fleetban::testing
