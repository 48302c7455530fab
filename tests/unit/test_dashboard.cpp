#include "aggregator/dashboard.hpp"

#include <gtest/gtest.h>

#include "aggregator/fleet_summary.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetban::aggregator {
namespace {

using namespace std::chrono_literals;

const common::UnixSeconds kNow = common::from_unix(1795650000);  // 2026-11-25 23:40:00 UTC

common::Decision ban(std::string_view ip, std::vector<std::string> reporters, std::vector<std::string> jails,
                     std::optional<std::chrono::seconds> left = 3600s, std::string reason = "") {
  common::Decision d;
  d.prefix = common::IpPrefix::parse(ip).value();
  d.active = true;
  d.banned_at = kNow - 60s;
  if (left) d.expires_at = kNow + *left;
  d.reporters = std::move(reporters);
  d.jails = std::move(jails);
  d.ban_count = 1;
  d.reason = std::move(reason);
  return d;
}

// The rows of the bans table, each from "<tr data-search" to its "</tr>".
std::vector<std::string> ban_rows(const std::string& page) {
  std::vector<std::string> rows;
  for (auto at = page.find("<tr data-search"); at != std::string::npos; at = page.find("<tr data-search", at + 1)) {
    rows.push_back(page.substr(at, page.find("</tr>", at) - at));
  }
  return rows;
}

// The count table with the given id ("per-host", "per-jail").
std::string count_table(const std::string& page, std::string_view id) {
  auto at = page.find("id=\"" + std::string(id) + "\"");
  if (at == std::string::npos) return "";
  return page.substr(at, page.find("</table>", at) - at);
}

std::string count_row(std::string_view name, int count) {
  return ">" + std::string(name) + "</a></th><td>" + std::to_string(count) + "</td></tr>";
}

// The page for these bans (already one page of the walk) with no summary yet.
std::string render(std::vector<common::Decision> bans, std::string_view query = "",
                   StateView::Records records = StateView::Records::active) {
  return render_dashboard({.bans = std::move(bans), .query = query, .records = records, .now = kNow});
}

FleetSummary summary_of(std::initializer_list<std::pair<const char*, int>> jails) {
  FleetSummary summary;
  summary.made_at = kNow;
  for (const auto& [name, count] : jails) {
    summary.jails.push_back({name, static_cast<std::uint64_t>(count)});
    summary.active += static_cast<std::size_t>(count);
  }
  return summary;
}

TEST(Dashboard, EscapesEveryValueFromTheNetwork) {
  const std::string hostile = "<script>alert(\"x\")</script> & 'more'";
  const std::string escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39;";
  std::vector decisions{ban("192.0.2.7", {hostile}, {hostile}, 3600s, hostile)};
  auto summary = std::make_shared<FleetSummary>(summary_of({}));
  summary->jails = {{hostile, 1}};
  summary->reporters = {{hostile, 1}};
  summary->activity.add(kNow, 1);
  std::string page = render_dashboard({.summary = summary, .bans = decisions, .now = kNow});
  EXPECT_NE(page.find(escaped), std::string::npos);
  EXPECT_EQ(page.find("<script>alert"), std::string::npos);
  EXPECT_EQ(page.find("'more'"), std::string::npos) << "a quote ends no attribute";

  std::string searched = render(decisions, "\"><script>q</script>");
  EXPECT_EQ(searched.find("<script>q"), std::string::npos);
  EXPECT_NE(searched.find("value=\"&quot;&gt;&lt;script&gt;q&lt;/script&gt;\""), std::string::npos);
  EXPECT_EQ(html_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");

  common::Decision ended = decisions.front();
  ended.active = false;
  std::string address = render_address_page({.address = ended.prefix, .decision = ended, .now = kNow});
  EXPECT_NE(address.find(escaped), std::string::npos);
  EXPECT_EQ(address.find("<script>alert"), std::string::npos);
  EXPECT_EQ(render_error_page("Bad address", "\"<b>\" is not").find("<b>"), std::string::npos);
}

TEST(Dashboard, ShowsEachBanOfThePageInARowThatLinksToItsPage) {
  std::vector decisions{ban("192.0.2.44", {"host1"}, {"sshd"}), ban("2001:db8::/64", {"host2", "host3"}, {"nginx"})};
  decisions[1].ban_count = 4;
  std::string page = render(decisions);

  auto rows = ban_rows(page);
  ASSERT_EQ(rows.size(), 2u) << page;
  EXPECT_NE(rows[0].find("<a href=\"/ip/192.0.2.44\">192.0.2.44</a></th>"), std::string::npos) << rows[0];
  EXPECT_NE(rows[0].find(">host1</a>"), std::string::npos) << rows[0];
  EXPECT_NE(rows[1].find("<a href=\"/ip/2001:db8::/64\">2001:db8::/64</a></th>"), std::string::npos) << rows[1];
  EXPECT_NE(rows[1].find(">host2</a>, <a href=\"/?q=host3\">host3</a>"), std::string::npos) << rows[1];
  EXPECT_NE(rows[1].find("class=\"n\">4</td>"), std::string::npos) << rows[1];
}

TEST(Dashboard, EndedBansSaySoAndTheFormKeepsTheChoice) {
  auto ended = ban("198.51.100.9", {"host1"}, {"sshd"});
  ended.active = false;
  std::string page = render({ended}, "", StateView::Records::ended);
  auto rows = ban_rows(page);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].find(">ended<"), std::string::npos) << rows[0];
  EXPECT_NE(page.find("<option value=\"ended\" selected>"), std::string::npos);
  EXPECT_TRUE(parse_records("ended") == StateView::Records::ended);
  EXPECT_TRUE(parse_records("") == StateView::Records::active);
  EXPECT_TRUE(parse_records("all") == StateView::Records::all);
  EXPECT_FALSE(parse_records("bogus").has_value());
}

