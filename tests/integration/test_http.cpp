// The aggregator's HTTP server, black box: GET /api/v1/bans against `fleetban list --json` and a
// subscriber, its filters, its pages, the blocklist export, /metrics as Prometheus text, /healthz,
// refused writes, and the dashboard (and its pages) as a real headless Chromium renders it.
#include "chromium.hpp"
#include "fleet.hpp"

#include <httplib.h>

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace fleetban::testing {
namespace {

// What one request got back.
struct Answer {
  int status = -1;  // -1: no answer at all
  std::string content_type;
  std::string body;
  std::string error;  // why there was no answer
};

// ---------------------------------------------------------------- Prometheus text

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

bool metric_name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)) != 0);
}

std::optional<double> prometheus_number(const std::string& text) {
  if (text == "+Inf" || text == "Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  if (text == "NaN") return NAN;
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

// Parses `name{label="value",...} value`; nullopt (and *why) if the line is anything else.
std::optional<Sample> parse_sample(const std::string& line, std::string* why) {
  Sample sample;
  std::size_t at = 0;
  while (at < line.size() && metric_name_char(line[at], at == 0)) ++at;
  sample.name = line.substr(0, at);
  if (sample.name.empty()) {
    *why = "no metric name";
    return std::nullopt;
  }
  if (at < line.size() && line[at] == '{') {
    ++at;
    while (at < line.size() && line[at] != '}') {
      const std::size_t start = at;
      while (at < line.size() && metric_name_char(line[at], at == start) && line[at] != ':') ++at;
      const std::string label = line.substr(start, at - start);
      if (label.empty() || line.compare(at, 2, "=\"") != 0) {
        *why = "a label is not name=\"value\"";
        return std::nullopt;
      }
      at += 2;
      std::string value;
      while (at < line.size() && line[at] != '"') {
        if (line[at] == '\\' && at + 1 < line.size()) ++at;
        value += line[at++];
      }
      if (at >= line.size()) {
        *why = "an unterminated label value";
        return std::nullopt;
      }
      ++at;  // the closing quote
      if (!sample.labels.emplace(label, value).second) {
        *why = "label " + label + " twice";
        return std::nullopt;
      }
      if (at < line.size() && line[at] == ',') ++at;
    }
    if (at >= line.size()) {
      *why = "no closing brace";
      return std::nullopt;
    }
    ++at;  // '}'
  }
  if (at >= line.size() || line[at] != ' ') {
    *why = "no space before the value";
    return std::nullopt;
  }
  const auto value = prometheus_number(line.substr(at + 1));
  if (!value) {
    *why = "the value is not a number";
    return std::nullopt;
  }
  sample.value = *value;
  return sample;
}

// Checks a /metrics body: every line a comment or `name{labels} value` with a numeric value,
// and every sample in a family declared by an earlier `# TYPE` line. Returns the samples;
// each problem found is added to *problems.
std::vector<Sample> parse_prometheus(const std::string& text, std::vector<std::string>* problems) {
  static const std::set<std::string> kTypes{"counter", "gauge", "histogram", "summary", "untyped"};
  std::map<std::string, std::string> types;  // family -> type
  std::vector<Sample> samples;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    const std::string where = "line " + std::to_string(number) + " `" + line + "`: ";
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, family, type;
      words >> hash >> keyword >> family >> type;
      if (keyword == "TYPE") {
        if (kTypes.count(type) == 0) problems->push_back(where + "unknown type");
        if (!types.emplace(family, type).second) problems->push_back(where + "a second TYPE");
      }
      continue;
    }
    std::string why;
    auto sample = parse_sample(line, &why);
    if (!sample) {
      problems->push_back(where + why);
      continue;
    }
    std::string family = sample->name;
    if (types.count(family) == 0) {
      for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
        const auto& name = sample->name;
        if (name.size() > suffix.size() && name.ends_with(suffix)) {
          const std::string base = name.substr(0, name.size() - suffix.size());
          const auto type = types.find(base);
          if (type != types.end() &&
              (type->second == "histogram" || (type->second == "summary" && suffix != "_bucket"))) {
            family = base;
          }
        }
      }
    }
    const auto type = types.find(family);
    if (type == types.end()) {
      problems->push_back(where + "no # TYPE line for its family before it");
    } else if (type->second == "histogram" && sample->name == family + "_bucket" && sample->labels.count("le") == 0) {
      problems->push_back(where + "a histogram bucket without le");
    }
    samples.push_back(std::move(*sample));
  }
  return samples;
}

