// The controls of docs/SECURITY.md against real processes, with CURVE on whatever the suite's
// default: unknown and revoked keys, forged identities, plaintext peers, a wrong server key,
// oversized and malformed frames, loose secret key files, and operator-only bans.
//
// The hostile clients speak raw libzmq CURVE with hand-encoded protobuf (the wire format of
// proto/fleetban.proto is a few varints and length-delimited fields): the suite stays black-box.
#include "fleet.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <zmq.h>

#include <arpa/inet.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetban::testing {
namespace {

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// True when one line of text holds every one of parts.
bool has_line_with(const std::string& text, const std::vector<std::string_view>& parts) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (std::all_of(parts.begin(), parts.end(), [&](std::string_view part) { return contains(line, part); })) {
      return true;
    }
  }
  return false;
}

std::string trimmed(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// Sets top-level keys of a TOML file (value as TOML, e.g. toml_string(...) or "true"): replaces
// the key's line, or adds one before the first table.
void edit_config(const std::filesystem::path& file, const std::vector<std::pair<std::string, std::string>>& settings) {
  std::string toml = read_file(file);
  for (const auto& [key, value] : settings) {
    std::istringstream lines(toml);
    std::string line;
    std::string rewritten;
    bool done = false;
    bool in_table = false;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.front() == '[' && !in_table) {
        in_table = true;
        if (!done) {
          rewritten += key + " = " + value + "\n";
          done = true;
        }
      }
      const auto equals = line.find('=');
      if (!in_table && equals != std::string::npos && trimmed(line.substr(0, equals)) == key) {
        line = key + " = " + value;
        done = true;
      }
      rewritten += line + "\n";
    }
    if (!done) {
      rewritten += key + " = " + value + "\n";
    }
    toml = rewritten;
  }
  write_file(file, toml);
}

// The events waiting in a host's spool (one NAME.event file each).
std::size_t spooled_events(const Host& host) {
  std::size_t count = 0;
  std::error_code error;
  for (std::filesystem::directory_iterator it(host.spool, error), end; !error && it != end; it.increment(error)) {
    if (it->is_regular_file() && it->path().extension() == ".event") {
      ++count;
    }
  }
  return count;
}

// The addresses of a `fleetban list --json` document, sorted.
std::vector<std::string> listed_addresses(const nlohmann::json& document) {
  std::vector<std::string> addresses;
  if (document.is_object() && document.contains("bans") && document["bans"].is_array()) {
    for (const auto& ban : document["bans"]) {
      if (ban.is_object() && ban.contains("ip") && ban["ip"].is_string()) {
        addresses.push_back(ban["ip"].get<std::string>());
      }
    }
  }
  std::sort(addresses.begin(), addresses.end());
  return addresses;
}

// `fleetban list --json` through via, once, parsed; fails the test if it does not answer.
nlohmann::json list_now(const Fleet& fleet, const Host& via) {
  const auto result = fleet.list(via);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  auto document = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(document.is_discarded()) << describe(result);
  return document;
}

