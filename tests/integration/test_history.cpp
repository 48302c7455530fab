// An address's history (issue 13 point 2), black box: reports, refusals, fleet bans with the
// reason for their length, operator unbans and expiries are kept in state.db and served newest
// first by GET /api/v1/bans/IP and `fleetban show IP [--json]` (the same document); they survive a
// restart, go after forget_after, and a flood on one address keeps only its newest rows without
// erasing another's.
#include "fleet.hpp"

#include <httplib.h>
#include <zmq.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fleetban::testing {
namespace {

// Writes aggregator.toml with HTTP on `port` and `policy` as its [policy] table's lines.
void configure(Fleet& fleet, std::uint16_t port, const std::string& policy) {
  fleet.write_aggregator_config("", "127.0.0.1:" + std::to_string(port));
  std::string toml = read_file(fleet.aggregator_config());
  const std::string fleet_default = "min_reporters = 1\n";
  toml.replace(toml.rfind(fleet_default), fleet_default.size(), policy);
  write_file(fleet.aggregator_config(), toml);
}

// GET path on the aggregator's HTTP port: status and body (status 0: no answer).
std::pair<int, std::string> http_get(std::uint16_t port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(10));
  auto result = client.Get(path);
  if (!result) return {0, ""};
  return {result->status, result->body};
}

// GET /api/v1/bans/IP as JSON (null when there was no 200 answer).
nlohmann::json history(std::uint16_t port, const std::string& ip) {
  auto [status, body] = http_get(port, "/api/v1/bans/" + ip);
  if (status != 200) return nullptr;
  return nlohmann::json::parse(body, nullptr, false);
}

// Polls the API until the address's history has at least `rows` rows; the last document in *last.
::testing::AssertionResult history_has(std::uint16_t port, const std::string& ip, std::size_t rows,
                                       nlohmann::json* last) {
  return poll_until(
      [&] {
        *last = history(port, ip);
        return last->is_object() && (*last)["history"].size() >= rows;
      },
      deadline_in(kSoon), ip + "'s history to hold " + std::to_string(rows) + " rows", [&] { return last->dump(); });
}

std::string kinds_of(const nlohmann::json& document) {
  std::string kinds;
  for (const auto& row : document["history"]) {
    if (!kinds.empty()) kinds += ",";
    kinds += std::string(row["fleet"].get<bool>() ? "fleet " : "") + row["kind"].get<std::string>();
  }
  return kinds;
}

RunResult show(const Host& via, const std::string& ip, bool json) {
  std::vector<std::string> argv{program("fleetban"), "show", ip, "--config", via.config.string()};
  if (json) argv.push_back("--json");
  return run(argv);
}

