// `fleetban show`'s readable timeline (cli/show_command), from a history as the aggregator sends it.

#include "cli/show_command.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace {

using namespace fleetban::common;

TEST(ShowCommand, PrintsTheDecisionAndOneLineARowNewestFirst) {
  AddressHistory h;
  h.prefix = *IpPrefix::parse("192.0.2.7");
  Decision d;
  d.prefix = h.prefix;
  d.active = true;
  d.banned_at = from_unix(1'795'650'000);
  d.expires_at = from_unix(1'795'653'600);
  d.reporters = {"web-01", "web-02"};
  d.jails = {"sshd"};
  d.ban_count = 1;
  h.decision = d;
  h.ban_count = 1;
  h.entries = {{from_unix(1'795'650'000), HistoryKind::ban, true, "web-02", "sshd", "3600 s: why"},
               {from_unix(1'795'649'990), HistoryKind::ban, false, "web-01", "sshd", "reported"},
               {from_unix(1'795'649'000), HistoryKind::expired, true, "", "", "its 600 s were up"}};
  h.total = 700;
  std::ostringstream out;
  fleetban::cli::print_history(h, out);
  const std::string text = out.str();
  EXPECT_NE(text.find("192.0.2.7: banned by the fleet until 2026-11-26 00:40:00Z (ban 1; since 2026-11-25 23:40:00Z; "
                      "reporters web-01,web-02; jails sshd)"),
            std::string::npos)
      << text;
  EXPECT_LT(text.find("fleet ban"), text.find("ban report")) << text;
  EXPECT_LT(text.find("ban report"), text.find("fleet expired")) << text;
  EXPECT_NE(text.find("3 rows, newest first (the newest 3 of 700)"), std::string::npos) << text;
}

TEST(ShowCommand, AnAddressWithNoHistory) {
  AddressHistory h;
  h.prefix = *IpPrefix::parse("2001:db8::1");
  std::ostringstream out;
  fleetban::cli::print_history(h, out);
  EXPECT_EQ(out.str(), "2001:db8::1: not banned by the fleet now\nno history kept (rows are kept for forget_after)\n");
}

}  // namespace
