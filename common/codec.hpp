#pragma once
// The wire codec: domain values <-> one protobuf frame (proto/fleetban.proto). Decoding validates
// every field, so nothing malformed gets past this file; a failure says what was wrong.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/decision.hpp"
#include "common/event.hpp"
#include "common/expected.hpp"
#include "common/history.hpp"
#include "common/hosts.hpp"

namespace fleetban::v1 {
class Decision;
}

namespace fleetban::common {

struct SnapshotRequest {
  std::string request_id;  // at most 32 bytes
  std::string receipt;     // of the last snapshot read on this connection; at most 32 bytes
  bool with_geo = false;   // each decision with its Decision::geo, if the aggregator has GeoIP
};

struct StatusRequest {
  std::string request_id;  // at most 32 bytes
};

// `fleetban show IP`: one address's history; answered by a HistoryReply.
struct HistoryRequest {
  std::string request_id;  // at most 32 bytes
  IpPrefix prefix;
};

struct HistoryReply {
  std::string request_id;
  AddressHistory history;  // at most kMaxHistoryRows entries
};

enum class AckOutcome { applied, duplicate, refused, throttled };

struct Ack {
  EventId event_id{};
  AckOutcome outcome = AckOutcome::applied;
  std::string reason;
};

struct SnapshotChunk {
  std::string request_id;
  std::uint64_t sequence = 0;
  std::string incarnation;
  std::vector<Decision> decisions;
  bool last = false;
  std::string receipt;  // on the last chunk; at most 32 bytes
};

struct Status {
  std::string request_id;
  std::uint64_t sequence = 0;
  std::string incarnation;
  std::uint64_t active_bans = 0;
  std::uint64_t reporters = 0;
  std::uint64_t subscribers = 0;
  UnixSeconds started_at{};
  std::string member;  // HA group: the active member's name, at most kMaxMemberBytes; "" with SQLite state
  std::uint64_t epoch = 0;
  UnixSeconds active_since{};
};
inline constexpr std::size_t kMaxMemberBytes = 320;  // a host name (255) and ":PID"

struct Heartbeat {
  std::uint64_t sequence = 0;
  std::string incarnation;
  UnixSeconds time{};
};

using Request = std::variant<Event, SnapshotRequest, StatusRequest, HostReport, HostsRequest, HistoryRequest>;
using Reply = std::variant<Ack, SnapshotChunk, Status, Hosts, HistoryReply>;
using Broadcast = std::variant<Decision, Heartbeat>;

std::string encode(const Request& request);
std::string encode(const Reply& reply);
std::string encode(const Broadcast& broadcast);

Expected<Request> decode_request(std::string_view frame);
Expected<Reply> decode_reply(std::string_view frame);
Expected<Broadcast> decode_broadcast(std::string_view frame);

// An event and a decision alone: the spool stores events, the aggregator's database stores decisions.
// An event that decodes (names of 64 bytes at most, a reason of 256) encodes to at most
// kMaxEncodedEventBytes: the spool sizes itself by counting files.
inline constexpr std::size_t kMaxEncodedEventBytes = 1024;
std::string encode_event(const Event& event);
Expected<Event> decode_event(std::string_view bytes);

// The rules the decoder holds an event to, for those who make one: fleetban-publish checks its
// event before sending, so what the aggregator would refuse is an error at the command line.
// Times before 2000 or after 2200 are a clock not yet set (a host at 1970 before NTP) or a forgery.
inline constexpr std::int64_t kMinEventTimeMs = 946'684'800'000LL;    // 2000-01-01
inline constexpr std::int64_t kMaxEventTimeMs = 7'258'118'400'000LL;  // 2200-01-01
inline constexpr std::size_t kMaxReasonBytes = 256;
// What is wrong with the time (`what` names it in the message), or nothing.
std::optional<std::string> check_event_time(std::string_view what, TimePoint t);
// What the decoder would refuse in this event, or nothing.
std::optional<std::string> check_event(const Event& event);

// The id of the event a request carries, read even when another of its fields is invalid, so
// that the aggregator can answer an event it refuses (and the client stops resending it).
std::optional<EventId> event_id_of_request(std::string_view frame);

// At least the bytes `decision` takes in an encoded snapshot chunk: what bounds a chunk in bytes.
std::size_t encoded_size_bound(const Decision& decision);

// For the aggregator's own storage records, which embed a decision.
void decision_to_proto(const Decision& decision, v1::Decision& out);
Expected<Decision> decision_from_proto(const v1::Decision& in);

}  // namespace fleetban::common
