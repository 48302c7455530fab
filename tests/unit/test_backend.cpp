// make_backend (subscriber/backend.hpp): the backend the host config names, built from a config
// load_host_config has checked; a config built by hand past those checks is a programming error.

#include "subscriber/backend.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "subscriber/exec_backend.hpp"
#include "subscriber/fail2ban_backend.hpp"
#include "subscriber/log_backend.hpp"

namespace {

using fleetban::common::BackendKind;
using fleetban::common::EnforceConfig;
using fleetban::subscriber::make_backend;

EnforceConfig config_of(BackendKind kind) {
  EnforceConfig config;
  config.backend = kind;
  config.jail = "fleetban";
  config.fail2ban_client = "fail2ban-client -s /run/f2b.sock";
  config.ban_command = "/bin/true <ip>";
  return config;
}

TEST(Backend, EachKindBuildsItsBackend) {
  EXPECT_NE(dynamic_cast<fleetban::subscriber::LogBackend*>(make_backend(config_of(BackendKind::log)).get()), nullptr);
  EXPECT_NE(dynamic_cast<fleetban::subscriber::ExecBackend*>(make_backend(config_of(BackendKind::exec)).get()),
            nullptr);
  EXPECT_NE(dynamic_cast<fleetban::subscriber::Fail2banBackend*>(make_backend(config_of(BackendKind::fail2ban)).get()),
            nullptr);
}

TEST(Backend, ConfigThatSkippedTheLoadersChecksIsALogicError) {
  auto exec = config_of(BackendKind::exec);
  exec.ban_command = "";
  EXPECT_THROW(make_backend(exec), std::logic_error);
  exec.ban_command = "/bin/echo '<ip>";
  EXPECT_THROW(make_backend(exec), std::logic_error);
  auto fail2ban = config_of(BackendKind::fail2ban);
  fail2ban.jail = "fleet ban";
  EXPECT_THROW(make_backend(fail2ban), std::logic_error);
  fail2ban = config_of(BackendKind::fail2ban);
  fail2ban.fail2ban_client = "";
  EXPECT_THROW(make_backend(fail2ban), std::logic_error);
}

}  // namespace
