#include "publisher/publisher.hpp"

#include <gtest/gtest.h>

#include "common/errors.hpp"
#include "printers.hpp"

namespace {

using fleetban::common::EventKind;
using fleetban::common::IpPrefix;
using fleetban::common::to_unix_ms;
using fleetban::common::UsageError;
using fleetban::publisher::parse_publish_request;
using fleetban::publisher::PublishRequest;

struct Args {
  EventKind kind = EventKind::ban;
  std::string ip = "192.0.2.7";
  std::string jail = "sshd";
  std::int64_t bantime = 600;
  std::int64_t failures = 5;
  std::int64_t bancount = 1;
  std::string time = "1795652765";
  int restored = 0;

  PublishRequest parse() const {
    return parse_publish_request(kind, ip, jail, bantime, failures, bancount, time, restored);
  }
};

// The message of the UsageError that parsing `args` throws; a test failure when it throws none.
std::string usage_error_of(const Args& args) {
  try {
    args.parse();
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UsageError";
  return {};
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

TEST(PublishRequest, ParsesAFail2BanBan) {
  Args args;
  args.time = "1795652765.9075983";
  PublishRequest r = args.parse();
  EXPECT_EQ(r.kind, EventKind::ban);
  EXPECT_EQ(r.prefix, *IpPrefix::parse("192.0.2.7"));
  EXPECT_EQ(r.jail, "sshd");
  EXPECT_EQ(r.bantime, std::chrono::seconds(600));
  EXPECT_EQ(r.failures, 5u);
  EXPECT_EQ(r.bancount, 1u);
  EXPECT_EQ(to_unix_ms(r.time), 1795652765907);
  EXPECT_FALSE(r.restored);
}

TEST(PublishRequest, IntegerTimeIsWholeSeconds) {
  Args args;
  args.time = "1795652765";
  EXPECT_EQ(to_unix_ms(args.parse().time), 1795652765000);
}

TEST(PublishRequest, FractionalTimeKeepsItsMilliseconds) {
  Args args;
  for (const auto& [text, ms] : std::vector<std::pair<std::string, std::int64_t>>{{"1795652765.5", 1795652765500},
                                                                                  {"1795652765.25", 1795652765250},
                                                                                  {"1795652765.9", 1795652765900},
                                                                                  {"1795652765.001", 1795652765001},
                                                                                  {"1795652765.999", 1795652765999}}) {
    args.time = text;
    EXPECT_EQ(to_unix_ms(args.parse().time), ms) << text;
  }
}

TEST(PublishRequest, NoTimeMeansNow) {
  Args args;
  args.time = "";
  auto before = fleetban::common::now_ms();
  auto r = args.parse();
  auto after = fleetban::common::now_ms();
  EXPECT_GE(r.time, before);
  EXPECT_LE(r.time, after);
}

TEST(PublishRequest, AcceptsPrefixesIpv6AndUnbans) {
  Args args;
  args.kind = EventKind::unban;
  args.ip = "2001:db8::7/64";
  auto r = args.parse();
  EXPECT_EQ(r.kind, EventKind::unban);
  EXPECT_EQ(r.prefix, *IpPrefix::parse("2001:db8::/64"));
}

TEST(PublishRequest, PermanentAndNotGivenBantimesAreAccepted) {
  Args args;
  args.bantime = -1;
  EXPECT_EQ(args.parse().bantime, std::chrono::seconds(-1));
  args.bantime = 0;
  EXPECT_EQ(args.parse().bantime, std::chrono::seconds(0));
}

TEST(PublishRequest, RestoredOneIsMarkedRestored) {
  Args args;
  args.restored = 1;
  EXPECT_TRUE(args.parse().restored);
}

TEST(PublishRequest, BadIpNamesTheFlagAndValue) {
  for (const char* ip : {"", "192.0.2.256", "example.com", " 192.0.2.7", "192.0.2.0/33"}) {
    Args args;
    args.ip = ip;
    std::string message = usage_error_of(args);
    EXPECT_TRUE(has(message, "--ip")) << message;
    EXPECT_TRUE(has(message, "'" + std::string(ip) + "'")) << message;
  }
}

TEST(PublishRequest, BadJailNamesTheFlag) {
  for (const char* jail : {"", "ss hd", "sshd\n", "-sshd", "a/b"}) {
    Args args;
    args.jail = jail;
    std::string message = usage_error_of(args);
    EXPECT_TRUE(has(message, "--jail")) << message;
  }
}

TEST(PublishRequest, BadBantimeNamesTheFlag) {
  for (std::int64_t bantime : {std::int64_t{-2}, std::int64_t{-100}, std::int64_t{10LL * 365 * 24 * 3600 + 1}}) {
    Args args;
    args.bantime = bantime;
    std::string message = usage_error_of(args);
    EXPECT_TRUE(has(message, "--bantime")) << message;
    EXPECT_TRUE(has(message, std::to_string(bantime))) << message;
  }
}

TEST(PublishRequest, BadCountsNameTheFlag) {
  Args failures;
  failures.failures = -1;
  EXPECT_TRUE(has(usage_error_of(failures), "--failures"));
  Args bancount;
  bancount.bancount = std::int64_t{UINT32_MAX} + 1;
  EXPECT_TRUE(has(usage_error_of(bancount), "--bancount"));
}

TEST(PublishRequest, BadTimeNamesTheFlag) {
  for (const char* time : {"abc", "-5", "1795652765.9x", " 1795652765", "inf", "nan", "1e20", "1795652765,5"}) {
    Args args;
    args.time = time;
    std::string message = usage_error_of(args);
    EXPECT_TRUE(has(message, "--time")) << time << " -> " << message;
  }
}

// A clock at 1970 (before NTP) or a forged far future: the aggregator's decoder would refuse it.
TEST(PublishRequest, TimeOutsideTheAggregatorsRangeNamesTheFlagAndValue) {
  for (const char* time : {"100", "0", "946684799", "7258118401"}) {
    Args args;
    args.time = time;
    std::string message = usage_error_of(args);
    EXPECT_TRUE(has(message, "--time")) << time << " -> " << message;
    EXPECT_TRUE(has(message, std::string("'") + time + "'")) << time << " -> " << message;
  }
  Args first_of_2000;
  first_of_2000.time = "946684800";
  EXPECT_NO_THROW(first_of_2000.parse());
}

TEST(PublishRequest, RestoredOtherThanZeroOrOneNamesTheFlag) {
  for (int restored : {2, -1}) {
    Args args;
    args.restored = restored;
    std::string message = usage_error_of(args);
    EXPECT_TRUE(has(message, "--restored")) << message;
  }
}

}  // namespace