RunResult fleetban(const std::vector<std::string>& args) {
  std::vector<std::string> argv{program("fleetban")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

// A Z85 key file's one line.
std::string read_key(const std::filesystem::path& file) {
  std::string key = trimmed(read_file(file));
  if (key.size() != 40) {
    throw std::runtime_error(file.string() + " does not hold one Z85 key");
  }
  return key;
}

// ---------------------------------------------------------------- protobuf, by hand

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

void put_tag(std::string& out, std::uint32_t field, std::uint32_t wire_type) {
  put_varint(out, (field << 3) | wire_type);
}

void put_bytes(std::string& out, std::uint32_t field, std::string_view bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_int(std::string& out, std::uint32_t field, std::int64_t value) {
  put_tag(out, field, 0);
  put_varint(out, static_cast<std::uint64_t>(value));  // int64: negatives take ten bytes
}

std::string ipv4_bytes(const char* address) {
  in_addr raw{};
  if (::inet_pton(AF_INET, address, &raw) != 1) {
    throw std::invalid_argument(std::string("not an IPv4 address: ") + address);
  }
  return {reinterpret_cast<const char*>(&raw), sizeof raw};
}

// fleetban.v1.Event, field by field, valid unless a test spoils a field.
struct WireEvent {
  std::string event_id;   // 16 bytes
  std::int64_t kind = 1;  // BAN
  std::string address;    // 4 or 16 bytes
  std::int64_t length = 32;
  std::string jail = "sshd";
  std::string host_id;
  std::int64_t bantime = 600;
  std::int64_t time_ms = unix_now() * 1000;
  std::int64_t created_ms = unix_now() * 1000;
};

// fleetban.v1.Request{event}.
std::string encode_request(const WireEvent& event) {
  std::string prefix;
  put_bytes(prefix, 1, event.address);
  put_int(prefix, 2, event.length);
  std::string body;
  put_bytes(body, 1, event.event_id);
  put_int(body, 2, event.kind);
  put_bytes(body, 3, prefix);
  put_bytes(body, 4, event.jail);
  put_bytes(body, 5, event.host_id);
  put_int(body, 6, event.bantime);
  put_int(body, 9, event.time_ms);
  put_int(body, 10, event.created_ms);
  std::string request;
  put_bytes(request, 1, body);
  return request;
}

// fleetban.v1.Request{status: StatusRequest{request_id}}.
std::string encode_status_request(std::string_view request_id) {
  std::string body;
  put_bytes(body, 1, request_id);
  std::string request;
  put_bytes(request, 3, body);
  return request;
}

std::string random_bytes(std::mt19937& random, std::size_t size) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string bytes(size, '\0');
  for (auto& c : bytes) {
    c = static_cast<char>(byte(random));
  }
  return bytes;
}

// ---------------------------------------------------------------- a raw CURVE DEALER

// A client of the aggregator's ingest socket that sends whatever the test says, with a host's
// keys, and watches its own connection through a socket monitor.
class RawCurveDealer {
 public:
  RawCurveDealer(const std::string& endpoint, const std::string& server_public, const std::string& client_secret)
      : context_(zmq_ctx_new()) {
    char client_public[41] = {};
    if (zmq_curve_public(client_public, client_secret.c_str()) != 0) {
      throw std::runtime_error("cannot derive a public key: libzmq without CURVE?");
    }
    socket_ = zmq_socket(context_, ZMQ_DEALER);
    const int zero = 0;
    const int send_timeout_ms = 10'000;  // never hang the test on a vanished aggregator
    zmq_setsockopt(socket_, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(socket_, ZMQ_SNDTIMEO, &send_timeout_ms, sizeof send_timeout_ms);
    zmq_setsockopt(socket_, ZMQ_CURVE_SERVERKEY, server_public.data(), 40);
    zmq_setsockopt(socket_, ZMQ_CURVE_PUBLICKEY, client_public, 40);
    zmq_setsockopt(socket_, ZMQ_CURVE_SECRETKEY, client_secret.data(), 40);
    static int monitors = 0;
    const std::string monitor_endpoint = "inproc://security-test-monitor-" + std::to_string(monitors++);
    if (zmq_socket_monitor(socket_, monitor_endpoint.c_str(),
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
      throw std::runtime_error("zmq_socket_monitor failed");
    }
    monitor_ = zmq_socket(context_, ZMQ_PAIR);
    zmq_setsockopt(monitor_, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(monitor_, monitor_endpoint.c_str());
    if (zmq_connect(socket_, endpoint.c_str()) != 0) {
      throw std::runtime_error("cannot connect to " + endpoint);
    }
  }

  ~RawCurveDealer() {
    zmq_socket_monitor(socket_, nullptr, 0);
    zmq_close(monitor_);
    zmq_close(socket_);
    zmq_ctx_term(context_);
  }

  RawCurveDealer(const RawCurveDealer&) = delete;
  RawCurveDealer& operator=(const RawCurveDealer&) = delete;

  // One message of one or more frames; false if libzmq would not take it in time.
  bool send(const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const int flags = i + 1 < frames.size() ? ZMQ_SNDMORE : 0;
      if (zmq_send(socket_, frames[i].data(), frames[i].size(), flags) < 0) {
        return false;
      }
    }
    return true;
  }

  // Waits for a socket event (ZMQ_EVENT_...) on this client's connection.
  ::testing::AssertionResult wait_for_event(int wanted, std::string_view what, Deadline deadline) {
    std::string seen;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return ::testing::AssertionFailure()
               << "timed out waiting for " << what << "; socket events seen: [" << seen << "]";
      }
      zmq_pollitem_t item{monitor_, 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&item, 1, static_cast<long>(left.count())) <= 0) {
        continue;
      }
      zmq_msg_t frame;
      zmq_msg_init(&frame);
      if (zmq_msg_recv(&frame, monitor_, 0) < 0) {
        zmq_msg_close(&frame);
        continue;
      }
      std::uint16_t event = 0;
      if (zmq_msg_size(&frame) >= sizeof event) {
        std::memcpy(&event, zmq_msg_data(&frame), sizeof event);
      }
      while (zmq_msg_more(&frame) != 0) {  // the endpoint
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
        zmq_msg_recv(&frame, monitor_, 0);
      }
      zmq_msg_close(&frame);
      seen += (seen.empty() ? "" : ", ") + std::to_string(event);
      if (event == wanted) {
        return ::testing::AssertionSuccess();
      }
    }
  }

  // Reads replies until one holds needle (an event id): an ack for an event sent on this
  // connection, so everything sent before it has been read by the aggregator.
  ::testing::AssertionResult wait_for_reply_with(std::string_view needle, Deadline deadline) {
    int replies = 0;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return ::testing::AssertionFailure()
               << "timed out waiting for the aggregator's ack (" << replies << " other replies)";
      }
      zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&item, 1, static_cast<long>(left.count())) <= 0) {
        continue;
      }
      zmq_msg_t frame;
      zmq_msg_init(&frame);
      if (zmq_msg_recv(&frame, socket_, ZMQ_DONTWAIT) >= 0) {
        const std::string_view reply(static_cast<const char*>(zmq_msg_data(&frame)), zmq_msg_size(&frame));
        const bool found = contains(reply, needle);
        zmq_msg_close(&frame);
        if (found) {
          return ::testing::AssertionSuccess();
        }
        ++replies;
        continue;
      }
      zmq_msg_close(&frame);
    }
  }

 private:
  void* context_;
  void* socket_ = nullptr;
  void* monitor_ = nullptr;
};