std::optional<double> find_sample(const std::vector<Sample>& samples, std::string_view name,
                                  const std::map<std::string, std::string>& labels) {
  for (const auto& sample : samples) {
    if (sample.name == name && sample.labels == labels) return sample.value;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- the fixture

std::vector<std::string> sorted_ips(const nlohmann::json& document) {
  std::vector<std::string> ips;
  if (document.contains("bans") && document["bans"].is_array()) {
    for (const auto& ban : document["bans"]) ips.push_back(ban.value("ip", std::string("?")));
  }
  std::sort(ips.begin(), ips.end());
  return ips;
}

// The last "<ip> <expires>" that the exec backend recorded for each address.
std::map<std::string, std::string> enforced_expiries(const std::filesystem::path& log) {
  std::map<std::string, std::string> last;
  std::istringstream lines(read_file(log));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string ip, expires;
    if (words >> ip >> expires) last[ip] = expires;
  }
  return last;
}

class Http : public ::testing::Test {
 protected:
  void SetUp() override {
    // Fleet writes `http = ""` (off); this suite turns it on, on a port of its own.
    const std::string toml = read_file(fleet.aggregator_config());
    std::istringstream lines(toml);
    std::string line, rewritten;
    bool replaced = false;
    while (std::getline(lines, line)) {
      if (line.rfind("http", 0) == 0 && line.find('=') != std::string::npos &&
          line.substr(4, line.find('=') - 4).find_first_not_of(' ') == std::string::npos) {
        line = "http = " + toml_string(address());
        replaced = true;
      }
      rewritten += line + "\n";
    }
    ASSERT_TRUE(replaced) << "no http key to replace in " << fleet.aggregator_config() << ":\n" << toml;
    write_file(fleet.aggregator_config(), rewritten);
    client.set_connection_timeout(std::chrono::seconds(5));
    client.set_read_timeout(std::chrono::seconds(10));
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port); }

  Answer request(const std::string& method, const std::string& path) {
    httplib::Result result = method == "GET"    ? client.Get(path)
                             : method == "POST" ? client.Post(path, R"({"bans":[]})", "application/json")
                             : method == "PUT"  ? client.Put(path, "x", "text/plain")
                                                : client.Delete(path);
    Answer answer;
    if (!result) {
      answer.error = method + " " + path + ": " + httplib::to_string(result.error());
      return answer;
    }
    answer.status = result->status;
    answer.content_type = result->get_header_value("Content-Type");
    answer.body = result->body;
    return answer;
  }
  Answer get(const std::string& path) { return request("GET", path); }

  // GET path as JSON (a discarded value when it is not JSON).
  nlohmann::json get_json(const std::string& path, Answer* answer = nullptr) {
    Answer got = get(path);
    auto document = nlohmann::json::parse(got.body, nullptr, /*allow_exceptions=*/false);
    if (answer != nullptr) *answer = got;
    return document;
  }

  // Publishes a ban and counts it for fleetban_events_total.
  ::testing::AssertionResult ban(const Host& host, const std::string& ip, const std::string& jail,
                                 const std::string& bantime) {
    const auto result = fleet.publish(host, {"ban", "--ip", ip, "--jail", jail, "--bantime", bantime});
    if (result.exit_code != 0) return ::testing::AssertionFailure() << describe(result);
    ++bans_published;
    return ::testing::AssertionSuccess();
  }

  TempDir dir;
  Fleet fleet{dir};
  std::uint16_t port = free_tcp_port();
  httplib::Client client{"127.0.0.1", port};
  int bans_published = 0;
};

