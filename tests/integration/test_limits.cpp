// What no single host, key or address can do to the fleet (issue 11): make a decision too big for
// the others to take in, slip a ban past an allowlist as an IPv4-mapped address, keep a ban the
// allowlist came to cover, or ban the fleet's own links.
//
// Many hosts are played by one plaintext DEALER speaking hand-encoded protobuf: with
// `insecure = true` the reporter is the event's host_id, and `fleetban ban` needs no operator key.
// Under CURVE (FLEETBAN_TEST_SECURITY=curve) these tests skip.
#include "fleet.hpp"

#include <gtest/gtest.h>
#include <zmq.h>

#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetban::testing {
namespace {

// ---------------------------------------------------------------- protobuf, by hand

void varint(std::string& out, std::uint64_t value) {
  for (; value >= 0x80; value >>= 7) out += static_cast<char>((value & 0x7f) | 0x80);
  out += static_cast<char>(value);
}

void field(std::string& out, std::uint32_t number, std::string_view bytes) {
  varint(out, (number << 3) | 2);
  varint(out, bytes.size());
  out += bytes;
}

void field(std::string& out, std::uint32_t number, std::int64_t value) {
  varint(out, number << 3);
  varint(out, static_cast<std::uint64_t>(value));
}

// Raw address bytes of an IPv4 or IPv6 address text, as the wire carries them.
std::string address_bytes(const std::string& text) {
  unsigned char raw[16] = {};
  if (inet_pton(AF_INET, text.c_str(), raw) == 1) return {reinterpret_cast<char*>(raw), 4};
  if (inet_pton(AF_INET6, text.c_str(), raw) == 1) return {reinterpret_cast<char*>(raw), 16};
  throw std::invalid_argument("not an address: " + text);
}

// A ban event (fleetban.v1.Request{event}); `id` is its 16-byte event id.
std::string ban_request(const std::string& id, const std::string& address, const std::string& host,
                        const std::string& jail) {
  std::string prefix;
  field(prefix, 1, address);
  field(prefix, 2, static_cast<std::int64_t>(address.size() * 8));
  std::string event;
  field(event, 1, id);
  field(event, 2, std::int64_t{1});  // BAN
  field(event, 3, prefix);
  field(event, 4, jail);
  field(event, 5, host);
  field(event, 6, std::int64_t{3600});
  field(event, 9, unix_now() * 1000);
  field(event, 10, unix_now() * 1000);
  std::string request;
  field(request, 1, event);
  return request;
}

// Ack outcomes of proto/fleetban.proto.
enum class Outcome : char { applied = 1, duplicate = 2, refused = 3, throttled = 4 };

// A plaintext DEALER on the aggregator's ingest socket that sends ban events and reads their acks.
class WireClient {
 public:
  explicit WireClient(const std::string& endpoint)
      : context_(zmq_ctx_new()), socket_(zmq_socket(context_, ZMQ_DEALER)) {
    const int zero = 0;
    const int send_timeout_ms = 10'000;
    const int queue = 100'000;
    zmq_setsockopt(socket_, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(socket_, ZMQ_SNDTIMEO, &send_timeout_ms, sizeof send_timeout_ms);
    zmq_setsockopt(socket_, ZMQ_SNDHWM, &queue, sizeof queue);
    zmq_setsockopt(socket_, ZMQ_RCVHWM, &queue, sizeof queue);
    if (zmq_connect(socket_, endpoint.c_str()) != 0) throw std::runtime_error("cannot connect to " + endpoint);
  }
  ~WireClient() {
    zmq_close(socket_);
    zmq_ctx_term(context_);
  }
  WireClient(const WireClient&) = delete;
  WireClient& operator=(const WireClient&) = delete;

  // Sends a ban; returns its event id.
  std::string ban(const std::string& address, const std::string& host, const std::string& jail) {
    std::string id(16, '\0');
    for (auto& c : id) c = static_cast<char>(random_());
    const std::string frame = ban_request(id, address, host, jail);
    if (zmq_send(socket_, frame.data(), frame.size(), 0) < 0) throw std::runtime_error("cannot send an event");
    pending_.push_back(id);
    return id;
  }

  // Reads acks until every event sent has one; each ack's outcome is kept by event id.
  ::testing::AssertionResult wait_for_acks(Deadline deadline) {
    while (acked_ < pending_.size()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return ::testing::AssertionFailure() << acked_ << " of " << pending_.size() << " events acked in time";
      }
      zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&item, 1, static_cast<long>(left.count())) <= 0) continue;
      char buffer[1024];
      const int size = zmq_recv(socket_, buffer, sizeof buffer, ZMQ_DONTWAIT);
      if (size <= 0 || size > static_cast<int>(sizeof buffer)) continue;
      // Reply{ack = 1 {event_id = 1 (16 bytes), outcome = 2, reason = 3}}: skip the ack's tag and
      // length (a varint), then read the id and the outcome.
      std::string_view reply(buffer, static_cast<std::size_t>(size));
      if (reply[0] != 0x0a) continue;
      std::size_t at = 1;
      while (at < reply.size() && (static_cast<unsigned char>(reply[at]) & 0x80) != 0) ++at;
      ++at;
      if (reply.size() < at + 20 || reply[at] != 0x0a || reply[at + 1] != 16 || reply[at + 18] != 0x10) continue;
      outcomes_.emplace_back(std::string(reply.substr(at + 2, 16)), static_cast<Outcome>(reply[at + 19]));
      ++acked_;
    }
    return ::testing::AssertionSuccess();
  }

  std::size_t count(Outcome outcome) const {
    std::size_t n = 0;
    for (const auto& [id, o] : outcomes_) n += o == outcome ? 1 : 0;
    return n;
  }
  std::optional<Outcome> outcome_of(const std::string& id) const {
    for (const auto& [acked, o] : outcomes_) {
      if (acked == id) return o;
    }
    return std::nullopt;
  }

 private:
  void* context_;
  void* socket_;
  std::mt19937 random_{std::random_device{}()};
  std::vector<std::string> pending_;
  std::size_t acked_ = 0;
  std::vector<std::pair<std::string, Outcome>> outcomes_;
};