// ---------------------------------------------------------------- the fixture

class Security : public ::testing::Test {
 protected:
  // fleetban keygen NAME --dir DIR, outside the fleet's own keys.
  static void keygen(const std::string& name, const std::filesystem::path& dir) {
    const auto made = fleetban({"keygen", name, "--dir", dir.string()});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
  }

  std::filesystem::path key_file(const std::string& name, const char* extension) const {
    return fleet.keys_dir() / (name + extension);
  }

  ::testing::AssertionResult aggregator_logged(const std::vector<std::string_view>& parts) {
    std::string what = "the aggregator to log a line with";
    for (const auto part : parts) {
      what += " `" + std::string(part) + "`";
    }
    return poll_until([&] { return has_line_with(fleet.aggregator()->log(), parts); }, deadline_in(kSoon), what,
                      [&] { return fleet.aggregator()->log(); });
  }

  TempDir dir;
  Fleet fleet{dir, SecurityMode::curve};
};

// ---------------------------------------------------------------- the tests

TEST_F(Security, UnknownKeyIsRefusedAndNothingItSentIsApplied) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& stranger = fleet.add_host("stranger");
  // `fleetban keygen` made the stranger's pair, but its .pub stays out of authorized_dir.
  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "stranger.pub"));
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  const auto published =
      fleet.publish(stranger, {"ban", "--ip", "198.51.100.20", "--jail", "sshd", "--bantime", "600"});
  EXPECT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(stranger), 1u) << "the refused event should wait in the spool\n" << describe(published);
  EXPECT_TRUE(aggregator_logged({"connection_refused"}));

  const auto status = fleetban({"status", "--config", stranger.config.string()});
  EXPECT_EQ(status.exit_code, 1) << describe(status);
  EXPECT_TRUE(contains(status.output, "the peer refused this key")) << describe(status);

  ASSERT_TRUE(fleet.probe_subscribers(web01));
  const auto document = list_now(fleet, web01);
  EXPECT_EQ(find_ban(document, "198.51.100.20"), nullptr) << document.dump();
  EXPECT_FALSE(recorded(web01.ban_log, "198.51.100.20")) << read_file(web01.ban_log);
}

