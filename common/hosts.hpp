#pragma once
// Hosts reporting in: what a subscriber tells the aggregator about itself (HostReport), and what
// the aggregator tells `fleetban hosts` and GET /api/v1/hosts about every admitted key (HostEntry).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.hpp"

namespace fleetban::common {

// How often a subscriber reports in (and once right after every snapshot). INTERFACE.md promises
// at least every 10 s.
inline constexpr std::chrono::seconds kReportInterval{5};
// What the decoder takes: a backend's error text is clamped to this many bytes, a version refused
// beyond kMaxVersionBytes; sequences and spool sizes beyond kMaxReportedNumber (2^53, what a JSON
// reader or a Prometheus float holds exactly) are refused.
inline constexpr std::size_t kMaxBackendErrorBytes = 256;
inline constexpr std::size_t kMaxVersionBytes = 64;
inline constexpr std::uint64_t kMaxReportedNumber = std::uint64_t{1} << 53;

struct HostReport {
  std::string host_id;
  std::uint64_t sequence = 0;  // the last sequence the subscriber applied
  std::string incarnation;     // of the aggregator that sequence belongs to
  std::string backend_error;   // empty while the backend works
  std::uint64_t spool_bytes = 0;
  std::uint64_t spool_max_bytes = 0;  // 0: no limit
  std::string version;
};

struct HostsRequest {
  std::string request_id;  // at most 32 bytes
};

// The kinds of admitted key: authorized_dir/NAME.pub, operators/NAME.pub, relays/NAME.pub.
enum class HostKind { host, operator_, relay };
const char* to_string(HostKind kind);
std::optional<HostKind> host_kind_from_string(std::string_view text);

// One admitted key as the aggregator sees it; nullopt where never known.
struct HostEntry {
  std::string name;
  HostKind kind = HostKind::host;
  std::optional<UnixSeconds> last_event_at;
  std::uint64_t events_24h = 0;
  std::optional<UnixSeconds> subscriber_seen_at;
  std::optional<std::uint64_t> subscriber_sequence;
  std::optional<std::uint64_t> lag;
  std::optional<std::string> backend_error;  // "" while the backend works
  std::optional<std::uint64_t> spool_bytes;
  std::optional<std::uint64_t> spool_max_bytes;
  std::optional<std::string> version;
  bool stale = false;   // its subscriber is not reporting in (docs/REFERENCE.md, "fleetban hosts")
  bool behind = false;  // its subscriber has not caught up with the fleet for a while
};

// The answer to a HostsRequest, and what GET /api/v1/hosts serves.
struct Hosts {
  std::string request_id;
  UnixSeconds now{};
  std::uint64_t sequence = 0;
  std::vector<HostEntry> hosts;  // by kind, then name
};

}  // namespace fleetban::common