std::string describe_answer(const Answer& answer) {
  if (answer.status < 0) return "no answer: " + answer.error;
  return "HTTP " + std::to_string(answer.status) + " (" + answer.content_type + ")\n" + answer.body;
}

TEST_F(Http, BansDocumentIsWhatFleetbanListPrintsAndWhatASubscriberEnforces) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  fleet.start_subscriber(host2);
  ASSERT_TRUE(fleet.probe_subscribers(host1));

  ASSERT_TRUE(ban(host1, "192.0.2.10", "sshd", "600"));
  ASSERT_TRUE(ban(host2, "198.51.100.0/24", "nginx", "3600"));
  ASSERT_TRUE(ban(host1, "2001:db8::5", "postfix", "-1"));
  ASSERT_TRUE(ban(host2, "2001:db8::5", "sshd", "600"));
  for (const char* ip : {"192.0.2.10", "198.51.100.0/24", "2001:db8::5"}) {
    ASSERT_TRUE(fleet.enforced(host2, ip));
  }
  ASSERT_TRUE(fleet.probe_subscribers(host1));  // every decision above has reached host2

  Answer answer;
  const nlohmann::json served = get_json("/api/v1/bans", &answer);
  ASSERT_EQ(answer.status, 200) << describe_answer(answer);
  EXPECT_EQ(answer.content_type, "application/json");
  ASSERT_FALSE(served.is_discarded()) << describe_answer(answer);

  const auto listed = fleet.list(host1);
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  const nlohmann::json printed = nlohmann::json::parse(listed.out, nullptr, false);
  ASSERT_FALSE(printed.is_discarded()) << describe(listed);
  EXPECT_EQ(served, printed) << "GET /api/v1/bans:\n"
                             << served.dump(2) << "\nfleetban list --json:\n"
                             << printed.dump(2);

  const nlohmann::json* both = find_ban(served, "2001:db8::5");
  ASSERT_NE(both, nullptr) << served.dump(2);
  EXPECT_TRUE((*both)["expires_at"].is_null()) << "a permanent report makes a permanent ban: " << both->dump();

  // The subscriber's exec backend was given the same bans, with the same expiry.
  const auto enforced = enforced_expiries(host2.ban_log);
  std::set<std::string> lifted;
  for (const auto& ip : recorded_addresses(host2.unban_log)) lifted.insert(ip);
  std::vector<std::string> held;
  for (const auto& [ip, expires] : enforced) {
    if (lifted.count(ip) == 0) held.push_back(ip);
  }
  EXPECT_EQ(sorted_ips(served), held) << "served:\n" << served.dump(2) << "\n" << read_file(host2.ban_log);
  for (const auto& entry : served["bans"]) {
    const std::string ip = entry["ip"].get<std::string>();
    const std::string expires =
        entry["expires_at"].is_null() ? "never" : std::to_string(entry["expires_at"].get<std::int64_t>());
    EXPECT_EQ(enforced.count(ip) ? enforced.at(ip) : "(not enforced)", expires) << ip;
  }
}