TEST(History, AnAddressShowsItsReportsBanWithItsLengthOperatorUnbanAndExpiryNewestFirst) {
  TempDir dir;
  Fleet fleet(dir);
  const std::uint16_t port = free_tcp_port();
  configure(fleet, port, "min_reporters = 2\nallowlist = [\"198.51.100.0/24\"]\n");
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  const Host& alice = fleet.add_host("alice");  // the operator (insecure mode: any key may act as one)
  ASSERT_TRUE(fleet.start_aggregator(web01));
  const std::string ip = "192.0.2.7";

  // One report is not enough: a row that changed no decision.
  ASSERT_EQ(fleet.publish(web01, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "600"}).exit_code, 0);
  nlohmann::json doc;
  ASSERT_TRUE(history_has(port, ip, 1, &doc));
  EXPECT_TRUE(doc["decision"].is_null()) << doc.dump();
  EXPECT_EQ(doc["history"][0]["kind"], "ban");
  EXPECT_EQ(doc["history"][0]["fleet"], false);
  EXPECT_EQ(doc["history"][0]["host"], "web-01");
  EXPECT_EQ(doc["history"][0]["jail"], "sshd");
  EXPECT_NE(doc["history"][0]["reason"].get<std::string>().find("1 of min_reporters 2"), std::string::npos)
      << doc.dump();

  // The second reporter makes the fleet ban; its row says why it lasts 3600 s.
  ASSERT_EQ(fleet.publish(web02, {"ban", "--ip", ip, "--jail", "nginx", "--bantime", "3600"}).exit_code, 0);
  ASSERT_TRUE(history_has(port, ip, 2, &doc));
  ASSERT_TRUE(doc["decision"].is_object()) << doc.dump();
  EXPECT_EQ(doc["decision"]["ip"], ip);
  EXPECT_EQ(strings_of(doc["decision"]["reporters"]), (std::vector<std::string>{"web-01", "web-02"}));
  EXPECT_EQ(doc["ban_count"], 1);
  const auto& ban = doc["history"][0];
  EXPECT_EQ(ban["kind"], "ban");
  EXPECT_EQ(ban["fleet"], true);
  EXPECT_EQ(ban["host"], "web-02");
  EXPECT_EQ(ban["reason"], "3600 s: the bantime web-02 (nginx) reported; min_reporters 2 reached with 2 reporters");

  // The operator lifts it, then bans it again for 2 s, which expire.
  RunResult unban = run({program("fleetban"), "unban", ip, "--config", alice.config.string()});
  ASSERT_EQ(unban.exit_code, 0) << describe(unban);
  RunResult reban = run({program("fleetban"), "ban", ip, "--bantime", "2", "--reason", "probing again", "--config",
                         alice.config.string()});
  ASSERT_EQ(reban.exit_code, 0) << describe(reban);
  ASSERT_TRUE(history_has(port, ip, 5, &doc));
  EXPECT_EQ(kinds_of(doc), "fleet expired,fleet ban,fleet unban,fleet ban,ban") << doc.dump();
  const auto& rows = doc["history"];
  EXPECT_TRUE(rows[0]["host"].is_null());
  EXPECT_EQ(rows[0]["reason"], "its 2 s were up");
  EXPECT_EQ(rows[1]["host"], "alice");
  EXPECT_EQ(rows[1]["reason"], "operator: 2 s, as asked; probing again");
  EXPECT_EQ(rows[2]["host"], "alice");
  for (std::size_t i = 1; i < rows.size(); ++i) EXPECT_GE(rows[i - 1]["at"], rows[i]["at"]);
  EXPECT_TRUE(doc["decision"].is_null());
  EXPECT_EQ(doc["ban_count"], 2);
  EXPECT_EQ(doc["history_total"], 5);

  // An allowlisted address: the refusal and its reason.
  fleet.publish(web01, {"ban", "--ip", "198.51.100.9", "--jail", "sshd"});
  nlohmann::json refused;
  ASSERT_TRUE(history_has(port, "198.51.100.9", 1, &refused));
  EXPECT_EQ(refused["history"][0]["kind"], "refused");
  EXPECT_EQ(refused["history"][0]["host"], "web-01");
  EXPECT_NE(refused["history"][0]["reason"].get<std::string>().find("allowlisted (198.51.100.0/24)"), std::string::npos)
      << refused.dump();

  // `fleetban show --json` prints the API's document; the plain form is a timeline.
  RunResult json = show(web01, ip, true);
  ASSERT_EQ(json.exit_code, 0) << describe(json);
  EXPECT_EQ(nlohmann::json::parse(json.out, nullptr, false), history(port, ip));
  RunResult plain = show(web01, ip, false);
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  for (const char* text : {"not banned by the fleet now (banned 2 times before)", "fleet expired", "fleet unban",
                           "ban report", "min_reporters 2 reached with 2 reporters", "5 rows, newest first"}) {
    EXPECT_NE(plain.out.find(text), std::string::npos) << text << "\n" << plain.out;
  }
  // An IPv4-mapped IPv6 address is the IPv4 address.
  EXPECT_EQ(history(port, "::ffff:" + ip), history(port, ip));

  // The history survives a restart.
  EXPECT_EQ(fleet.stop_aggregator(), 0);
  ASSERT_TRUE(fleet.start_aggregator(web01));
  nlohmann::json after;
  ASSERT_TRUE(history_has(port, ip, 5, &after));
  EXPECT_EQ(after, doc);
}