TEST_F(Security, ForgedHostIdIsRefused) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  // A host of its own (spool, logs) that holds web-01's key and claims to be web-02.
  const Host& forger = fleet.add_host("forger");
  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "forger.pub"));
  edit_config(forger.config,
              {{"host_id", toml_string("web-02")}, {"client_key", toml_string(key_file("web-01", ".key").string())}});
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  fleet.start_subscriber(web02);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  const auto published = fleet.publish(forger, {"ban", "--ip", "198.51.100.21", "--jail", "sshd", "--bantime", "600"});
  EXPECT_EQ(published.exit_code, 0) << describe(published);
  // Acked (REFUSED), so not spooled for a retry.
  EXPECT_EQ(spooled_events(forger), 0u) << describe(published);
  EXPECT_TRUE(aggregator_logged({"event_refused", "does not match key web-01"}));

  ASSERT_TRUE(fleet.probe_subscribers(web01));
  const auto document = list_now(fleet, web02);
  EXPECT_EQ(find_ban(document, "198.51.100.21"), nullptr) << document.dump();
  EXPECT_FALSE(recorded(web01.ban_log, "198.51.100.21")) << read_file(web01.ban_log);
  EXPECT_FALSE(recorded(web02.ban_log, "198.51.100.21")) << read_file(web02.ban_log);
}

TEST_F(Security, PlaintextClientGetsNothingThrough) {
  const Host& web01 = fleet.add_host("web-01");
  // Its key is even authorized: what fails is insecure = true against a CURVE aggregator.
  const Host& plain = fleet.add_host("plain");
  edit_config(plain.config, {{"insecure", "true"}});
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  const auto published = fleet.publish(plain, {"ban", "--ip", "198.51.100.22", "--jail", "sshd", "--bantime", "600"});
  EXPECT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(plain), 1u) << describe(published);

  const auto status = fleetban({"status", "--config", plain.config.string()});
  EXPECT_EQ(status.exit_code, 1) << describe(status);
  EXPECT_TRUE(contains(status.output, "security mismatch")) << describe(status);
  EXPECT_TRUE(aggregator_logged({"handshake_failed"}));

  ASSERT_TRUE(fleet.probe_subscribers(web01));
  const auto document = list_now(fleet, web01);
  EXPECT_EQ(find_ban(document, "198.51.100.22"), nullptr) << document.dump();
  EXPECT_FALSE(recorded(web01.ban_log, "198.51.100.22")) << read_file(web01.ban_log);
}