TEST_F(Http, BansFiltersByAddressReporterAndJail) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  ASSERT_TRUE(ban(host1, "192.0.2.10", "sshd", "600"));
  ASSERT_TRUE(ban(host2, "198.51.100.0/24", "nginx", "600"));
  ASSERT_TRUE(ban(host1, "2001:db8::/48", "nginx", "600"));
  ASSERT_TRUE(fleet.list_until(host1, "all three bans", [](const nlohmann::json& doc) {
    return find_ban(doc, "192.0.2.10") && find_ban(doc, "198.51.100.0/24") && find_ban(doc, "2001:db8::/48");
  }));

  using Ips = std::vector<std::string>;
  const std::vector<std::pair<std::string, Ips>> cases{
      {"", {"192.0.2.10", "198.51.100.0/24", "2001:db8::/48"}},
      {"?ip=192.0.2.10", {"192.0.2.10"}},
      {"?ip=192.0.2.11", {}},
      {"?ip=198.51.100.7", {"198.51.100.0/24"}},       // inside the banned prefix
      {"?ip=198.51.100.0/24", {"198.51.100.0/24"}},    // the prefix itself
      {"?ip=198.51.100.128/25", {"198.51.100.0/24"}},  // a prefix inside it
      {"?ip=198.51.0.0/16", {}},                       // wider than any ban
      {"?ip=2001:db8:0:1::99", {"2001:db8::/48"}},
      {"?ip=2001:0DB8::", {"2001:db8::/48"}},
      {"?reporter=host2", {"198.51.100.0/24"}},
      {"?reporter=host1", {"192.0.2.10", "2001:db8::/48"}},
      {"?reporter=host", {}},  // names are exact
      {"?jail=nginx", {"198.51.100.0/24", "2001:db8::/48"}},
      {"?jail=ssh", {}},
      {"?reporter=host1&jail=nginx", {"2001:db8::/48"}},  // AND
      {"?reporter=host2&jail=sshd", {}},
      {"?ip=198.51.100.9&jail=nginx&reporter=host2", {"198.51.100.0/24"}},
      {"?ip=198.51.100.9&reporter=host1", {}},
  };
  for (const auto& [query, expected] : cases) {
    Answer answer;
    const nlohmann::json document = get_json("/api/v1/bans" + query, &answer);
    EXPECT_EQ(answer.status, 200) << query << "\n" << describe_answer(answer);
    EXPECT_EQ(sorted_ips(document), expected) << query << "\n" << describe_answer(answer);
  }

  for (const std::string bad : {"999.1.1.1", "192.0.2.0/33", "not-an-address", ""}) {
    Answer answer;
    const nlohmann::json document = get_json("/api/v1/bans?ip=" + bad, &answer);
    EXPECT_EQ(answer.status, 400) << bad << "\n" << describe_answer(answer);
    EXPECT_EQ(answer.content_type, "application/json") << bad;
    ASSERT_TRUE(document.is_object() && document.contains("error") && document["error"].is_string())
        << describe_answer(answer);
    EXPECT_NE(document["error"].get<std::string>().find("\"" + bad + "\""), std::string::npos)
        << "the error names the value: " << describe_answer(answer);
  }
}

TEST_F(Http, MetricsAreValidPrometheusTextAndCountThePublishes) {
  const Host& host1 = fleet.add_host("host1");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  ASSERT_TRUE(ban(host1, "192.0.2.20", "sshd", "600"));
  ASSERT_TRUE(ban(host1, "192.0.2.21", "sshd", "600"));
  ASSERT_TRUE(ban(host1, "192.0.2.22", "nginx", "600"));

  const Answer answer = get("/metrics");
  ASSERT_EQ(answer.status, 200) << describe_answer(answer);
  EXPECT_EQ(answer.content_type, "text/plain; version=0.0.4");
  std::vector<std::string> problems;
  const auto samples = parse_prometheus(answer.body, &problems);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems) << "\n" << answer.body;
  EXPECT_FALSE(samples.empty()) << answer.body;

  // Each publish was acked, so the aggregator had applied and counted it.
  EXPECT_EQ(find_sample(samples, "fleetban_events_total", {{"kind", "ban"}, {"outcome", "applied"}}),
            std::optional<double>(bans_published))
      << answer.body;
  EXPECT_EQ(find_sample(samples, "fleetban_active_bans", {}), std::optional<double>(3)) << answer.body;

  // The checker itself catches what it is there for.
  std::vector<std::string> caught;
  parse_prometheus("# TYPE a counter\na 1\nb 2\na{x=\"1\"} one\nc{x=1} 3\n", &caught);
  EXPECT_EQ(caught.size(), 3u) << ::testing::PrintToString(caught);
}