TEST(History, BadAddressesAreRefusedWithAMessage) {
  TempDir dir;
  Fleet fleet(dir);
  const std::uint16_t port = free_tcp_port();
  configure(fleet, port, "min_reporters = 1\n");
  const Host& web01 = fleet.add_host("web-01");
  ASSERT_TRUE(fleet.start_aggregator(web01));

  auto [status, body] = http_get(port, "/api/v1/bans/not-an-ip");
  EXPECT_EQ(status, 400);
  auto error = nlohmann::json::parse(body, nullptr, false);
  ASSERT_TRUE(error.is_object()) << body;
  EXPECT_EQ(error["error"], "\"not-an-ip\" is not an IPv4 or IPv6 address or prefix");
  RunResult bad = show(web01, "192.0.2.300", false);
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
  EXPECT_NE(bad.output.find("192.0.2.300"), std::string::npos) << describe(bad);

  // An address never seen: 200, no decision, no history.
  nlohmann::json none = history(port, "2001:db8::5");
  ASSERT_TRUE(none.is_object());
  EXPECT_TRUE(none["decision"].is_null());
  EXPECT_EQ(none["ban_count"], 0);
  EXPECT_TRUE(none["history"].empty());
}

// ---------------------------------------------------------------- hand-made protobuf

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

std::string prefix_of(std::string_view address_bytes, std::int64_t length) {
  std::string prefix;
  field(prefix, 1, address_bytes);
  field(prefix, 2, length);
  return prefix;
}

std::string ipv4(const char* text) {
  in_addr raw{};
  if (inet_pton(AF_INET, text, &raw) != 1) throw std::invalid_argument(text);
  return {reinterpret_cast<const char*>(&raw), sizeof raw};
}

// Request{event: a ban of ip by host, bantime 3600, with a random id}.
std::string ban_request(std::mt19937& random, const char* ip, const std::string& host) {
  std::string id(16, '\0');
  for (auto& c : id) c = static_cast<char>(random());
  std::string event, request;
  field(event, 1, id);
  field(event, 2, std::int64_t{1});  // BAN
  field(event, 3, prefix_of(ipv4(ip), 32));
  field(event, 4, std::string_view("sshd"));
  field(event, 5, host);
  field(event, 6, std::int64_t{3600});
  field(event, 9, unix_now() * 1000);
  field(event, 10, unix_now() * 1000);
  field(request, 1, event);
  return request;
}

// Request{history (6): HistoryRequest{request_id, prefix}}.
std::string history_request(std::string_view request_id, const std::string& prefix) {
  std::string body, request;
  field(body, 1, request_id);
  field(body, 2, prefix);
  field(request, 6, body);
  return request;
}

// A plaintext DEALER: sends frames, counts the replies that come back within the deadline.
class Wire {
 public:
  explicit Wire(const std::string& endpoint) : context_(zmq_ctx_new()), socket_(zmq_socket(context_, ZMQ_DEALER)) {
    const int zero = 0, queue = 100'000;
    zmq_setsockopt(socket_, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(socket_, ZMQ_SNDHWM, &queue, sizeof queue);
    zmq_setsockopt(socket_, ZMQ_RCVHWM, &queue, sizeof queue);
    zmq_connect(socket_, endpoint.c_str());
  }
  ~Wire() {
    zmq_close(socket_);
    zmq_ctx_term(context_);
  }
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;

  void send(const std::string& frame) { zmq_send(socket_, frame.data(), frame.size(), 0); }
  // Replies until `count` came or the deadline passed; returns them.
  std::vector<std::string> receive(std::size_t count, Deadline deadline) {
    std::vector<std::string> replies;
    while (replies.size() < count) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&item, 1, static_cast<long>(left.count())) <= 0) continue;
      zmq_msg_t message;
      zmq_msg_init(&message);
      if (zmq_msg_recv(&message, socket_, ZMQ_DONTWAIT) >= 0) {
        replies.emplace_back(static_cast<const char*>(zmq_msg_data(&message)), zmq_msg_size(&message));
      }
      zmq_msg_close(&message);
    }
    return replies;
  }

 private:
  void* context_;
  void* socket_;
};

class HistoryWire : public ::testing::Test {
 protected:
  void SetUp() override {
    if (read_file(fleet.aggregator_config()).find("insecure = true") == std::string::npos) {
      GTEST_SKIP() << "the fleet uses CURVE: these tests speak plaintext protobuf to the aggregator";
    }
  }
  TempDir dir;
  Fleet fleet{dir};
  const std::uint16_t port = free_tcp_port();
  std::mt19937 random{std::random_device{}()};
};

