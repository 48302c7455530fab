// The `log` backend (subscriber/log_backend.hpp): one line per decision it would enforce, every
// field in it, and nothing ever reported as failed.

#include "subscriber/log_backend.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace {

using fleetban::common::Decision;
using fleetban::common::from_unix;
using fleetban::common::IpPrefix;
using fleetban::subscriber::LogBackend;

// Sends the log to a string for the test's lifetime, then puts the program's logger back.
class CapturedLog {
 public:
  CapturedLog() : saved_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(text_));
    logger->set_pattern("%l %v");
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(saved_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::string text() const { return text_.str(); }

 private:
  std::shared_ptr<spdlog::logger> saved_;
  std::ostringstream text_;
};

Decision decision(std::string_view ip) {
  Decision d;
  d.prefix = *IpPrefix::parse(ip);
  d.active = true;
  d.expires_at = from_unix(1'795'653'600);
  d.reporters = {"web-01", "web-02"};
  d.jails = {"sshd", "nginx"};
  return d;
}

TEST(LogBackend, BanLogsOneLinePerDecisionWithEveryField) {
  CapturedLog log;
  LogBackend backend;
  Decision permanent = decision("2001:db8::/48");
  permanent.expires_at.reset();
  std::vector<Decision> decisions{decision("192.0.2.7"), permanent};
  EXPECT_TRUE(backend.ban(decisions).empty());
  EXPECT_EQ(log.text(),
            "info enforce_ban ip=192.0.2.7 expires_at=1795653600 reporters=web-01,web-02 jails=sshd,nginx\n"
            "info enforce_ban ip=2001:db8::/48 expires_at=never reporters=web-01,web-02 jails=sshd,nginx\n");
}

TEST(LogBackend, UnbanLogsOneLinePerPrefix) {
  CapturedLog log;
  LogBackend backend;
  std::vector<IpPrefix> prefixes{*IpPrefix::parse("192.0.2.7"), *IpPrefix::parse("198.51.100.0/24")};
  EXPECT_TRUE(backend.unban(prefixes).empty());
  EXPECT_EQ(log.text(), "info enforce_unban ip=192.0.2.7\ninfo enforce_unban ip=198.51.100.0/24\n");
}

TEST(LogBackend, NothingToDoLogsNothing) {
  CapturedLog log;
  LogBackend backend;
  EXPECT_TRUE(backend.ban({}).empty());
  EXPECT_TRUE(backend.unban({}).empty());
  EXPECT_EQ(log.text(), "");
}

TEST(LogBackend, EnforcesNothingOfItsOwnToCheck) {
  LogBackend backend;
  EXPECT_FALSE(backend.enforced());  // the subscriber's own record stands
  EXPECT_FALSE(backend.replace_all({}));
  EXPECT_TRUE(backend.intact());
  auto failures = backend.take_failures();
  EXPECT_TRUE(failures.bans.empty());
  EXPECT_TRUE(failures.unbans.empty());
}

}  // namespace
