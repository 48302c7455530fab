// Bounded state, black box: with a forget_after of a few seconds, ended bans are forgotten while
// the aggregator runs, in memory (`fleetban_records` in /metrics) and on disk (rows of state.db's
// `records` table, counted with the sqlite3 CLI), and a refused event sent again is refused again
// (it was never remembered as applied, so it is not a DUPLICATE).
#include "fleet.hpp"

#include <httplib.h>
#include <zmq.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <optional>
#include <random>
#include <sstream>
#include <string>

namespace fleetban::testing {
namespace {

constexpr int kForgetAfter = 3;  // seconds

// ---------------------------------------------------------------- the aggregator's outside

// Rewrites aggregator.toml: HTTP on `http`, and `policy_lines` added to its [policy] table
// (Fleet writes that table last).
void configure(const std::filesystem::path& config, const std::string& http, const std::string& policy_lines) {
  std::istringstream lines(read_file(config));
  std::string line, rewritten;
  while (std::getline(lines, line)) {
    if (line.rfind("http ", 0) == 0) line = "http = " + toml_string(http);
    rewritten += line + "\n";
  }
  ASSERT_NE(rewritten.rfind("[policy]"), std::string::npos) << rewritten;
  write_file(config, rewritten + policy_lines);
}

// The value of one unlabelled series in /metrics, or nullopt (no answer, no such series).
std::optional<double> metric(std::uint16_t port, const std::string& name) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(10));
  auto result = client.Get("/metrics");
  if (!result || result->status != 200) return std::nullopt;
  std::istringstream lines(result->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return std::nullopt;
}

// Rows in state.db's records table, counted by the sqlite3 CLI (WAL: it reads beside the
// running aggregator); -1 if the CLI failed.
long records_on_disk(const std::filesystem::path& db) {
  RunResult counted = run({"sqlite3", db.string(), "SELECT count(*) FROM records;"});
  if (counted.exit_code != 0) return -1;
  return std::stol(counted.out);
}

::testing::AssertionResult records_become(std::uint16_t port, const std::filesystem::path& db, long wanted) {
  std::string seen;
  return poll_until(
      [&] {
        auto in_memory = metric(port, "fleetban_records");
        long on_disk = records_on_disk(db);
        seen = "fleetban_records " + (in_memory ? std::to_string(*in_memory) : "missing") + ", rows in records " +
               std::to_string(on_disk);
        return in_memory && *in_memory == static_cast<double>(wanted) && on_disk == wanted;
      },
      deadline_in(kSoon + std::chrono::seconds(kForgetAfter)), "both counts to be " + std::to_string(wanted),
      [&] { return seen; });
}

TEST(Forget, EndedBansAreForgottenInMemoryAndOnDiskWhileRunningAndAfterARestart) {
  TempDir dir;
  Fleet fleet(dir);
  const std::uint16_t port = free_tcp_port();
  configure(fleet.aggregator_config(), "127.0.0.1:" + std::to_string(port),
            // A report inside report_window keeps its record too (a ban reported so late that it
            // has already ended is such a report): a short window, so nothing waits on it.
            "forget_after = " + std::to_string(kForgetAfter) + "\nreport_window = 1\n");
  const Host& web01 = fleet.add_host("web-01");
  ASSERT_TRUE(fleet.start_aggregator(web01));

  // One ban that lasts, and short ones that end a second later and are forgotten kForgetAfter after.
  RunResult lasting = fleet.publish(web01, {"ban", "--ip", "192.0.2.1", "--jail", "sshd", "--bantime", "3600"});
  ASSERT_EQ(lasting.exit_code, 0) << describe(lasting);
  constexpr int kShortBans = 12;
  for (int n = 1; n <= kShortBans; ++n) {
    std::string ip = n % 2 == 0 ? "198.51.100." + std::to_string(n) : "2001:db8::" + std::to_string(n);
    RunResult published = fleet.publish(web01, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "1"});
    ASSERT_EQ(published.exit_code, 0) << describe(published);
  }
  // Every short ban was applied (so each had a record), and in the end only the lasting one stays.
  EXPECT_EQ(metric(port, "fleetban_events_total{kind=\"ban\",outcome=\"applied\"}"), kShortBans + 1);
  ASSERT_TRUE(records_become(port, fleet.state_db(), 1));
  EXPECT_EQ(metric(port, "fleetban_active_bans"), 1);

  // A forgotten address starts over: banned again, it is a first ban.
  RunResult again = fleet.publish(web01, {"ban", "--ip", "2001:db8::1", "--jail", "sshd", "--bantime", "3600"});
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  ASSERT_TRUE(fleet.list_until(web01, "2001:db8::1 banned as a first ban", [](const nlohmann::json& document) {
    const nlohmann::json* ban = find_ban(document, "2001:db8::1");
    return ban != nullptr && ban->value("ban_count", 0) == 1;
  }));