// Appends lines to a config file's last table ([policy] of aggregator.toml, [enforce] of host.toml).
void append_to_last_table(const std::filesystem::path& file, const std::string& lines) {
  write_file(file, read_file(file) + lines);
}

class Limits : public ::testing::Test {
 protected:
  void SetUp() override {
    if (read_file(fleet.aggregator_config()).find("insecure = true") == std::string::npos) {
      GTEST_SKIP() << "the fleet uses CURVE: these tests play many hosts over one plaintext connection";
    }
  }

  TempDir dir;
  Fleet fleet{dir};
};

// One host reporting one address under 1,100 jails, and 1,030 hosts reporting another, made
// decisions with more than 1,024 names: every snapshot, `fleetban list` and the aggregator's
// restart failed from then on.
TEST_F(Limits, HugeReportsStayReadableBySnapshotsListAndRestart) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  append_to_last_table(fleet.aggregator_config(), "max_events_per_second = 100000\n");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  {
    WireClient client(fleet.ingest_endpoint());
    for (int i = 0; i < 1100; ++i) client.ban(address_bytes("192.0.2.7"), "host1", "jail-" + std::to_string(i));
    for (int i = 0; i < 1030; ++i) client.ban(address_bytes("192.0.2.8"), "member-" + std::to_string(i), "sshd");
    ASSERT_TRUE(client.wait_for_acks(deadline_in(std::chrono::seconds(120))));
    EXPECT_EQ(client.count(Outcome::applied), 2130u);
  }

  auto check_list = [&](const char* when) {
    nlohmann::json document;
    ASSERT_TRUE(fleet.list_until(
        host1, "`fleetban list --json` to show both addresses",
        [](const nlohmann::json& doc) { return find_ban(doc, "192.0.2.7") && find_ban(doc, "192.0.2.8"); }, &document))
        << when;
    const nlohmann::json& jails = *find_ban(document, "192.0.2.7");
    EXPECT_EQ(jails.value("jails", nlohmann::json()).size(), 64u) << when;
    EXPECT_EQ(jails.value("jail_count", nlohmann::json()), 1100) << when;
    EXPECT_EQ(jails.value("reporter_count", nlohmann::json()), 1) << when;
    const nlohmann::json& hosts = *find_ban(document, "192.0.2.8");
    EXPECT_EQ(hosts.value("reporters", nlohmann::json()).size(), 64u) << when;
    EXPECT_EQ(hosts.value("reporter_count", nlohmann::json()), 1030) << when;
    EXPECT_EQ(hosts.value("jail_count", nlohmann::json()), 1) << when;
  };
  check_list("before the restart");

  // A new subscriber's snapshot holds both.
  fleet.start_subscriber(host2);
  EXPECT_TRUE(fleet.enforced(host2, "192.0.2.7"));
  EXPECT_TRUE(fleet.enforced(host2, "192.0.2.8"));

  EXPECT_EQ(fleet.stop_aggregator(), 0);
  ASSERT_TRUE(fleet.start_aggregator(host1));
  check_list("after the restart");
}