TEST_F(Http, HealthzIsOkAndWritesAreRefused) {
  const Host& host1 = fleet.add_host("host1");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  ASSERT_TRUE(ban(host1, "192.0.2.30", "sshd", "600"));

  const Answer health = get("/healthz");
  EXPECT_EQ(health.status, 200) << describe_answer(health);
  EXPECT_EQ(health.body, "ok");

  EXPECT_EQ(get("/api/v1/nothing").status, 404);
  EXPECT_EQ(get("/index.html").status, 404);

  const nlohmann::json before = get_json("/api/v1/bans");
  for (const std::string method : {"POST", "PUT", "DELETE"}) {
    for (const std::string path : {"/api/v1/bans", "/", "/healthz"}) {
      const Answer refused = request(method, path);
      EXPECT_EQ(refused.status, 405) << method << " " << path << "\n" << describe_answer(refused);
    }
  }
  EXPECT_EQ(get_json("/api/v1/bans"), before) << "a refused request changed the fleet";
}

// ---------------------------------------------------------------- pages and the blocklist

class Paging : public Http {
 protected:
  // Bans 2001:db8::1 to 2001:db8::COUNT (decimal digits, so each its own address) through host,
  // four publishes at a time, with the per-reporter rate limit lifted for it.
  ::testing::AssertionResult ban_many(const Host& host, int count) {
    const std::string command = "seq 1 " + std::to_string(count) + " | xargs -P 4 -I{} " + program("fleetban-publish") +
                                " ban --ip 2001:db8::{} --jail sshd --bantime 86400 --config " + host.config.string();
    const auto result = run({"/bin/sh", "-c", command}, std::chrono::seconds(240));
    if (result.exit_code != 0) return ::testing::AssertionFailure() << describe(result);
    return ::testing::AssertionSuccess();
  }
  void lift_rate_limit() {
    write_file(fleet.aggregator_config(), read_file(fleet.aggregator_config()) + "max_events_per_second = 1000000\n");
  }
};

TEST_F(Paging, WalkingEveryPageGivesEachBanOnceAndEndsWithNextNull) {
  constexpr int kBans = 2000;
  lift_rate_limit();
  const Host& host1 = fleet.add_host("host1");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  ASSERT_TRUE(ban_many(host1, kBans));
  ASSERT_TRUE(ban(host1, "192.0.2.10", "nginx", "600"));
  Answer whole_answer;
  const nlohmann::json whole = get_json("/api/v1/bans", &whole_answer);
  ASSERT_EQ(whole["bans"].size(), kBans + 1u) << describe_answer(whole_answer).substr(0, 2000);

  std::map<std::string, int> seen;
  std::string path = "/api/v1/bans?limit=128";
  int pages = 0;
  for (;;) {
    Answer answer;
    const nlohmann::json page = get_json(path, &answer);
    ASSERT_EQ(answer.status, 200) << path << "\n" << describe_answer(answer);
    ASSERT_LE(page["bans"].size(), 128u);
    for (const auto& entry : page["bans"]) {
      ++seen[entry["ip"].get<std::string>()];
      EXPECT_EQ(entry["reporter_count"], entry["reporters"].size()) << entry.dump();
      EXPECT_EQ(entry["jail_count"], entry["jails"].size()) << entry.dump();
    }
    ASSERT_TRUE(page.contains("next")) << page.dump();
    if (page["next"].is_null()) break;
    path = "/api/v1/bans?limit=128&after=" + page["next"].get<std::string>();
    ASSERT_LT(++pages, 1000) << "the walk does not end";
  }
  EXPECT_EQ(seen.size(), kBans + 1u);
  for (const auto& entry : whole["bans"]) {
    EXPECT_EQ(seen[entry["ip"].get<std::string>()], 1) << entry["ip"] << " not exactly once";
  }

  for (const std::string bad : {"limit=0", "limit=-3", "limit=many", "limit=10001", "limit=10&after=web-01"}) {
    Answer answer;
    const nlohmann::json error = get_json("/api/v1/bans?" + bad, &answer);
    EXPECT_EQ(answer.status, 400) << bad << "\n" << describe_answer(answer);
    const std::string name = bad.substr(bad.rfind('&') == std::string::npos ? 0 : bad.rfind('&') + 1);
    EXPECT_NE(error.value("error", "").find(name.substr(0, name.find('=') + 1)), std::string::npos)
        << describe_answer(answer);
  }
}