TEST_F(Security, SubscriberWithTheWrongServerKeyReceivesNothing) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  // web-02's own key is authorized, but it expects the aggregator to hold another key.
  const auto impostor_keys = dir / "impostor-keys";
  keygen("impostor", impostor_keys);
  edit_config(web02.config, {{"server_key", toml_string((impostor_keys / "impostor.pub").string())}});
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  Process& misled = fleet.start_subscriber(web02);
  // It has tried the aggregator and failed, at least once.
  ASSERT_TRUE(poll_until([&] { return contains(misled.log(), "snapshot_failed"); }, deadline_in(kSoon),
                         "web-02's subscriber to fail a snapshot", [&] { return misled.log(); }));

  const auto published = fleet.publish(web01, {"ban", "--ip", "198.51.100.23", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  ASSERT_TRUE(fleet.enforced(web01, "198.51.100.23"));
  EXPECT_EQ(read_file(web02.ban_log), "") << "a subscriber with the wrong server_key enforced a fleet ban";
}

TEST_F(Security, OversizedFrameIsDroppedAndTheAggregatorServesOn) {
  const Host& web01 = fleet.add_host("web-01");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  {
    RawCurveDealer dealer(fleet.ingest_endpoint(), read_key(key_file("aggregator", ".pub")),
                          read_key(key_file("web-01", ".key")));
    ASSERT_TRUE(dealer.wait_for_event(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, "the CURVE handshake", deadline_in(kSoon)));
    // A valid ban padded to 1 MiB with an unknown field, which protobuf would skip: were the
    // frame read, it would be applied.
    WireEvent event{.event_id = std::string(16, '\x5a'), .address = ipv4_bytes("198.51.100.124"), .host_id = "web-01"};
    std::string frame = encode_request(event);
    put_bytes(frame, 15, std::string(1 << 20, 'x'));
    ASSERT_TRUE(dealer.send({frame}));
    EXPECT_TRUE(
        dealer.wait_for_event(ZMQ_EVENT_DISCONNECTED, "the aggregator to drop the connection", deadline_in(kSoon)));
  }
  ASSERT_TRUE(fleet.aggregator()->running()) << fleet.aggregator()->log();

  const auto published = fleet.publish(web01, {"ban", "--ip", "198.51.100.24", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(web01), 0u) << "the publish was not acked\n" << describe(published);
  EXPECT_TRUE(fleet.enforced(web01, "198.51.100.24"));
  const auto document = list_now(fleet, web01);
  EXPECT_NE(find_ban(document, "198.51.100.24"), nullptr) << document.dump();
  EXPECT_EQ(find_ban(document, "198.51.100.124"), nullptr) << document.dump();
}

// fleetban_rejected_input_total{reason="REASON"} from a /metrics body, or nullopt.
std::optional<std::uint64_t> rejected_count(const std::string& metrics, std::string_view reason) {
  const std::string name = "fleetban_rejected_input_total{reason=\"" + std::string(reason) + "\"}";
  std::istringstream lines(metrics);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) == 0) {
      try {
        return std::stoull(line.substr(name.size()));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

TEST_F(Security, MalformedFramesLeaveTheAggregatorServingCorrectState) {
  const auto http_port = free_tcp_port();
  edit_config(fleet.aggregator_config(), {{"http", toml_string("127.0.0.1:" + std::to_string(http_port))}});
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web02);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  RawCurveDealer dealer(fleet.ingest_endpoint(), read_key(key_file("aggregator", ".pub")),
                        read_key(key_file("web-01", ".key")));
  ASSERT_TRUE(dealer.wait_for_event(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, "the CURVE handshake", deadline_in(kSoon)));

  // Fixed seed: a failure replays exactly.
  std::mt19937 random(20240613);
  auto fresh_id = [&] { return random_bytes(random, 16); };
  // A valid ban from web-01 of ip, to spoil.
  auto valid = [&](const char* ip) {
    return WireEvent{.event_id = fresh_id(), .address = ipv4_bytes(ip), .host_id = "web-01"};
  };
  std::uniform_int_distribution<std::size_t> random_size(0, 300);
  std::uniform_int_distribution<int> extra_frames(1, 3);
  std::uint64_t surely_malformed = 0;  // frames that cannot decode into a valid request
  std::uint64_t multi_frame = 0;
  constexpr int kFrames = 10'000;
  for (int i = 0; i < kFrames; ++i) {
    std::vector<std::string> message;
    WireEvent event = valid("198.51.100.66");
    switch (i % 12) {
      case 0:
      case 1:
      case 2:  // random bytes
        message.push_back(random_bytes(random, random_size(random)));
        break;
      case 3: {  // a valid frame cut short: the outer field's length runs past the end
        const std::string whole = encode_request(event);
        std::uniform_int_distribution<std::size_t> cut(0, whole.size() - 1);
        message.push_back(whole.substr(0, cut(random)));
        ++surely_malformed;
        break;
      }
      case 4:  // a 3-byte address
        event.address = ipv4_bytes("198.51.100.67").substr(0, 3);
        message.push_back(encode_request(event));
        ++surely_malformed;
        break;
      case 5:  // prefix length 200
        event.address = ipv4_bytes("198.51.100.67");
        event.length = 200;
        message.push_back(encode_request(event));
        ++surely_malformed;
        break;
      case 6:  // a jail with spaces
        event.address = ipv4_bytes("198.51.100.68");
        event.jail = "ss hd";
        message.push_back(encode_request(event));
        ++surely_malformed;
        break;
      case 7:  // bantime -5
        event.address = ipv4_bytes("198.51.100.69");
        event.bantime = -5;
        message.push_back(encode_request(event));
        ++surely_malformed;
        break;
      case 8:  // a host_id with spaces, an unknown kind, a 15-byte event id, a time in 1970
        event.address = ipv4_bytes("198.51.100.70");
        switch ((i / 12) % 4) {
          case 0: event.host_id = "web 01"; break;
          case 1: event.kind = 7; break;
          case 2: event.event_id.resize(15); break;
          default: event.time_ms = 1000; break;
        }
        message.push_back(encode_request(event));
        ++surely_malformed;
        break;
      case 9:  // a valid event first, more frames after it
      case 10: {
        message.push_back(encode_request(event));
        for (int extra = extra_frames(random); extra > 0; --extra) {
          message.push_back(random_bytes(random, random_size(random)));
        }
        ++multi_frame;
        break;
      }
      default: {  // junk first, a valid event last
        message.push_back(random_bytes(random, random_size(random)));
        message.push_back(encode_request(event));
        ++multi_frame;
        break;
      }
    }
    ASSERT_TRUE(dealer.send(message)) << "frame " << i << ": " << zmq_strerror(zmq_errno());
  }
  // A valid event last, on the same connection: its ack means the aggregator has read all of the above.
  WireEvent control = valid("198.51.100.99");
  ASSERT_TRUE(dealer.send({encode_request(control)}));
  ASSERT_TRUE(dealer.wait_for_reply_with(control.event_id, deadline_in(std::chrono::seconds(60))));
  ASSERT_TRUE(fleet.aggregator()->running()) << fleet.aggregator()->log();

  httplib::Client http("127.0.0.1", http_port);
  http.set_connection_timeout(std::chrono::seconds(5));
  http.set_read_timeout(std::chrono::seconds(10));
  std::string metrics;
  ASSERT_TRUE(poll_until(
      [&] {
        auto result = http.Get("/metrics");
        metrics = result ? result->body : "GET /metrics: " + httplib::to_string(result.error());
        return result && result->status == 200 && rejected_count(metrics, "malformed").value_or(0) > 0;
      },
      deadline_in(kSoon), "/metrics to count malformed input", [&] { return metrics; }));
  EXPECT_GE(rejected_count(metrics, "malformed").value_or(0), surely_malformed) << metrics;
  // No other client sends more than one frame.
  EXPECT_EQ(rejected_count(metrics, "frames").value_or(0), multi_frame) << metrics;

  // The next honest publish: acked, listed, enforced.
  const auto published = fleet.publish(web01, {"ban", "--ip", "198.51.100.25", "--jail", "sshd", "--bantime", "600"});
  ASSERT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(web01), 0u) << "the publish was not acked\n" << describe(published);
  EXPECT_TRUE(fleet.enforced(web02, "198.51.100.25"));
  const auto document = list_now(fleet, web02);
  // Exactly the probe, the control event and the honest ban: nothing of the hostile frames.
  EXPECT_EQ(listed_addresses(document), (std::vector<std::string>{"192.0.2.200", "198.51.100.25", "198.51.100.99"}))
      << document.dump();
  if (const auto* ban = find_ban(document, "198.51.100.25")) {
    EXPECT_EQ(strings_of(ban->value("reporters", nlohmann::json())), std::vector<std::string>{"web-01"}) << ban->dump();
  }
  EXPECT_TRUE(fleet.aggregator()->running()) << fleet.aggregator()->log();
}

TEST_F(Security, WorldReadableSecretKeyIsRefusedByEveryProgram) {
  const Host& web01 = fleet.add_host("web-01");
  const auto host_key = key_file("web-01", ".key");
  std::filesystem::permissions(host_key, static_cast<std::filesystem::perms>(0644));

  const std::vector<std::vector<std::string>> clients{
      {program("fleetban-publish"), "ban", "--ip", "198.51.100.30", "--jail", "sshd", "--config",
       web01.config.string()},
      {program("fleetban-subscriber"), "--config", web01.config.string()},
      {program("fleetban"), "list", "--config", web01.config.string()},
  };
  for (const auto& argv : clients) {
    const auto result = run(argv);
    EXPECT_EQ(result.exit_code, 2) << describe(result);
    EXPECT_TRUE(contains(result.output, "chmod 600")) << describe(result);
    EXPECT_TRUE(contains(result.output, host_key.string())) << describe(result);
  }
  EXPECT_EQ(spooled_events(web01), 0u) << "fleetban-publish spooled an event with a refused key";

  const auto server_key = key_file("aggregator", ".key");
  std::filesystem::permissions(server_key, static_cast<std::filesystem::perms>(0644));
  const auto aggregator = run({program("fleetban-aggregator"), "--config", fleet.aggregator_config().string()});
  EXPECT_EQ(aggregator.exit_code, 2) << describe(aggregator);
  EXPECT_TRUE(contains(aggregator.output, "chmod 600")) << describe(aggregator);
  EXPECT_TRUE(contains(aggregator.output, server_key.string())) << describe(aggregator);
}

TEST_F(Security, OnlyAnOperatorKeyBansAndUnbans) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& alice = fleet.add_host("alice");
  // alice's key is an operator's: authorized_dir/operators/alice.pub.
  std::filesystem::create_directories(fleet.authorized_dir() / "operators");
  std::filesystem::rename(fleet.authorized_dir() / "alice.pub", fleet.authorized_dir() / "operators" / "alice.pub");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  const auto by_host = fleetban({"ban", "198.51.100.7", "--config", web01.config.string()});
  EXPECT_EQ(by_host.exit_code, 1) << describe(by_host);
  EXPECT_TRUE(contains(by_host.output, "refused")) << describe(by_host);
  EXPECT_TRUE(contains(by_host.output, "not an operator key")) << describe(by_host);
  ASSERT_TRUE(fleet.probe_subscribers(web01));
  {
    const auto document = list_now(fleet, web01);
    EXPECT_EQ(find_ban(document, "198.51.100.7"), nullptr) << document.dump();
    EXPECT_FALSE(recorded(web01.ban_log, "198.51.100.7")) << read_file(web01.ban_log);
  }

  const auto by_operator = fleetban({"ban", "198.51.100.7", "--config", alice.config.string()});
  ASSERT_EQ(by_operator.exit_code, 0) << describe(by_operator);
  EXPECT_TRUE(fleet.enforced(web01, "198.51.100.7"));
  nlohmann::json document;
  ASSERT_TRUE(fleet.list_until(
      web01, "`fleetban list --json` to show 198.51.100.7",
      [](const nlohmann::json& doc) { return find_ban(doc, "198.51.100.7") != nullptr; }, &document));
  EXPECT_EQ(strings_of(find_ban(document, "198.51.100.7")->value("reporters", nlohmann::json())),
            std::vector<std::string>{"alice"})
      << document.dump();

  // A host key cannot lift it either.
  const auto unban_by_host = fleetban({"unban", "198.51.100.7", "--config", web01.config.string()});
  EXPECT_EQ(unban_by_host.exit_code, 1) << describe(unban_by_host);
  EXPECT_TRUE(contains(unban_by_host.output, "not an operator key")) << describe(unban_by_host);
  ASSERT_TRUE(fleet.probe_subscribers(web01));
  EXPECT_NE(find_ban(list_now(fleet, web01), "198.51.100.7"), nullptr);
  EXPECT_FALSE(recorded(web01.unban_log, "198.51.100.7")) << read_file(web01.unban_log);

  const auto unban_by_operator = fleetban({"unban", "198.51.100.7", "--config", alice.config.string()});
  ASSERT_EQ(unban_by_operator.exit_code, 0) << describe(unban_by_operator);
  EXPECT_TRUE(fleet.lifted(web01, "198.51.100.7"));
  EXPECT_TRUE(fleet.unlisted(web01, "198.51.100.7"));
}

