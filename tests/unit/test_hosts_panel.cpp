// The dashboard's hosts panel: every admitted key, the stale and behind first and in red, values
// from the network escaped.

#include "aggregator/hosts_panel.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fleetban::aggregator {
namespace {

using namespace std::chrono_literals;

const common::UnixSeconds kNow = common::from_unix(1795650000);

common::HostEntry seen(std::string name, std::uint64_t lag, std::chrono::seconds ago) {
  common::HostEntry h{.name = std::move(name)};
  h.subscriber_seen_at = kNow - ago;
  h.subscriber_sequence = 100 - lag;
  h.lag = lag;
  h.backend_error = "";
  h.last_event_at = kNow - 3600s;
  h.events_24h = 7;
  return h;
}

// The row of the host with this name ("" if none).
std::string row(const std::string& panel, const std::string& name) {
  auto at = panel.find("<tr data-host=\"" + name + "\"");
  return at == std::string::npos ? "" : panel.substr(at, panel.find("</tr>", at) - at);
}

TEST(HostsPanel, EveryKeyWithTheStaleAndBehindFirstInRed) {
  common::Hosts hosts{.now = kNow, .sequence = 100};
  hosts.hosts.push_back(seen("web-01", 0, 3s));
  auto behind = seen("web-02", 12, 2s);
  behind.behind = true;
  hosts.hosts.push_back(behind);
  common::HostEntry never{.name = "web-03"};
  never.stale = true;
  hosts.hosts.push_back(never);
  common::HostEntry alice{.name = "alice", .kind = common::HostKind::operator_};
  hosts.hosts.push_back(alice);
  const std::string panel = render_hosts_panel(hosts);

  EXPECT_NE(panel.find("id=\"hosts-total\">4<"), std::string::npos) << panel;
  EXPECT_NE(panel.find("id=\"hosts-bad\">2 stale or behind<"), std::string::npos) << panel;
  const std::string ok = row(panel, "web-01");
  EXPECT_NE(ok.find("connected"), std::string::npos) << ok;
  EXPECT_EQ(ok.find("trouble"), std::string::npos) << ok;
  EXPECT_NE(ok.find(">3s ago<"), std::string::npos) << ok;
  EXPECT_NE(ok.find(">1h ago<"), std::string::npos) << ok;
  EXPECT_NE(row(panel, "web-02").find("class=\"trouble\""), std::string::npos);
  EXPECT_NE(row(panel, "web-02").find("<span class=\"bad\">behind 12</span>"), std::string::npos) << panel;
  EXPECT_NE(row(panel, "web-03").find("class=\"trouble\""), std::string::npos);
  EXPECT_NE(row(panel, "web-03").find(">never seen<"), std::string::npos) << panel;
  EXPECT_NE(row(panel, "alice").find("operator"), std::string::npos) << panel;
  EXPECT_EQ(row(panel, "alice").find("trouble"), std::string::npos) << "an operator runs no subscriber";
  // Those that need a look come first.
  EXPECT_LT(panel.find("data-host=\"web-02\""), panel.find("data-host=\"web-01\""));
  EXPECT_LT(panel.find("data-host=\"web-03\""), panel.find("data-host=\"alice\""));
}

TEST(HostsPanel, ABackendErrorIsShownEscapedAndInRed) {
  common::Hosts hosts{.now = kNow};
  auto h = seen("web-01", 0, 1s);
  h.backend_error = "<script>alert(1)</script> & 'x'";
  hosts.hosts.push_back(h);
  const std::string panel = render_hosts_panel(hosts);
  EXPECT_EQ(panel.find("<script>"), std::string::npos) << panel;
  EXPECT_NE(panel.find("backend: &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;x&#39;"), std::string::npos) << panel;
  EXPECT_NE(row(panel, "web-01").find("class=\"trouble\""), std::string::npos);
}

TEST(HostsPanel, SaysSoWhenTheLoopDidNotAnswerOrNoKeyIsAdmitted) {
  EXPECT_NE(render_hosts_panel(std::nullopt).find("did not answer"), std::string::npos);
  EXPECT_NE(render_hosts_panel(common::Hosts{.now = kNow}).find("No keys are admitted."), std::string::npos);
}

}  // namespace
}  // namespace fleetban::aggregator