// The lines of a blocklist, sorted; a blank line or a comment is a failure.
std::vector<std::string> blocklist_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty() || line[0] == '#') << "not a prefix: \"" << line << "\"";
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST_F(Paging, BlocklistHoldsTheActiveBansAndItsETagChangesWithThem) {
  const Host& host1 = fleet.add_host("host1");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  ASSERT_TRUE(ban(host1, "192.0.2.10", "sshd", "600"));
  ASSERT_TRUE(ban(host1, "198.51.100.0/24", "nginx", "600"));
  ASSERT_TRUE(ban(host1, "2001:db8::5", "sshd", "600"));
  ASSERT_TRUE(ban(host1, "192.0.2.11", "sshd", "600"));
  ASSERT_EQ(fleet.publish(host1, {"unban", "--ip", "192.0.2.11", "--jail", "sshd"}).exit_code, 0);
  ASSERT_TRUE(fleet.unlisted(host1, "192.0.2.11"));

  httplib::Result both = client.Get("/api/v1/blocklist.txt");
  ASSERT_TRUE(both) << httplib::to_string(both.error());
  ASSERT_EQ(both->status, 200) << both->body;
  EXPECT_EQ(both->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  // The same bans as the JSON document, whatever way /32 and /128 are written.
  std::vector<std::string> listed;
  const nlohmann::json whole = get_json("/api/v1/bans");
  for (const auto& entry : whole["bans"]) listed.push_back(entry["ip"].get<std::string>());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(blocklist_lines(both->body), listed);
  EXPECT_EQ(blocklist_lines(both->body), (std::vector<std::string>{"192.0.2.10", "198.51.100.0/24", "2001:db8::5"}));
  EXPECT_EQ(blocklist_lines(client.Get("/api/v1/blocklist.txt?family=4")->body),
            (std::vector<std::string>{"192.0.2.10", "198.51.100.0/24"}));
  EXPECT_EQ(blocklist_lines(client.Get("/api/v1/blocklist.txt?family=6")->body),
            (std::vector<std::string>{"2001:db8::5"}));
  EXPECT_EQ(client.Get("/api/v1/blocklist.txt?family=5")->status, 400);

  const std::string etag = both->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  httplib::Result unchanged = client.Get("/api/v1/blocklist.txt", {{"If-None-Match", etag}});
  ASSERT_TRUE(unchanged);
  EXPECT_EQ(unchanged->status, 304);
  EXPECT_EQ(unchanged->body, "");

  ASSERT_TRUE(ban(host1, "198.51.100.200", "sshd", "600"));
  httplib::Result changed = client.Get("/api/v1/blocklist.txt", {{"If-None-Match", etag}});
  ASSERT_TRUE(changed);
  ASSERT_EQ(changed->status, 200) << "a new ban, the same ETag";
  EXPECT_NE(changed->get_header_value("ETag"), etag);
  const auto lines = blocklist_lines(changed->body);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "198.51.100.200"), lines.end()) << changed->body;
}

// ---------------------------------------------------------------- the dashboard in Chromium

// The <tr>...</tr> elements of a serialized DOM.
std::vector<std::string> table_rows(const std::string& dom) {
  std::vector<std::string> rows;
  for (auto at = dom.find("<tr"); at != std::string::npos; at = dom.find("<tr", at + 1)) {
    const auto end = dom.find("</tr>", at);
    if (end == std::string::npos) break;
    rows.push_back(dom.substr(at, end - at));
  }
  return rows;
}

class Dashboard : public Http {
 protected:
  RunResult dump_dom(const std::string& chromium, const std::string& path) {
    return chromium_dump_dom(chromium, dir / "chromium", "http://" + address() + path);
  }
};

