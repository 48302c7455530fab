// fleetban-publish on its own: the spool when the aggregator is down, what it
// refuses, and the config errors every program reports the same way.
#include "fleet.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

// A generous bound, not a timing threshold: it only catches a publisher that
// hangs instead of spooling (Fail2Ban runs one action at a time, server-wide).
constexpr std::chrono::seconds kPublishBound{10};

std::string list_files(const std::vector<std::filesystem::path>& files) {
  std::string text;
  for (const auto& file : files) {
    text += "  " + file.string() + "\n";
  }
  return text.empty() ? "  (none)\n" : text;
}

// The spooled events: the spool's files, less hidden ones (a spool's own
// bookkeeping, such as a marker of the aggregator's last failure, or a
// temporary file before its rename).
std::vector<std::filesystem::path> spooled_events(const std::filesystem::path& spool) {
  std::vector<std::filesystem::path> events;
  for (const auto& file : regular_files_under(spool)) {
    if (file.filename().string().rfind('.', 0) != 0) {
      events.push_back(file);
    }
  }
  return events;
}

// No aggregator is ever started: its ports were free a moment ago and nothing listens there.
class PublishWithoutAggregator : public ::testing::Test {
 protected:
  TempDir dir;
  Fleet fleet{dir};
  const Host& host1 = fleet.add_host("host1", HostOptions{std::chrono::milliseconds(300), ""});
};

TEST_F(PublishWithoutAggregator, BanIsSpooledAndPublishExitsZero) {
  const auto result =
      fleet.publish(host1, {"ban", "--ip", "192.0.2.30", "--jail", "sshd", "--bantime", "600"}, kPublishBound);
  ASSERT_FALSE(result.timed_out) << describe(result);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  const auto spooled = spooled_events(host1.spool);
  EXPECT_EQ(spooled.size(), 1u) << "files in " << host1.spool.string() << ":\n"
                                << list_files(regular_files_under(host1.spool)) << describe(result);
}

// Nothing at all in the spool, not even bookkeeping: the publisher did not
// try to reach the aggregator.
TEST_F(PublishWithoutAggregator, RestoredBanIsNotSentNorSpooled) {
  const auto result = fleet.publish(
      host1, {"ban", "--ip", "192.0.2.31", "--jail", "sshd", "--bantime", "600", "--restored", "1"}, kPublishBound);
  ASSERT_FALSE(result.timed_out) << describe(result);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  const auto spooled = regular_files_under(host1.spool);
  EXPECT_TRUE(spooled.empty()) << "files in " << host1.spool.string() << ":\n"
                               << list_files(spooled) << describe(result);
}

class PublishBadAddress : public PublishWithoutAggregator, public ::testing::WithParamInterface<const char*> {};

TEST_P(PublishBadAddress, ExitsTwoNamingTheAddressAndSpoolsNothing) {
  const std::string address = GetParam();
  const auto result =
      fleet.publish(host1, {"ban", "--ip", address, "--jail", "sshd", "--bantime", "600"}, kPublishBound);
  ASSERT_FALSE(result.timed_out) << describe(result);
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.output.find(address), std::string::npos) << "the message does not name " << address << "\n"
                                                            << describe(result);
  const auto spooled = regular_files_under(host1.spool);
  EXPECT_TRUE(spooled.empty()) << "files in " << host1.spool.string() << ":\n" << list_files(spooled);
}

INSTANTIATE_TEST_SUITE_P(Addresses, PublishBadAddress, ::testing::Values("not-an-ip", "192.0.2.300", "192.0.2.0/33"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           switch (info.index) {
                             case 0: return std::string("NotAnAddress");
                             case 1: return std::string("Ipv4OctetOutOfRange");
                             default: return std::string("PrefixLengthOutOfRange");
                           }
                         });

// Each program refuses a config file with a key it does not know.
struct ConfigReader {
  const char* name;               // for the test's name
  bool aggregator;                // reads aggregator.toml rather than host.toml
  std::vector<std::string> args;  // before --config FILE
};

void PrintTo(const ConfigReader& reader, std::ostream* out) { *out << reader.name; }

class UnknownConfigKey : public ::testing::TestWithParam<ConfigReader> {
 protected:
  TempDir dir;
  Fleet fleet{dir};
};

TEST_P(UnknownConfigKey, ExitsTwoNamingTheKeyAndTheFile) {
  const ConfigReader& reader = GetParam();
  const std::string key = "frobnicate_level";
  std::filesystem::path config;
  if (reader.aggregator) {
    fleet.write_aggregator_config(key + " = 3\n");
    config = fleet.aggregator_config();
  } else {
    config = fleet.add_host("host1", HostOptions{std::chrono::milliseconds(300), key + " = 3\n"}).config;
  }
  std::vector<std::string> argv = reader.args;
  argv[0] = program(argv[0]);
  argv.emplace_back("--config");
  argv.push_back(config.string());

  const auto result = run(argv, kPublishBound);
  ASSERT_FALSE(result.timed_out) << describe(result);
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.output.find(key), std::string::npos) << "the message does not name the key " << key << "\n"
                                                        << describe(result);
  EXPECT_NE(result.output.find(config.string()), std::string::npos)
      << "the message does not name the file " << config.string() << "\n"
      << describe(result);
}

INSTANTIATE_TEST_SUITE_P(
    Programs, UnknownConfigKey,
    ::testing::Values(
        ConfigReader{"Publish", false, {"fleetban-publish", "ban", "--ip", "192.0.2.32", "--jail", "sshd"}},
        ConfigReader{"Subscriber", false, {"fleetban-subscriber"}},
        ConfigReader{"Aggregator", true, {"fleetban-aggregator"}},
        ConfigReader{"List", false, {"fleetban", "list", "--json"}}),
    [](const ::testing::TestParamInfo<ConfigReader>& info) { return std::string(info.param.name); });

TEST_F(PublishWithoutAggregator, UnknownConfigKeySpoolsNothing) {
  const auto& host = fleet.add_host("host2", HostOptions{std::chrono::milliseconds(300), "frobnicate_level = 3\n"});
  const auto result =
      fleet.publish(host, {"ban", "--ip", "192.0.2.33", "--jail", "sshd", "--bantime", "600"}, kPublishBound);
  ASSERT_FALSE(result.timed_out) << describe(result);
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  const auto spooled = regular_files_under(host.spool);
  EXPECT_TRUE(spooled.empty()) << list_files(spooled);
}

}  // namespace
}  // namespace fleetban::testing