// ::ffff:a.b.c.d on the wire is the IPv4 address: allowlists see it as such.
TEST_F(Limits, MappedAddressOnTheWireMeetsTheIpv4Allowlists) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  append_to_last_table(fleet.aggregator_config(), "allowlist = [\"10.0.0.0/8\"]\n");
  append_to_last_table(host2.config, "allowlist = [\"198.51.100.0/24\"]\n");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  fleet.start_subscriber(host2);
  ASSERT_TRUE(fleet.probe_subscribers(host1));

  WireClient client(fleet.ingest_endpoint());
  const auto refused = client.ban(address_bytes("::ffff:10.0.0.1"), "host1", "sshd");
  const auto mapped = client.ban(address_bytes("::ffff:198.51.100.7"), "host1", "sshd");
  ASSERT_TRUE(client.wait_for_acks(deadline_in(kSoon)));
  EXPECT_EQ(client.outcome_of(refused), Outcome::refused);
  EXPECT_EQ(client.outcome_of(mapped), Outcome::applied);

  // The fleet shows the IPv4 address; host2's allowlist keeps it from being enforced there.
  ASSERT_TRUE(fleet.list_until(host1, "the list to show 198.51.100.7",
                               [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.7") != nullptr; }));
  ASSERT_TRUE(fleet.probe_subscribers(host1));
  EXPECT_FALSE(recorded(host2.ban_log, "198.51.100.7"));
  EXPECT_FALSE(recorded(host2.ban_log, "::ffff:198.51.100.7"));

  // And the operator lifts it by its mapped form.
  const auto unban = run({program("fleetban"), "unban", "::ffff:198.51.100.7", "--config", host1.config.string()});
  EXPECT_EQ(unban.exit_code, 0) << describe(unban);
  EXPECT_TRUE(fleet.unlisted(host1, "198.51.100.7"));
}

// Widening the allowlist with SIGHUP ends the fleet bans it now covers, on every subscriber.
TEST_F(Limits, ReloadThatWidensTheAllowlistEndsTheBansItCovers) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  fleet.start_subscriber(host2);
  for (const char* ip : {"198.51.100.20", "198.51.100.21", "203.0.113.9"}) {
    const auto published = fleet.publish(host1, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "-1"});
    ASSERT_EQ(published.exit_code, 0) << describe(published);
    ASSERT_TRUE(fleet.enforced(host2, ip));
  }

  append_to_last_table(fleet.aggregator_config(), "allowlist = [\"198.51.100.0/24\"]\n");
  fleet.aggregator()->kill(SIGHUP);
  EXPECT_TRUE(fleet.lifted(host2, "198.51.100.20"));
  EXPECT_TRUE(fleet.lifted(host2, "198.51.100.21"));
  EXPECT_TRUE(fleet.unlisted(host1, "198.51.100.20"));
  EXPECT_TRUE(fleet.unlisted(host1, "198.51.100.21"));
  ASSERT_TRUE(fleet.probe_subscribers(host1));
  EXPECT_FALSE(recorded(host2.unban_log, "203.0.113.9"));

  // Committed like any change: a restart does not bring them back.
  EXPECT_EQ(fleet.stop_aggregator(), 0);
  ASSERT_TRUE(fleet.start_aggregator(host1));
  const auto listed = fleet.list(host1);
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  const auto document = nlohmann::json::parse(listed.out);
  EXPECT_EQ(find_ban(document, "198.51.100.20"), nullptr) << listed.out;
  EXPECT_NE(find_ban(document, "203.0.113.9"), nullptr) << listed.out;
}

// `fleetban ban` of loopback exits 1 and says why; nothing is banned.
TEST_F(Limits, OperatorBansOfLoopbackAreRefused) {
  const Host& host1 = fleet.add_host("host1");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  for (const char* ip : {"127.0.0.1", "::ffff:127.0.0.1", "127.0.0.0/24", "::1"}) {
    const auto result = run({program("fleetban"), "ban", ip, "--config", host1.config.string()});
    EXPECT_EQ(result.exit_code, 1) << describe(result);
    EXPECT_NE(result.output.find("loopback"), std::string::npos) << describe(result);
  }
  const auto listed = fleet.list(host1);
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  EXPECT_EQ(nlohmann::json::parse(listed.out).value("bans", nlohmann::json::array()).size(), 0u) << listed.out;
  EXPECT_TRUE(poll_until([&] { return fleet.aggregator()->log().find("event_refused") != std::string::npos; },
                         deadline_in(kSoon), "the refusal in the aggregator's log",
                         [&] { return last_lines(fleet.aggregator()->log(), 20); }));
}

// Runs `ip ARGS`; false if it failed.
bool ip(std::vector<std::string> args) {
  args.insert(args.begin(), "ip");
  return run(args).exit_code == 0;
}

