// What the security tests share: raw libzmq CURVE clients speaking hand-encoded protobuf (the wire
// format of proto/fleetban.proto is a few varints and length-delimited fields, so the suite stays
// black-box), config edits, and checks on logs, spools and `fleetban list`.
#pragma once

#include "fleet.hpp"

#include <gtest/gtest.h>
#include <zmq.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetban::testing {

inline bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// True when one line of text holds every one of parts.
inline bool has_line_with(const std::string& text, const std::vector<std::string_view>& parts) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (std::all_of(parts.begin(), parts.end(), [&](std::string_view part) { return contains(line, part); })) {
      return true;
    }
  }
  return false;
}

inline std::string trimmed(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// Sets top-level keys of a TOML file (value as TOML, e.g. toml_string(...) or "true"): replaces
// the key's line, or adds one before the first table.
inline void edit_config(const std::filesystem::path& file,
                        const std::vector<std::pair<std::string, std::string>>& settings) {
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
inline std::size_t spooled_events(const Host& host) {
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
inline std::vector<std::string> listed_addresses(const nlohmann::json& document) {
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
inline nlohmann::json list_now(const Fleet& fleet, const Host& via) {
  const auto result = fleet.list(via);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  auto document = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(document.is_discarded()) << describe(result);
  return document;
}

inline RunResult fleetban(const std::vector<std::string>& args) {
  std::vector<std::string> argv{program("fleetban")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

// Polls until the aggregator's log has a line holding every one of parts.
inline ::testing::AssertionResult aggregator_logged(Fleet& fleet, const std::vector<std::string_view>& parts) {
  std::string what = "the aggregator to log a line with";
  for (const auto part : parts) {
    what += " `" + std::string(part) + "`";
  }
  return poll_until([&] { return has_line_with(fleet.aggregator()->log(), parts); }, deadline_in(kSoon), what,
                    [&] { return fleet.aggregator()->log(); });
}

// A Z85 key file's one line.
inline std::string read_key(const std::filesystem::path& file) {
  std::string key = trimmed(read_file(file));
  if (key.size() != 40) {
    throw std::runtime_error(file.string() + " does not hold one Z85 key");
  }
  return key;
}

// ---------------------------------------------------------------- protobuf, by hand

inline void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

inline void put_tag(std::string& out, std::uint32_t field, std::uint32_t wire_type) {
  put_varint(out, (field << 3) | wire_type);
}

inline void put_bytes(std::string& out, std::uint32_t field, std::string_view bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

inline void put_int(std::string& out, std::uint32_t field, std::int64_t value) {
  put_tag(out, field, 0);
  put_varint(out, static_cast<std::uint64_t>(value));  // int64: negatives take ten bytes
}

inline std::string ipv4_bytes(const char* address) {
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
inline std::string encode_request(const WireEvent& event) {
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

// fleetban.v1.Request{snapshot (field 2) or status (field 3): {request_id}}.
inline std::string encode_query(std::uint32_t field, std::string_view request_id) {
  std::string body;
  put_bytes(body, 1, request_id);
  std::string request;
  put_bytes(request, field, body);
  return request;
}
inline std::string encode_snapshot_request(std::string_view request_id) { return encode_query(2, request_id); }
inline std::string encode_status_request(std::string_view request_id) { return encode_query(3, request_id); }

inline std::string random_bytes(std::mt19937& random, std::size_t size) {
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
  // receive_queue: replies libzmq takes in for this client before it stops reading from the
  // network (ZMQ_RCVHWM); a small one makes a client that never reads press on the aggregator.
  RawCurveDealer(const std::string& endpoint, const std::string& server_public, const std::string& client_secret,
                 int receive_queue = 1000)
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
    zmq_setsockopt(socket_, ZMQ_RCVHWM, &receive_queue, sizeof receive_queue);
    if (receive_queue < 1000) {
      const int kernel_buffer = 4096;
      zmq_setsockopt(socket_, ZMQ_RCVBUF, &kernel_buffer, sizeof kernel_buffer);
    }
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

// A raw client of the fleet's ingest socket with the key DIR/keys/NAME.key; the test fails at
// once when its CURVE handshake does not succeed.
inline std::unique_ptr<RawCurveDealer> connect_raw(const Fleet& fleet, const std::string& name,
                                                   int receive_queue = 1000) {
  auto dealer = std::make_unique<RawCurveDealer>(fleet.ingest_endpoint(), read_key(fleet.keys_dir() / "aggregator.pub"),
                                                 read_key(fleet.keys_dir() / (name + ".key")), receive_queue);
  EXPECT_TRUE(dealer->wait_for_event(ZMQ_EVENT_HANDSHAKE_SUCCEEDED, "the CURVE handshake", deadline_in(kSoon)));
  return dealer;
}

// A ban of an IPv4 address reported as host_id, with a fresh event id.
inline WireEvent wire_ban(std::mt19937& random, const char* ip, const std::string& host_id) {
  return WireEvent{.event_id = random_bytes(random, 16), .address = ipv4_bytes(ip), .host_id = host_id};
}

}  // namespace fleetban::testing
