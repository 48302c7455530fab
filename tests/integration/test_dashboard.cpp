// The dashboard as a real headless Chromium builds it, against a real aggregator whose bans were
// made by real publishes: the activity chart, the top lists, the pages of bans, the search (also
// across ended bans), the page of one address, and a hostile reason that must stay text. Each page
// is also saved as a PNG in the build directory (screenshots/), for a person to look at.
#include <httplib.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "chromium.hpp"
#include "fleet.hpp"
#include "security_helpers.hpp"

namespace fleetban::testing {
namespace {

// Everything from `<tag ... id="ID"` to the end of that element (`</tag>`), or "".
std::string element(const std::string& dom, std::string_view tag, std::string_view id) {
  const auto at = dom.find("id=\"" + std::string(id) + "\"");
  if (at == std::string::npos) return "";
  const auto start = dom.rfind("<" + std::string(tag), at);
  const auto end = dom.find("</" + std::string(tag) + ">", at);
  if (start == std::string::npos || end == std::string::npos) return "";
  return dom.substr(start, end - start);
}

std::size_t count_of(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The rows of the bans table (each has data-search).
std::vector<std::string> ban_rows(const std::string& dom) {
  std::vector<std::string> rows;
  for (auto at = dom.find("<tr data-search"); at != std::string::npos; at = dom.find("<tr data-search", at + 1)) {
    rows.push_back(dom.substr(at, dom.find("</tr>", at) - at));
  }
  return rows;
}

// The href of the link with this id, with &amp; back to &; "" if there is none.
std::string link(const std::string& dom, std::string_view id) {
  auto at = dom.find("id=\"" + std::string(id) + "\"");
  if (at == std::string::npos) return "";
  at = dom.find("href=\"", at) + 6;
  std::string href = dom.substr(at, dom.find('"', at) - at);
  for (auto amp = href.find("&amp;"); amp != std::string::npos; amp = href.find("&amp;", amp + 1)) {
    href.replace(amp, 5, "&");
  }
  return href;
}

constexpr std::string_view kHostileReason =
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"> & 'quoted'";

// With `Security`: SecurityMode::curve for the hosts panel, whose keys are those in authorized_dir.
template <SecurityMode Security>
class DashboardIn : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto found = find_chromium();
    if (!found) GTEST_SKIP() << "chromium is not installed (apt-get install -y chromium, or `make deps`)";
    chromium = *found;
    fleet.write_aggregator_config("", address());
    write_file(fleet.aggregator_config(), read_file(fleet.aggregator_config()) + "max_events_per_second = 1000000\n");
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  std::string url(const std::string& path) const { return "http://" + address() + path; }

  // The DOM Chromium built from `path`, also saved as screenshots/NAME.png when a name is given.
  std::string page(const std::string& path, const std::string& name = "") {
    const auto dom = chromium_dump_dom(chromium, dir / "chromium", url(path));
    EXPECT_EQ(dom.exit_code, 0) << describe(dom);
    if (!name.empty()) {
      const auto png = std::filesystem::path(FLEETBAN_SCREENSHOT_DIR) / (name + ".png");
      std::filesystem::remove(png);
      const auto shot = chromium_screenshot(chromium, dir / "chromium", url(path), png);
      EXPECT_EQ(shot.exit_code, 0) << describe(shot);
      EXPECT_TRUE(std::filesystem::exists(png)) << png << "\n" << describe(shot);
    }
    return dom.out;
  }

  // With CURVE, `fleetban ban` needs an operator's key (authorized_dir/operators/); without, any
  // host may. Before the aggregator starts.
  void make_operator(const std::string& name) {
    const auto key = fleet.authorized_dir() / (name + ".pub");
    if (!std::filesystem::exists(key)) return;
    std::filesystem::create_directories(fleet.authorized_dir() / "operators");
    std::filesystem::rename(key, fleet.authorized_dir() / "operators" / (name + ".pub"));
  }

  ::testing::AssertionResult ban(const Host& host, const std::string& ip, const std::string& jail) {
    const auto result = fleet.publish(host, {"ban", "--ip", ip, "--jail", jail, "--bantime", "86400"});
    if (result.exit_code != 0) return ::testing::AssertionFailure() << describe(result);
    return ::testing::AssertionSuccess();
  }

  TempDir dir;
  Fleet fleet{dir, Security};
  std::uint16_t port = free_tcp_port();
  std::string chromium;
};

using DashboardBrowser = DashboardIn<SecurityMode::suite_default>;
using DashboardHosts = DashboardIn<SecurityMode::curve>;

TEST_F(DashboardBrowser, ChartTopListsPagesSearchAndTheAddressPage) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  const Host& ops = fleet.add_host("ops");
  make_operator("ops");
  ASSERT_TRUE(fleet.start_aggregator(web01));