// The rest needs addresses that are neither loopback nor the machine's: the test process moves
// into a network namespace of its own (every program it starts follows), and gives its loopback
// interface test addresses as well.
// ctest runs each test in a process of its own.
class OwnLinks : public Limits {
 protected:
  void SetUp() override {
    Limits::SetUp();
    if (IsSkipped()) return;
    if (unshare(CLONE_NEWNET) != 0) GTEST_SKIP() << "cannot make a network namespace: " << std::strerror(errno);
    ASSERT_TRUE(ip({"link", "set", "lo", "up"}));
    ASSERT_TRUE(ip({"addr", "add", "198.51.100.1/32", "dev", "lo"}));
    // The aggregator listens on every interface: it is reached at 198.51.100.1 too.
    std::string config = read_file(fleet.aggregator_config());
    for (const auto& endpoint : {fleet.ingest_endpoint(), fleet.broadcast_endpoint()}) {
      config.replace(config.find(endpoint), endpoint.size(), "tcp://0.0.0.0:" + port_of(endpoint));
    }
    write_file(fleet.aggregator_config(), config);
  }

  static std::string port_of(const std::string& endpoint) { return endpoint.substr(endpoint.rfind(':') + 1); }

  // Points a host at the aggregator through `address` (from `source`, if given).
  void reach_through(const Host& host, const std::string& address, const std::string& source = "") {
    std::string config = read_file(host.config);
    for (const auto& endpoint : {fleet.ingest_endpoint(), fleet.broadcast_endpoint()}) {
      std::string via = "tcp://" + (source.empty() ? "" : source + ":0;") + address + ":" + port_of(endpoint);
      config.replace(config.find(endpoint), endpoint.size(), via);
    }
    write_file(host.config, config);
  }

  RunResult operator_ban(const Host& via, const std::string& ip) {
    return run({program("fleetban"), "ban", ip, "--config", via.config.string()});
  }
};

TEST_F(OwnLinks, BansOfTheAggregatorsAndTheMembersAddressesAreRefused) {
  const Host& host1 = fleet.add_host("host1");
  const Host& member = fleet.add_host("member");
  ASSERT_TRUE(fleet.start_aggregator(host1));

  for (const char* own : {"198.51.100.1", "198.51.100.0/24"}) {
    const auto result = operator_ban(host1, own);
    EXPECT_EQ(result.exit_code, 1) << describe(result);
    EXPECT_NE(result.output.find("the aggregator's own address"), std::string::npos) << describe(result);
  }

  // A member connects from 198.51.100.2 (added after the aggregator started: not its own).
  ASSERT_TRUE(ip({"addr", "add", "198.51.100.2/32", "dev", "lo"}));
  reach_through(member, "198.51.100.1", "198.51.100.2");
  const auto published = fleet.publish(member, {"ban", "--ip", "192.0.2.60", "--jail", "sshd"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  ASSERT_TRUE(fleet.list_until(host1, "the member's ban to be listed",
                               [](const nlohmann::json& doc) { return find_ban(doc, "192.0.2.60") != nullptr; }));
  const auto result = operator_ban(host1, "198.51.100.2");
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_NE(result.output.find("a fleet member's address"), std::string::npos) << describe(result);
  const auto listed = fleet.list(host1);
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  EXPECT_EQ(find_ban(nlohmann::json::parse(listed.out), "198.51.100.2"), nullptr) << listed.out;
}

// The aggregator learns of an address it is reached at only at start or SIGHUP; a ban of one
// made meanwhile reaches the subscribers, and the one reaching the aggregator there ignores it.
TEST_F(OwnLinks, SubscriberNeverEnforcesABanOfItsAggregatorsAddress) {
  const Host& host1 = fleet.add_host("host1");
  const Host& host2 = fleet.add_host("host2");
  ASSERT_TRUE(fleet.start_aggregator(host1));
  ASSERT_TRUE(ip({"addr", "add", "198.51.100.3/32", "dev", "lo"}));
  const auto published = fleet.publish(host1, {"ban", "--ip", "198.51.100.3", "--jail", "sshd"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  ASSERT_TRUE(fleet.list_until(host1, "the ban of 198.51.100.3 to be listed",
                               [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.3") != nullptr; }));

  reach_through(host2, "198.51.100.3");
  Process& subscriber = fleet.start_subscriber(host2);
  ASSERT_TRUE(fleet.probe_subscribers(host1));  // host2 took its snapshot and follows through 198.51.100.3
  EXPECT_FALSE(recorded(host2.ban_log, "198.51.100.3"));
  EXPECT_NE(subscriber.log().find("not_enforced ip=198.51.100.3"), std::string::npos)
      << last_lines(subscriber.log(), 20);
}

}  // namespace
}  // namespace fleetban::testing