// 400 reports of one address from one host (the rate limit raised): it keeps about its newest 200
// rows (trimmed every 50), and another address's row stays.
TEST_F(HistoryWire, AFloodOnOneAddressKeepsItsNewestRowsAndErasesNoOther) {
  configure(fleet, port, "min_reporters = 1\nmax_events_per_second = 100000\n");
  const Host& web01 = fleet.add_host("web-01");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  ASSERT_EQ(fleet.publish(web01, {"ban", "--ip", "192.0.2.51", "--jail", "sshd"}).exit_code, 0);

  Wire wire(fleet.ingest_endpoint());
  constexpr std::size_t kFlood = 400;
  for (std::size_t i = 0; i < kFlood; ++i) wire.send(ban_request(random, "192.0.2.50", "web-01"));
  ASSERT_EQ(wire.receive(kFlood, deadline_in(kSoon)).size(), kFlood);

  nlohmann::json flooded = history(port, "192.0.2.50");
  ASSERT_TRUE(flooded.is_object());
  EXPECT_GE(flooded["history_total"].get<int>(), 200) << flooded["history_total"];
  EXPECT_LT(flooded["history_total"].get<int>(), 250) << flooded["history_total"];
  EXPECT_EQ(flooded["history"].size(), flooded["history_total"].get<std::size_t>());
  nlohmann::json other = history(port, "192.0.2.51");
  ASSERT_TRUE(other.is_object());
  ASSERT_EQ(other["history"].size(), 1u) << other.dump();
  EXPECT_EQ(other["history"][0]["fleet"], true);
}

// A HistoryRequest whose prefix is malformed is refused (logged, unanswered) and the aggregator
// goes on answering the next one.
TEST_F(HistoryWire, AHistoryRequestWithAMalformedPrefixIsRefused) {
  configure(fleet, port, "min_reporters = 1\n");
  const Host& web01 = fleet.add_host("web-01");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  Wire wire(fleet.ingest_endpoint());
  wire.send(history_request("bad", prefix_of("\x01\x02\x03", 32)));  // 3 address bytes
  wire.send(history_request("bad-length", prefix_of(ipv4("192.0.2.1"), 33)));
  wire.send(history_request("good", prefix_of(ipv4("192.0.2.1"), 32)));
  auto replies = wire.receive(1, deadline_in(kSoon));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_NE(replies[0].find("good"), std::string::npos);
  EXPECT_TRUE(wire.receive(1, deadline_in(std::chrono::milliseconds(500))).empty());
  ASSERT_TRUE(poll_until(
      [&] { return fleet.aggregator()->log().find("history request: bad prefix") != std::string::npos; },
      deadline_in(kSoon), "the refusal to be logged", [&] { return last_lines(fleet.aggregator()->log(), 10); }));
  EXPECT_TRUE(fleet.aggregator()->running());
}

// Rows older than forget_after go while the aggregator runs, even those of a ban still active.
TEST(History, RowsOlderThanForgetAfterAreDropped) {
  TempDir dir;
  Fleet fleet(dir);
  const std::uint16_t port = free_tcp_port();
  configure(fleet, port, "min_reporters = 1\nforget_after = 3\n");
  const Host& web01 = fleet.add_host("web-01");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  ASSERT_EQ(fleet.publish(web01, {"ban", "--ip", "192.0.2.60", "--jail", "sshd", "--bantime", "3600"}).exit_code, 0);
  nlohmann::json doc;
  ASSERT_TRUE(history_has(port, "192.0.2.60", 1, &doc));
  ASSERT_TRUE(poll_until(
      [&] {
        doc = history(port, "192.0.2.60");
        return doc.is_object() && doc["history"].empty();
      },
      deadline_in(kSoon + std::chrono::seconds(3)), "the row to be dropped", [&] { return doc.dump(); }));
  EXPECT_TRUE(doc["decision"].is_object()) << doc.dump();  // the ban itself stays
  EXPECT_EQ(doc["history_total"], 0);
}

}  // namespace
}  // namespace fleetban::testing