TEST_F(Security, RevokedKeyCannotOpenNewConnectionsAfterSighup) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  const auto before = fleetban({"status", "--config", web02.config.string()});
  ASSERT_EQ(before.exit_code, 0) << describe(before);

  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "web-02.pub"));
  fleet.aggregator()->kill(SIGHUP);
  ASSERT_TRUE(aggregator_logged({"zap_keys_reloaded"}));

  const auto after = fleetban({"status", "--config", web02.config.string()});
  EXPECT_EQ(after.exit_code, 1) << describe(after);
  EXPECT_TRUE(contains(after.output, "the peer refused this key")) << describe(after);

  const auto published = fleet.publish(web02, {"ban", "--ip", "198.51.100.26", "--jail", "sshd", "--bantime", "600"});
  EXPECT_EQ(published.exit_code, 0) << describe(published);
  EXPECT_EQ(spooled_events(web02), 1u) << describe(published);
  const auto document = list_now(fleet, web01);
  EXPECT_EQ(find_ban(document, "198.51.100.26"), nullptr) << document.dump();

  // The keys still in authorized_dir still get in.
  const auto others = fleetban({"status", "--config", web01.config.string()});
  EXPECT_EQ(others.exit_code, 0) << describe(others);
  EXPECT_TRUE(fleet.aggregator()->running());
}

