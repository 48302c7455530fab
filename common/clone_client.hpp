#pragma once
// The client half of the ZeroMQ Guide's Clone pattern, as the subscriber (and a relay) follows the
// aggregator: subscribe to the broadcast first, then take a snapshot, drop updates at or below the
// snapshot's sequence and hand on the rest in order. A gap in the sequence, a heartbeat ahead, a
// new aggregator incarnation, or a resync() make it take a new snapshot; three missed heartbeats
// or a failed snapshot make it move on: to the next (ingest, broadcast) pair of its list (an HA
// group's members, or relays; round robin), or to fresh sockets on its only pair, and take a
// snapshot there. One exception: a client that was in sync when the pair it followed went silent
// waits for the next pair's first heartbeat, holding the decisions that come before it; the same
// incarnation (an HA group's new active member, a relay of the same aggregator) then lets it carry
// on without a snapshot (the held decisions are applied; a heartbeat ahead still means one), and
// another incarnation takes one. A failed snapshot also backs off (200 ms doubling to 10 s, with
// jitter).
// While it follows, it reports in on its ingest connection (HostReport: the sequence it applied)
// every kReportInterval and right after each snapshot, with what its owner says of its host.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "common/aggregator_client.hpp"
#include "common/socket_factory.hpp"

namespace fleetban::common {

class CloneClient {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kHeartbeatInterval = std::chrono::seconds(1);  // the aggregator's
  static constexpr int kMissedHeartbeats = 3;
  static constexpr auto kSnapshotTimeout = std::chrono::seconds(5);
  static constexpr std::size_t kMaxDecisions = 100'000;  // handed on by one poll(), at most

  // What one poll() brought: a snapshot (everything the fleet enforces now, replacing what came
  // before), then decisions to apply after it, in sequence order.
  struct Update {
    std::optional<Snapshot> snapshot;
    std::vector<Decision> decisions;
    std::vector<std::int64_t> received_us;  // when each decision arrived (tracing only)
    // The last heartbeat that found this client in step (its sequence no further than what was
    // handed on): a relay passes it on to its own subscribers, so silence upstream is silence there.
    std::optional<Heartbeat> heartbeat;
  };

  // `stop` cuts a back-off short. Connects to the first pair at once (no socket waits for the
  // aggregator). The two lists are host.toml's `aggregator` and `broadcast`: as many, in one order.
  CloneClient(const ClientSockets& sockets, std::vector<std::string> ingest_endpoints,
              std::vector<std::string> broadcast_endpoints, const std::atomic<bool>& stop);

  // One turn: a snapshot if one is due, then what the broadcast holds, waiting up to `wait` for it.
  Update poll(std::chrono::milliseconds wait);

  // Take a new snapshot at the next poll (say, the backend lost what it enforced).
  void resync() { need_snapshot_ = true; }
  bool synced() const { return !need_snapshot_; }
  std::uint64_t sequence() const { return sequence_; }
  // The aggregator incarnation that sequence belongs to ("" before the first snapshot).
  const std::string& incarnation() const { return incarnation_; }
  // Whether a report is due: following, and kReportInterval since the last one or a snapshot since.
  bool report_due(Clock::time_point now = Clock::now()) const;
  // Sends `report` with this client's sequence and incarnation filled in; no reply comes. Dropped
  // (the next one is due soon) when the connection cannot take it now.
  void report_in(HostReport report, Clock::time_point now = Clock::now());
  // The DEALER on the ingest endpoint, for other requests on the same connection (the spool drain).
  zmq::socket_t& ingest() { return ingest_; }
  // The ingest endpoint followed now.
  const std::string& ingest_endpoint() const { return ingest_endpoints_[current_]; }

 private:
  void connect();
  void move_on();
  std::optional<Snapshot> take_snapshot();
  void back_off();
  void follow(std::chrono::milliseconds wait, Update& update);
  bool receive_first(std::chrono::milliseconds wait, zmq::message_t& message);
  void confirm(const Heartbeat& heartbeat, Update& update);
  void on_heartbeat(const Heartbeat& heartbeat);
  bool on_decision(const Decision& decision);

  const ClientSockets& sockets_;
  std::vector<std::string> ingest_endpoints_;
  std::vector<std::string> broadcast_endpoints_;
  std::size_t current_ = 0;  // the pair followed now
  const std::atomic<bool>& stop_;
  zmq::socket_t broadcast_;
  zmq::socket_t ingest_;
  std::string receipt_;  // of the last snapshot read on ingest_
  bool need_snapshot_ = true;
  // Moved on while in sync: until the new pair's first heartbeat, decisions are held (with when
  // they arrived), not applied; that heartbeat's incarnation says whether they follow ours.
  bool confirming_ = false;
  std::vector<std::pair<Decision, std::int64_t>> held_;
  bool heard_since_connect_ = false;
  std::uint64_t sequence_ = 0;
  std::string incarnation_;
  Clock::time_point last_heard_ = Clock::now();
  std::optional<Clock::time_point> next_report_;  // nullopt: at once (a snapshot was just taken)
  std::chrono::milliseconds backoff_;
};

}  // namespace fleetban::common