TEST(Dashboard, IsOneSelfContainedPageForPhones) {
  auto summary = std::make_shared<FleetSummary>(summary_of({{"sshd", 1}}));
  std::string page =
      render_dashboard({.summary = summary, .bans = {ban("192.0.2.7", {"web-01"}, {"sshd"})}, .now = kNow});
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"), std::string::npos);
  EXPECT_NE(page.find("@media (max-width:"), std::string::npos);
  EXPECT_NE(page.find("<form class=\"search\" method=\"get\" action=\"/\""), std::string::npos);
  EXPECT_NE(page.find("name=\"q\""), std::string::npos);
  // The chart's SVG names no namespace URL: inline SVG in HTML needs none.
  for (std::string_view external : {"http:", "https:", "src=", "<link", "@import", "url("}) {
    EXPECT_EQ(page.find(external), std::string::npos) << external;
  }
}

TEST(DashboardSearch, MatchesAddressPrefixReporterJailOrReason) {
  std::vector decisions{ban("192.0.2.44", {"host1"}, {"sshd"}), ban("198.51.100.7", {"web-02"}, {"nginx"}),
                        ban("2001:db8::5", {"host1", "mail-01"}, {"postfix"}, 3600s, "Too Many Logins"),
                        ban("198.51.100.0/24", {"web-02"}, {"nginx"})};
  auto addresses = [&](std::string_view query) {
    DashboardSearch search(query, nullptr);
    std::vector<std::string> found;
    for (const auto& d : decisions) {
      if (search.matches(d)) found.push_back(d.prefix.to_string());
    }
    return found;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(addresses("   "), (V{"192.0.2.44", "198.51.100.7", "2001:db8::5", "198.51.100.0/24"}));
  EXPECT_EQ(addresses("198.51.100"), (V{"198.51.100.7", "198.51.100.0/24"}));
  EXPECT_EQ(addresses("198.51.100.7"), (V{"198.51.100.7", "198.51.100.0/24"})) << "an address: what covers it";
  EXPECT_EQ(addresses("198.51.100.0/25"), (V{"198.51.100.7", "198.51.100.0/24"}));
  EXPECT_EQ(addresses("2001:DB8"), (V{"2001:db8::5"}));
  EXPECT_EQ(addresses("HOST1"), (V{"192.0.2.44", "2001:db8::5"}));
  EXPECT_EQ(addresses(" nginx "), (V{"198.51.100.7", "198.51.100.0/24"}));
  EXPECT_EQ(addresses("many logins"), (V{"2001:db8::5"}));
  EXPECT_EQ(addresses("host1 sshd"), V{}) << "a match lies within one field";
  EXPECT_EQ(addresses("203.0.113"), V{});

  std::string page = render({}, "203.0.113");
  EXPECT_NE(page.find("No ban here matches &ldquo;203.0.113&rdquo;"), std::string::npos);
}

TEST(Dashboard, TimedBansShowUtcTimeAndTimeLeftPermanentOnesSaySo) {
  std::vector decisions{ban("192.0.2.1", {"a"}, {"sshd"}, 3h + 12min + 5s),
                        ban("192.0.2.2", {"a"}, {"sshd"}, std::nullopt)};
  auto rows = ban_rows(render(decisions));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(rows[0].find("<time datetime=\"2026-11-26T02:52:05Z\">2026-11-26 02:52:05 UTC</time>"), std::string::npos)
      << rows[0];
  EXPECT_NE(rows[0].find("in 3h 12m"), std::string::npos) << rows[0];
  EXPECT_EQ(rows[0].find("permanent"), std::string::npos) << rows[0];
  EXPECT_NE(rows[1].find(">permanent<"), std::string::npos) << rows[1];
  EXPECT_EQ(rows[1].find("<time"), std::string::npos) << rows[1];

  auto left = [](std::optional<std::chrono::seconds> left) {
    return expiry_text(ban("192.0.2.1", {"a"}, {"j"}, left), kNow);
  };
  EXPECT_EQ(left(std::nullopt), "permanent");
  EXPECT_EQ(left(3h + 12min), "in 3h 12m");
  EXPECT_EQ(left(2 * 24h + 5h + 59min), "in 2d 5h");
  EXPECT_EQ(left(59min + 59s), "in 59m");
  EXPECT_EQ(left(45s), "in 45s");
  EXPECT_EQ(left(0s), "expired");
  EXPECT_EQ(left(-10s), "expired");
  EXPECT_EQ(utc_text(common::from_unix(0)), "1970-01-01 00:00:00 UTC");
}

TEST(Dashboard, TopListsAndTotalsComeFromTheSummary) {
  auto summary = std::make_shared<FleetSummary>(summary_of({{"sshd", 3}, {"nginx", 1}}));
  summary->permanent = 1;
  summary->ended = 7;
  summary->reporters = {{"web-02", 3}, {"mail-01", 1}};
  summary->networks_v4 = {{"192.0.2.0/24", 3}};
  summary->networks_v6 = {{"2001:db8::/48", 1}};
  std::string page = render_dashboard({.summary = summary, .now = kNow});

  std::string jails = count_table(page, "top-jails");
  EXPECT_NE(jails.find(count_row("sshd", 3)), std::string::npos) << jails;
  EXPECT_LT(jails.find("sshd"), jails.find("nginx"));
  EXPECT_NE(count_table(page, "top-hosts").find(count_row("web-02", 3)), std::string::npos);
  EXPECT_NE(count_table(page, "top-v4").find(count_row("192.0.2.0/24", 3)), std::string::npos);
  EXPECT_NE(count_table(page, "top-v6").find(count_row("2001:db8::/48", 1)), std::string::npos);
  EXPECT_NE(page.find("id=\"total\">4</span><span class=\"none\">1 permanent</span>"), std::string::npos);
  EXPECT_NE(page.find("id=\"ended\">7<"), std::string::npos);
  // Each name links to the search for it (a prefix's search finds what lies in it).
  EXPECT_NE(count_table(page, "top-v4").find("<a href=\"/?q=192.0.2.0%2F24\""), std::string::npos);
  EXPECT_EQ(page.find("summary-pending"), std::string::npos);
  EXPECT_NE(render({}).find("summary-pending"), std::string::npos) << "before the first count";
}

TEST(Dashboard, ChartHasBarsTitlesAndTheNumbersAsText) {
  auto summary = std::make_shared<FleetSummary>(summary_of({}));
  summary->activity.add(kNow, 5);              // this hour, today
  summary->activity.add(kNow - 2h, 3);         // 21:00
  summary->activity.add(kNow - 48h, 11);       // two days ago
  summary->activity.add(kNow - 40 * 24h, 99);  // out of both windows
  std::string page = render_dashboard({.summary = summary, .now = kNow});
  auto figure = [&](std::string_view id) {
    auto at = page.find("<figure class=\"card chart\" id=\"" + std::string(id) + "\"");
    return at == std::string::npos ? std::string() : page.substr(at, page.find("</figure>", at) - at);
  };
  std::string hours = figure("chart-hours"), days = figure("chart-days");
  ASSERT_FALSE(hours.empty()) << page;
  ASSERT_FALSE(days.empty()) << page;
  auto count = [](const std::string& text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(hours, "<rect class=\"bar\""), 24u);
  EXPECT_EQ(count(days, "<rect class=\"bar\""), 30u);
  EXPECT_NE(hours.find("<title id=\"chart-hours-title\">Fleet bans per hour, last 24 hours</title>"),
            std::string::npos);
  EXPECT_NE(hours.find("8 bans in all; most in one hour: 5 (23:00)"), std::string::npos) << hours;
  EXPECT_NE(hours.find("<title>21:00: 3 bans</title>"), std::string::npos) << hours;
  EXPECT_NE(hours.find("<tr><th scope=\"row\">23:00</th><td>5</td></tr>"), std::string::npos) << hours;
  EXPECT_NE(days.find("19 bans in all; most in one day: 11 (11-23)"), std::string::npos) << days;
  EXPECT_NE(days.find("<tr><th scope=\"row\">11-25</th><td>8</td></tr>"), std::string::npos) << days;
}

TEST(Dashboard, EmptyFleetSaysSo) {
  std::string page = render({});
  EXPECT_TRUE(ban_rows(page).empty());
  EXPECT_NE(page.find("No active bans here."), std::string::npos);
}

// The href of the link with this id, unescaped (&amp; back to &); "" if there is none.
std::string link(const std::string& page, std::string_view id) {
  auto at = page.find("id=\"" + std::string(id) + "\"");
  if (at == std::string::npos) return "";
  at = page.find("href=\"", at) + 6;
  std::string href = page.substr(at, page.find('"', at) - at);
  for (auto amp = href.find("&amp;"); amp != std::string::npos; amp = href.find("&amp;", amp + 1)) {
    href.replace(amp, 5, "&");
  }
  return href;
}

TEST(Dashboard, PageLinksKeepTheSearchAndTheChoiceOfBans) {
  const auto next = common::IpPrefix::parse("2001:db8::1099");
  std::string first = render_dashboard({.bans = {ban("2001:db8::1099", {"a"}, {"sshd"})}, .next = next, .now = kNow});
  EXPECT_EQ(link(first, "next-page"), "/?after=2001%3Adb8%3A%3A1099");
  EXPECT_EQ(link(first, "first-page"), "");

  std::string searched = render_dashboard({.bans = {},
                                           .after = common::IpPrefix::parse("192.0.2.1"),
                                           .next = next,
                                           .query = " sshd ",
                                           .records = StateView::Records::all,
                                           .now = kNow});
  EXPECT_EQ(link(searched, "next-page"), "/?after=2001%3Adb8%3A%3A1099&q=sshd&records=all");
  EXPECT_EQ(link(searched, "first-page"), "/?q=sshd&records=all");
  EXPECT_NE(searched.find("More of the list is searched on the next page."), std::string::npos);

  // A small fleet has no paging links at all.
  EXPECT_EQ(render({ban("192.0.2.1", {"a"}, {"sshd"})}).find("class=\"pages\""), std::string::npos);
}

TEST(AddressPage, ShowsTheDecisionOrSaysThereIsNone) {
  auto d = ban("192.0.2.7", {"web-01"}, {"sshd"}, 3600s, "5 failures");
  d.ban_count = 3;
  std::string page = render_address_page({.address = d.prefix, .decision = d, .now = kNow});
  EXPECT_NE(page.find("id=\"address\">192.0.2.7<"), std::string::npos);
  EXPECT_NE(page.find(">Banned by the fleet<"), std::string::npos);
  EXPECT_NE(page.find("<dt>Bans</dt><dd class=\"n\">3</dd>"), std::string::npos) << page;
  EXPECT_NE(page.find("5 failures"), std::string::npos);

  std::string none = render_address_page({.address = d.prefix, .now = kNow});
  EXPECT_NE(none.find("remembers no ban of it"), std::string::npos);
}

TEST(AddressPage, HistoryIsATimelineNewestFirstAndEscaped) {
  auto d = ban("192.0.2.7", {"web-01"}, {"sshd"});
  common::AddressHistory history{.prefix = d.prefix, .ban_count = 1, .total = 3};
  history.entries = {
      {.at = kNow - 10s, .kind = common::HistoryKind::unban, .fleet = true, .host = "ops", .reason = "<b>sorry</b>"},
      {.at = kNow - 60s,
       .kind = common::HistoryKind::ban,
       .fleet = true,
       .host = "web-01",
       .jail = "sshd",
       .reason = "bantime 600 s"},
      {.at = kNow - 90s, .kind = common::HistoryKind::refused, .host = "web-02", .reason = "allowlisted"}};
  std::string page = render_address_page({.address = d.prefix, .decision = d, .now = kNow, .history = history});
  auto at = page.find("id=\"timeline\"");
  ASSERT_NE(at, std::string::npos) << page;
  const std::string timeline = page.substr(at, page.find("</ol>", at) - at);
  EXPECT_LT(timeline.find(">Lifted<"), timeline.find(">Fleet ban<")) << timeline;
  EXPECT_LT(timeline.find(">Fleet ban<"), timeline.find(">Refused<")) << timeline;
  EXPECT_NE(timeline.find("&lt;b&gt;sorry&lt;/b&gt;"), std::string::npos) << timeline;
  EXPECT_EQ(timeline.find("<b>"), std::string::npos) << timeline;
  EXPECT_NE(timeline.find(" by <a href=\"/?q=web-01\">web-01</a> in <a href=\"/?q=sshd\">sshd</a>"), std::string::npos)
      << timeline;
  EXPECT_EQ(page.find("The newest"), std::string::npos) << "all shown: no note";
}

}  // namespace
}  // namespace fleetban::aggregator