// libzmq asks the ZAP handler only at the handshake, so a connection made before the revocation
// stays open; what it sends is refused all the same.
TEST_F(Security, RevokedKeysOpenConnectionCanNoLongerBan) {
  const Host& web01 = fleet.add_host("web-01");
  fleet.add_host("web-02");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  RawCurveDealer dealer(fleet.ingest_endpoint(), read_key(key_file("aggregator", ".pub")),
                        read_key(key_file("web-02", ".key")));
  ASSERT_TRUE(dealer.wait_for_event(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, "the CURVE handshake", deadline_in(kSoon)));
  std::mt19937 random(7);
  const WireEvent before{
      .event_id = random_bytes(random, 16), .address = ipv4_bytes("198.51.100.27"), .host_id = "web-02"};
  ASSERT_TRUE(dealer.send({encode_request(before)}));
  ASSERT_TRUE(dealer.wait_for_reply_with(before.event_id, deadline_in(kSoon)));
  ASSERT_NE(find_ban(list_now(fleet, web01), "198.51.100.27"), nullptr) << "the ban before the revocation";

  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "web-02.pub"));
  fleet.aggregator()->kill(SIGHUP);
  ASSERT_TRUE(aggregator_logged({"zap_keys_reloaded"}));

  const WireEvent after{
      .event_id = random_bytes(random, 16), .address = ipv4_bytes("198.51.100.28"), .host_id = "web-02"};
  ASSERT_TRUE(dealer.send({encode_request(after)}));
  EXPECT_TRUE(dealer.wait_for_reply_with("web-02 is no longer authorized", deadline_in(kSoon)));
  EXPECT_TRUE(aggregator_logged({"event_refused", "host=web-02", "no longer authorized"}));
  const auto document = list_now(fleet, web01);
  EXPECT_EQ(find_ban(document, "198.51.100.28"), nullptr) << document.dump();
  EXPECT_NE(find_ban(document, "198.51.100.27"), nullptr) << "what was decided before stays\n" << document.dump();

  // Nor does it get answers: a status request on the same connection is dropped and logged.
  ASSERT_TRUE(dealer.send({encode_status_request("revoked-status-1")}));
  EXPECT_TRUE(aggregator_logged({"query_refused", "no longer authorized"}));
  EXPECT_FALSE(dealer.wait_for_reply_with("revoked-status-1", deadline_in(std::chrono::seconds(2))))
      << "a status answer reached a connection whose key was removed";
}