  // What is on disk is what comes back.
  EXPECT_EQ(fleet.stop_aggregator(), 0);
  EXPECT_EQ(records_on_disk(fleet.state_db()), 2);
  ASSERT_TRUE(fleet.start_aggregator(web01));
  ASSERT_TRUE(records_become(port, fleet.state_db(), 2));
}

// ---------------------------------------------------------------- a refused event, sent twice

void put_varint(std::string& out, std::uint64_t value) {
  for (; value >= 0x80; value >>= 7) out += static_cast<char>((value & 0x7f) | 0x80);
  out += static_cast<char>(value);
}

void put_field(std::string& out, std::uint32_t field, std::string_view bytes) {
  put_varint(out, (field << 3) | 2);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_field(std::string& out, std::uint32_t field, std::int64_t value) {
  put_varint(out, field << 3);
  put_varint(out, static_cast<std::uint64_t>(value));
}

// fleetban.v1.Request{event: a ban of ip (IPv4) by host, with this id}.
std::string ban_request(const std::string& id, const char* ip, const std::string& host) {
  in_addr raw{};
  inet_pton(AF_INET, ip, &raw);
  std::string prefix, event, request;
  put_field(prefix, 1, std::string_view(reinterpret_cast<const char*>(&raw), sizeof raw));
  put_field(prefix, 2, std::int64_t{32});
  put_field(event, 1, id);
  put_field(event, 2, std::int64_t{1});  // BAN
  put_field(event, 3, prefix);
  put_field(event, 4, std::string_view("sshd"));
  put_field(event, 5, host);
  put_field(event, 6, std::int64_t{600});
  put_field(event, 9, unix_now() * 1000);
  put_field(event, 10, unix_now() * 1000);
  put_field(request, 1, event);
  return request;
}

// Sends one request on a DEALER of its own and returns the reply (empty: none in time).
std::string exchange(const std::string& endpoint, const std::string& request) {
  void* context = zmq_ctx_new();
  void* socket = zmq_socket(context, ZMQ_DEALER);
  const int zero = 0, timeout_ms = 15'000;
  zmq_setsockopt(socket, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
  zmq_setsockopt(socket, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
  std::string reply;
  if (zmq_connect(socket, endpoint.c_str()) == 0 && zmq_send(socket, request.data(), request.size(), 0) >= 0) {
    char buffer[4096];
    int size = zmq_recv(socket, buffer, sizeof buffer, 0);
    if (size > 0) reply.assign(buffer, static_cast<std::size_t>(std::min<int>(size, sizeof buffer)));
  }
  zmq_close(socket);
  zmq_ctx_term(context);
  return reply;
}

// The Ack's outcome in a Reply{ack: Ack{event_id = id, outcome}}: the byte after the id's field
// and the outcome's tag; -1 if the reply is not an ack of this id.
int ack_outcome(const std::string& reply, const std::string& id) {
  std::string field;
  put_field(field, 1, id);
  std::size_t at = reply.find(field);
  if (at == std::string::npos || at + field.size() + 1 >= reply.size()) return -1;
  if (reply[at + field.size()] != '\x10') return -1;  // field 2, varint
  return reply[at + field.size() + 1];
}

TEST(Forget, ARefusedEventSentAgainIsRefusedAgainNotADuplicate) {
  TempDir dir;
  Fleet fleet(dir);
  if (read_file(fleet.aggregator_config()).find("insecure = true") == std::string::npos) {
    GTEST_SKIP() << "this test speaks plain ZeroMQ to the aggregator: it needs the suite's insecure mode";
  }
  configure(fleet.aggregator_config(), "", "allowlist = [\"198.51.100.0/24\"]\n");
  const Host& web01 = fleet.add_host("web-01");
  ASSERT_TRUE(fleet.start_aggregator(web01));

  std::mt19937 random(std::random_device{}());
  std::string id(16, '\0');
  for (auto& c : id) c = static_cast<char>(random());
  const std::string request = ban_request(id, "198.51.100.7", "web-01");
  constexpr int kRefused = 3, kApplied = 1;
  EXPECT_EQ(ack_outcome(exchange(fleet.ingest_endpoint(), request), id), kRefused);
  EXPECT_EQ(ack_outcome(exchange(fleet.ingest_endpoint(), request), id), kRefused);  // not DUPLICATE (2)

  // An applied one is still remembered: the same id again is a DUPLICATE.
  std::string other(16, '\0');
  for (auto& c : other) c = static_cast<char>(random());
  const std::string applied = ban_request(other, "192.0.2.7", "web-01");
  EXPECT_EQ(ack_outcome(exchange(fleet.ingest_endpoint(), applied), other), kApplied);
  EXPECT_EQ(ack_outcome(exchange(fleet.ingest_endpoint(), applied), other), 2);
}

}  // namespace
}  // namespace fleetban::testing