  for (const char* ip : {"192.0.2.10", "192.0.2.11", "192.0.2.12"}) ASSERT_TRUE(ban(web01, ip, "sshd"));
  ASSERT_TRUE(ban(web02, "192.0.2.10", "sshd"));  // a second reporter: the same fleet ban
  ASSERT_TRUE(ban(web02, "198.51.100.7", "nginx"));
  ASSERT_TRUE(ban(web02, "2001:db8:1::5", "postfix"));
  const auto lifted = fleet.publish(web01, {"unban", "--ip", "192.0.2.12", "--jail", "sshd"});
  ASSERT_EQ(lifted.exit_code, 0) << describe(lifted);
  const auto hostile =
      fleetban({"ban", "198.51.100.66", "--reason", std::string(kHostileReason), "--config", ops.config.string()});
  ASSERT_EQ(hostile.exit_code, 0) << describe(hostile);
  // 120 more, for a second page.
  const std::string command = "seq 1 120 | xargs -P 4 -I{} " + program("fleetban-publish") +
                              " ban --ip 2001:db8:2::{} --jail sshd --bantime 86400 --config " + web01.config.string();
  const auto published = run({"/bin/sh", "-c", command}, std::chrono::seconds(240));
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  constexpr std::size_t kActive = 2 + 1 + 1 + 1 + 120;  // 192.0.2.10-11, 198.51.100.7 and .66, 2001:db8:1::5
  ASSERT_TRUE(
      fleet.list_until(web01, "all the bans", [](const nlohmann::json& doc) { return doc["bans"].size() == kActive; }));

  // The first page: counts, chart, top lists, 100 rows and a link to the next.
  const std::string first = page("/", "dashboard");
  EXPECT_NE(first.find("id=\"total\">" + std::to_string(kActive) + "<"), std::string::npos) << first;
  EXPECT_NE(first.find("id=\"ended\">1<"), std::string::npos) << "192.0.2.12, lifted";
  const std::string hours = element(first, "figure", "chart-hours");
  const std::string days = element(first, "figure", "chart-days");
  EXPECT_NE(hours.find("<svg"), std::string::npos) << first;
  EXPECT_EQ(count_of(hours, "<rect class=\"bar\""), 24u) << hours;
  EXPECT_EQ(count_of(days, "<rect class=\"bar\""), 30u) << days;
  // Every fleet ban opened (a second reporter opens none) falls in the last 30 days.
  EXPECT_NE(days.find(std::to_string(kActive + 1) + " bans in all"), std::string::npos) << days;
  EXPECT_NE(element(first, "table", "top-jails").find(">sshd</a></th><td>122</td>"), std::string::npos)
      << element(first, "table", "top-jails");
  EXPECT_NE(element(first, "table", "top-hosts").find(">web-01</a></th><td>122</td>"), std::string::npos)
      << element(first, "table", "top-hosts");
  EXPECT_NE(element(first, "table", "top-v4").find(">192.0.2.0/24</a></th><td>2</td>"), std::string::npos)
      << element(first, "table", "top-v4");
  EXPECT_NE(element(first, "table", "top-v6").find(">2001:db8:2::/48</a></th><td>120</td>"), std::string::npos)
      << element(first, "table", "top-v6");
  EXPECT_EQ(ban_rows(first).size(), 100u);
  const std::string next = link(first, "next-page");
  ASSERT_EQ(next.rfind("/?after=", 0), 0u) << first;

  // The second page holds the rest, and every active ban is on one page or the other.
  const std::string second = page(next, "dashboard-page-2");
  EXPECT_EQ(ban_rows(second).size(), kActive - 100);
  EXPECT_EQ(link(second, "next-page"), "");
  EXPECT_EQ(link(second, "first-page"), "/");

  // A search by jail, and one across ended bans.
  const std::string nginx = page("/?q=nginx", "search");
  ASSERT_EQ(ban_rows(nginx).size(), 1u) << nginx;
  EXPECT_NE(ban_rows(nginx)[0].find(">198.51.100.7</a>"), std::string::npos);
  EXPECT_NE(nginx.find("value=\"nginx\""), std::string::npos);
  EXPECT_TRUE(ban_rows(page("/?q=192.0.2.12")).empty()) << "ended: not among the active bans";
  const std::string ended = page("/?q=192.0.2.12&records=ended");
  ASSERT_EQ(ban_rows(ended).size(), 1u) << ended;
  EXPECT_NE(ban_rows(ended)[0].find(">ended<"), std::string::npos) << ended;
  const std::string prefix = page("/?q=192.0.2.0%2F24&records=all");
  EXPECT_EQ(ban_rows(prefix).size(), 3u) << "a prefix finds what lies in it, active or ended";