TEST_F(Dashboard, ChromiumShowsTheBanAndItsReporterAndSearchOmitsIt) {
  const auto chromium = find_chromium();
  if (!chromium) {
    GTEST_SKIP() << "chromium is not installed, so the dashboard is not checked in a real browser "
                    "(apt-get install -y chromium, or `make deps`, to run this test)";
  }
  const Host& host1 = fleet.add_host("host1");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  ASSERT_TRUE(ban(host1, "192.0.2.44", "sshd", "3600"));
  ASSERT_TRUE(fleet.list_until(host1, "the ban of 192.0.2.44",
                               [](const nlohmann::json& doc) { return find_ban(doc, "192.0.2.44") != nullptr; }));

  const auto page = dump_dom(*chromium, "/");
  ASSERT_EQ(page.exit_code, 0) << describe(page);
  bool found = false;
  for (const auto& row : table_rows(page.out)) {
    found = found || (row.find("192.0.2.44") != std::string::npos && row.find(">host1<") != std::string::npos);
  }
  EXPECT_TRUE(found) << "no table row holds 192.0.2.44 and host1 in the DOM:\n" << page.out;

  const auto searched = dump_dom(*chromium, "/?q=198.51.100");
  ASSERT_EQ(searched.exit_code, 0) << describe(searched);
  ASSERT_NE(searched.out.find("<table"), std::string::npos) << "not the dashboard:\n" << searched.out;
  for (const auto& row : table_rows(searched.out)) {
    EXPECT_EQ(row.find("192.0.2.44"), std::string::npos) << "the search kept " << row;
  }
  EXPECT_NE(searched.out.find("value=\"198.51.100\""), std::string::npos) << "the box shows the search";
}

TEST_F(Dashboard, ChromiumFollowsTheNextPageLink) {
  const auto chromium = find_chromium();
  if (!chromium) GTEST_SKIP() << "chromium is not installed (apt-get install -y chromium, or `make deps`)";
  write_file(fleet.aggregator_config(), read_file(fleet.aggregator_config()) + "max_events_per_second = 1000000\n");
  const Host& host1 = fleet.add_host("host1");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  const std::string command = "seq 1 130 | xargs -P 4 -I{} " + program("fleetban-publish") +
                              " ban --ip 2001:db8::{} --jail sshd --bantime 86400 --config " + host1.config.string();
  const auto published = run({"/bin/sh", "-c", command}, std::chrono::seconds(240));
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  ASSERT_TRUE(fleet.list_until(host1, "130 bans", [](const nlohmann::json& doc) { return doc["bans"].size() == 130; }));

  auto ban_rows = [](const std::string& dom) {
    std::size_t n = 0;
    for (const auto& row : table_rows(dom)) n += row.find("data-search=") != std::string::npos ? 1 : 0;
    return n;
  };
  const auto first = dump_dom(*chromium, "/");
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_EQ(ban_rows(first.out), 100u);
  const auto at = first.out.find("id=\"next-page\"");
  ASSERT_NE(at, std::string::npos) << "no next-page link:\n" << first.out;
  const auto href_at = first.out.find("href=\"", at) + 6;
  std::string next = first.out.substr(href_at, first.out.find('"', href_at) - href_at);
  for (auto amp = next.find("&amp;"); amp != std::string::npos; amp = next.find("&amp;")) next.replace(amp, 5, "&");
  ASSERT_EQ(next.rfind("/?after=", 0), 0u) << next;

  const auto second = dump_dom(*chromium, next);
  ASSERT_EQ(second.exit_code, 0) << describe(second);
  EXPECT_EQ(ban_rows(second.out), 30u) << second.out;
  EXPECT_EQ(second.out.find("id=\"next-page\""), std::string::npos) << "the last page links further";
  EXPECT_NE(second.out.find("id=\"first-page\""), std::string::npos);
}

}  // namespace
}  // namespace fleetban::testing
