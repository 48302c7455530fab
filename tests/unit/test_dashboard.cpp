#include "aggregator/dashboard.hpp"

#include <gtest/gtest.h>

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

TEST(Dashboard, EscapesFreeTextAndTheQuery) {
  std::vector decisions{ban("192.0.2.7", {"web-01"}, {"sshd"}, 3600s, "<script>alert(\"x\")</script> & 'more'")};
  std::string page = render_dashboard(decisions, "", kNow);
  EXPECT_NE(page.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39;"), std::string::npos);
  EXPECT_EQ(page.find("<script>alert"), std::string::npos);

  std::string searched = render_dashboard(decisions, "\"><script>q</script>", kNow);
  EXPECT_EQ(searched.find("<script>q"), std::string::npos);
  EXPECT_NE(searched.find("value=\"&quot;&gt;&lt;script&gt;q&lt;/script&gt;\""), std::string::npos);
  EXPECT_EQ(html_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

TEST(Dashboard, ShowsEveryActiveBanInATableRow) {
  std::vector decisions{ban("192.0.2.44", {"host1"}, {"sshd"}), ban("2001:db8::/64", {"host2", "host3"}, {"nginx"})};
  decisions.push_back(ban("198.51.100.9", {"host1"}, {"sshd"}));
  decisions.back().active = false;
  decisions[1].ban_count = 4;
  std::string page = render_dashboard(decisions, "", kNow);

  auto rows = ban_rows(page);
  ASSERT_EQ(rows.size(), 2u) << page;
  EXPECT_NE(rows[0].find(">192.0.2.44</th>"), std::string::npos) << rows[0];
  EXPECT_NE(rows[0].find(">host1</a>"), std::string::npos) << rows[0];
  EXPECT_NE(rows[1].find(">2001:db8::/64</th>"), std::string::npos) << rows[1];
  EXPECT_NE(rows[1].find(">host2</a>, <a href=\"/?q=host3\">host3</a>"), std::string::npos) << rows[1];
  EXPECT_NE(rows[1].find("class=\"n\">4</td>"), std::string::npos) << rows[1];
  EXPECT_EQ(page.find("198.51.100.9"), std::string::npos) << "an inactive decision is not a ban";
  EXPECT_NE(page.find("<span class=\"num\" id=\"total\">2</span>"), std::string::npos);
}

TEST(Dashboard, IsOneSelfContainedPageForPhones) {
  std::string page = render_dashboard({ban("192.0.2.7", {"web-01"}, {"sshd"})}, "", kNow);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"), std::string::npos);
  EXPECT_NE(page.find("@media (max-width:"), std::string::npos);
  EXPECT_NE(page.find("<form class=\"search\" method=\"get\" action=\"/\""), std::string::npos);
  EXPECT_NE(page.find("name=\"q\""), std::string::npos);
  for (std::string_view external : {"http:", "https:", "src=", "<link", "@import", "url("}) {
    EXPECT_EQ(page.find(external), std::string::npos) << external;
  }
}

TEST(Dashboard, SearchKeepsBansWhoseAddressReporterOrJailContainsTheQuery) {
  std::vector decisions{ban("192.0.2.44", {"host1"}, {"sshd"}), ban("198.51.100.7", {"web-02"}, {"nginx"}),
                        ban("2001:db8::5", {"host1", "mail-01"}, {"postfix"})};
  auto addresses = [&](std::string_view query) {
    std::vector<std::string> found;
    for (const auto& row : ban_rows(render_dashboard(decisions, query, kNow))) {
      auto start = row.find("data-label=\"Address\">") + 21;
      found.push_back(row.substr(start, row.find("</th>", start) - start));
    }
    return found;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(addresses(""), (V{"192.0.2.44", "198.51.100.7", "2001:db8::5"}));
  EXPECT_EQ(addresses("   "), (V{"192.0.2.44", "198.51.100.7", "2001:db8::5"}));
  EXPECT_EQ(addresses("198.51.100"), (V{"198.51.100.7"}));
  EXPECT_EQ(addresses("2001:DB8"), (V{"2001:db8::5"}));
  EXPECT_EQ(addresses("HOST1"), (V{"192.0.2.44", "2001:db8::5"}));
  EXPECT_EQ(addresses(" nginx "), (V{"198.51.100.7"}));
  EXPECT_EQ(addresses("mail"), (V{"2001:db8::5"}));
  EXPECT_EQ(addresses("host1 sshd"), V{}) << "a match lies within one field";
  EXPECT_EQ(addresses("203.0.113"), V{});

  std::string page = render_dashboard(decisions, "203.0.113", kNow);
  EXPECT_NE(page.find("No ban matches &ldquo;203.0.113&rdquo;"), std::string::npos);
  // The counts still cover the whole fleet.
  EXPECT_NE(page.find("id=\"total\">3<"), std::string::npos);
  EXPECT_NE(count_table(page, "per-host").find(count_row("host1", 2)), std::string::npos);
}

TEST(Dashboard, TimedBansShowUtcTimeAndTimeLeftPermanentOnesSaySo) {
  std::vector decisions{ban("192.0.2.1", {"a"}, {"sshd"}, 3h + 12min + 5s),
                        ban("192.0.2.2", {"a"}, {"sshd"}, std::nullopt)};
  auto rows = ban_rows(render_dashboard(decisions, "", kNow));
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

TEST(Dashboard, CountsBansPerHostAndPerJailMostFirst) {
  std::vector decisions{ban("192.0.2.1", {"web-01", "web-02"}, {"sshd"}),
                        ban("192.0.2.2", {"web-02"}, {"sshd", "nginx"}), ban("192.0.2.3", {"web-02"}, {"sshd"}),
                        ban("2001:db8::1", {"mail-01"}, {"postfix"}, std::nullopt)};
  std::string page = render_dashboard(decisions, "", kNow);

  std::string hosts = count_table(page, "per-host");
  EXPECT_NE(hosts.find(count_row("web-02", 3)), std::string::npos) << hosts;
  EXPECT_NE(hosts.find(count_row("web-01", 1)), std::string::npos) << hosts;
  EXPECT_NE(hosts.find(count_row("mail-01", 1)), std::string::npos) << hosts;
  EXPECT_LT(hosts.find("web-02"), hosts.find("mail-01")) << "most bans first";

  std::string jails = count_table(page, "per-jail");
  EXPECT_NE(jails.find(count_row("sshd", 3)), std::string::npos) << jails;
  EXPECT_NE(jails.find(count_row("nginx", 1)), std::string::npos) << jails;
  EXPECT_NE(jails.find(count_row("postfix", 1)), std::string::npos) << jails;
  EXPECT_LT(jails.find("sshd"), jails.find("nginx"));

  EXPECT_NE(page.find("id=\"total\">4</span><span class=\"none\">1 permanent</span>"), std::string::npos);
  // Each name links to the search for it.
  EXPECT_NE(hosts.find("<a href=\"/?q=web-02\""), std::string::npos) << hosts;
}

TEST(Dashboard, EmptyFleetSaysSo) {
  std::string page = render_dashboard({}, "", kNow);
  EXPECT_TRUE(ban_rows(page).empty());
  EXPECT_NE(page.find("No active bans."), std::string::npos);
  EXPECT_NE(page.find("id=\"total\">0<"), std::string::npos);
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

TEST(Dashboard, PagesOfAHundredWithANextLinkThatKeepsTheSearch) {
  std::vector<common::Decision> decisions;
  for (int i = 0; i < 250; ++i) {
    decisions.push_back(ban("2001:db8::" + std::to_string(1000 + i), {"web-01"}, {i % 2 == 0 ? "sshd" : "nginx"}));
  }
  std::string first = render_dashboard(decisions, "", kNow);
  ASSERT_EQ(ban_rows(first).size(), kDashboardPage);
  EXPECT_EQ(link(first, "next-page"), "/?after=2001%3Adb8%3A%3A1099");
  EXPECT_EQ(link(first, "first-page"), "");
  EXPECT_NE(first.find("(page: 1&ndash;100 of 250)"), std::string::npos);
  EXPECT_NE(first.find("id=\"total\">250<"), std::string::npos) << "the counts cover the whole fleet";

  std::string second = render_dashboard(decisions, "", kNow, common::IpPrefix::parse("2001:db8::1099"));
  auto rows = ban_rows(second);
  ASSERT_EQ(rows.size(), kDashboardPage);
  EXPECT_NE(rows.front().find(">2001:db8::1100</th>"), std::string::npos) << rows.front();
  EXPECT_EQ(link(second, "first-page"), "/");
  EXPECT_EQ(link(second, "next-page"), "/?after=2001%3Adb8%3A%3A1199");

  std::string last = render_dashboard(decisions, "", kNow, common::IpPrefix::parse("2001:db8::1199"));
  EXPECT_EQ(ban_rows(last).size(), 50u);
  EXPECT_EQ(link(last, "next-page"), "");
  EXPECT_NE(last.find("(page: 201&ndash;250 of 250)"), std::string::npos);

  // A search pages within its matches, and its links keep it.
  std::string searched = render_dashboard(decisions, "sshd", kNow);
  EXPECT_EQ(ban_rows(searched).size(), kDashboardPage);
  EXPECT_EQ(link(searched, "next-page"), "/?q=sshd&after=2001%3Adb8%3A%3A1198");
  std::string searched_last = render_dashboard(decisions, "sshd", kNow, common::IpPrefix::parse("2001:db8::1198"));
  EXPECT_EQ(ban_rows(searched_last).size(), 25u);
  EXPECT_EQ(link(searched_last, "first-page"), "/?q=sshd");

  // A small fleet has no paging links at all.
  std::string small = render_dashboard({ban("192.0.2.1", {"a"}, {"sshd"})}, "", kNow);
  EXPECT_EQ(small.find("class=\"pages\""), std::string::npos);
}

}  // namespace
}  // namespace fleetban::aggregator