  // The page of one address.
  const std::string ip = page("/ip/192.0.2.10", "address");
  EXPECT_NE(ip.find("id=\"address\">192.0.2.10<"), std::string::npos) << ip;
  EXPECT_NE(ip.find("Banned by the fleet"), std::string::npos) << ip;
  EXPECT_NE(ip.find(">web-01</a>, <a href=\"/?q=web-02\">web-02</a>"), std::string::npos) << ip;
  // Its history, newest first: web-02's report extended the ban web-01's made.
  const std::string timeline = element(ip, "ol", "timeline");
  EXPECT_EQ(count_of(timeline, "<li data-kind=\"ban\" class=\"fleet\">"), 2u) << ip;
  EXPECT_LT(timeline.find(">web-02</a>"), timeline.find(">web-01</a>")) << timeline;
  const std::string lifted_page = page("/ip/192.0.2.12");
  EXPECT_NE(lifted_page.find("an ended ban"), std::string::npos);
  EXPECT_NE(element(lifted_page, "ol", "timeline").find(">Lifted<"), std::string::npos) << lifted_page;
  EXPECT_NE(page("/ip/2001:db8::99").find("remembers no ban of it"), std::string::npos);

  httplib::Client client("127.0.0.1", port);
  auto bad = client.Get("/ip/not-an-address%3Cb%3E");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("not-an-address&lt;b&gt;"), std::string::npos) << bad->body;
  EXPECT_EQ(bad->body.find("<b>"), std::string::npos) << bad->body;
  EXPECT_EQ(client.Get("/?records=bogus")->status, 400);
  EXPECT_TRUE(fleet.aggregator()->running());
}

TEST_F(DashboardBrowser, AHostileReasonStaysText) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& ops = fleet.add_host("ops");
  make_operator("ops");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  const auto hostile =
      fleetban({"ban", "198.51.100.66", "--reason", std::string(kHostileReason), "--config", ops.config.string()});
  ASSERT_EQ(hostile.exit_code, 0) << describe(hostile);
  ASSERT_TRUE(fleet.list_until(web01, "the operator's ban",
                               [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.66") != nullptr; }));

  for (const std::string path : {"/", "/ip/198.51.100.66", "/?q=pwned"}) {
    const std::string dom = page(path, path == "/" ? "hostile-reason" : "");
    // Had the reason become markup, its script or its onerror would have renamed the page.
    EXPECT_EQ(dom.find("<title>pwned"), std::string::npos) << path << "\n" << dom;
    EXPECT_EQ(dom.find("<img"), std::string::npos) << path << "\n" << dom;
    EXPECT_EQ(dom.find("<script>document"), std::string::npos) << path << "\n" << dom;
    // It is shown, as text.
    EXPECT_NE(dom.find("&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x"), std::string::npos)
        << path << "\n"
        << dom;
  }
}

TEST_F(DashboardHosts, EveryAdmittedKeyWithTheMissingInRed) {
  const Host& web01 = fleet.add_host("web-01");
  fleet.add_host("web-02");  // admitted, its subscriber never started
  fleet.add_host("ops");
  make_operator("ops");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  // Until web-01's subscriber has reported in and caught up.
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(std::chrono::seconds(10));
  nlohmann::json hosts;
  ASSERT_TRUE(poll_until(
      [&] {
        auto answer = client.Get("/api/v1/hosts");
        if (!answer || answer->status != 200) return false;
        hosts = nlohmann::json::parse(answer->body, nullptr, false);
        if (!hosts.contains("hosts")) return false;
        for (const auto& h : hosts["hosts"]) {
          if (h.value("name", "") == "web-01" && h["lag"] == 0) return true;
        }
        return false;
      },
      deadline_in(kSoon), "web-01's subscriber to report in with lag 0", [&] { return hosts.dump(2); }));

  const std::string dom = page("/", "hosts-panel");
  const std::string panel = element(dom, "section", "hosts");
  ASSERT_FALSE(panel.empty()) << dom;
  auto row = [&](const std::string& name) {
    const auto at = panel.find("<tr data-host=\"" + name + "\"");
    return at == std::string::npos ? std::string() : panel.substr(at, panel.find("</tr>", at) - at);
  };
  EXPECT_NE(row("web-01").find("connected"), std::string::npos) << panel;
  EXPECT_EQ(row("web-01").find("trouble"), std::string::npos) << panel;
  EXPECT_NE(row("web-02").find("class=\"trouble\""), std::string::npos) << panel;
  EXPECT_NE(row("web-02").find("never seen"), std::string::npos) << panel;
  EXPECT_NE(row("ops").find("operator"), std::string::npos) << panel;
  EXPECT_NE(panel.find("id=\"hosts-total\">3<"), std::string::npos) << panel;
}

}  // namespace
}  // namespace fleetban::testing