// The subscriber of a revoked host is cut off: the aggregator makes every subscriber connect
// again, the revoked key is refused, and the other hosts carry on.
TEST_F(Security, RevokedHostsSubscriberIsCutOffAndTheOthersCarryOn) {
  const Host& web01 = fleet.add_host("web-01");
  const Host& web02 = fleet.add_host("web-02");
  ASSERT_TRUE(fleet.start_aggregator(web01));
  fleet.start_subscriber(web01);
  Process& revoked = fleet.start_subscriber(web02);
  ASSERT_TRUE(fleet.probe_subscribers(web01));

  ASSERT_TRUE(std::filesystem::remove(fleet.authorized_dir() / "web-02.pub"));
  fleet.aggregator()->kill(SIGHUP);
  ASSERT_TRUE(aggregator_logged({"broadcast_rebound"}));

  for (const char* ip : {"198.51.100.30", "198.51.100.31"}) {
    const auto published = fleet.publish(web01, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "600"});
    ASSERT_EQ(published.exit_code, 0) << describe(published);
    EXPECT_TRUE(fleet.enforced(web01, ip)) << "the host still authorized carries on";
  }
  // What web-01 has by now, web-02 would have had too; a few seconds more, to be sure.
  EXPECT_FALSE(poll_until([&] { return recorded(web02.ban_log, "198.51.100.30"); },
                          deadline_in(std::chrono::seconds(3)),
                          "web-02 to enforce a ban made after its key was revoked"))
      << read_file(web02.ban_log);
  EXPECT_FALSE(recorded(web02.ban_log, "198.51.100.31")) << read_file(web02.ban_log);
  EXPECT_TRUE(poll_until(
      [&] {
        return has_line_with(revoked.log(), {"snapshot_failed", "refused this key"});
      },
      deadline_in(kSoon), "web-02's subscriber to be refused", [&] { return revoked.log(); }));
}

}  // namespace
}  // namespace fleetban::testing
