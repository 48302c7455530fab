#include "subscriber/subscriber.hpp"

#include <spdlog/spdlog.h>

#include <random>
#include <thread>
#include <zmq.hpp>

#include "common/aggregator_client.hpp"
#include "common/logging.hpp"
#include "common/own_addresses.hpp"
#include "common/poll.hpp"
#include "common/socket_factory.hpp"
#include "common/spool.hpp"
#include "common/systemd_notify.hpp"
#include "subscriber/enforcer.hpp"

namespace fleetban::subscriber {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kHeartbeatInterval = std::chrono::seconds(1);  // the aggregator's
constexpr int kMissedHeartbeats = 3;
constexpr auto kSnapshotTimeout = std::chrono::seconds(5);
constexpr auto kFirstMessageWait = milliseconds(1500);  // lets the subscription settle before a snapshot
constexpr auto kPollInterval = milliseconds(200);
constexpr auto kSpoolDrainInterval = std::chrono::seconds(1);
constexpr auto kIntactCheckInterval = std::chrono::seconds(10);
constexpr std::size_t kSpoolDrainBatch = 200;
constexpr std::size_t kMaxBatch = 100'000;  // decisions handed to the backend in one call
constexpr milliseconds kBackoffMin{200};
constexpr milliseconds kBackoffMax{10'000};

// Where this host reaches the aggregator: never enforced, or the ban would cut the link.
std::vector<common::IpPrefix> aggregator_addresses(const common::HostConfig& config) {
  std::vector<common::IpPrefix> addresses;
  for (const auto* endpoint : {&config.aggregator, &config.broadcast}) {
    auto found = common::endpoint_addresses(*endpoint);
    if (found.empty()) spdlog::warn("aggregator_address_unknown endpoint={}; its address is not protected", *endpoint);
    addresses.insert(addresses.end(), found.begin(), found.end());
  }
  return addresses;
}

class Follower {
 public:
  Follower(const common::HostConfig& config, const std::atomic<bool>& stop)
      : config_(config),
        stop_(stop),
        sockets_(context_, config.security),
        enforcer_(make_backend(config.enforce), config.enforce.allowlist, aggregator_addresses(config)),
        spool_(config.spool_dir, config.spool_max_bytes) {}

  void run() {
    connect();
    // Ready once following: a host boots even while the aggregator is away.
    common::notify_ready();
    // A turn's log lines (the backend's, and the trace lines) are written together at its end:
    // one write per turn, not one per line, for every decision on every host.
    common::batch_log_lines();
    while (!stop_.load()) {
      if (need_snapshot_ && !take_snapshot()) {
        back_off();
        continue;
      }
      follow();
      auto now = Clock::now();
      if (now - last_heard_ > kMissedHeartbeats * kHeartbeatInterval) {
        spdlog::warn("missed_heartbeats seconds={}; reconnecting",
                     std::chrono::duration_cast<std::chrono::seconds>(now - last_heard_).count());
        connect();
      }
      enforcer_.tick(common::now_seconds());
      if (now >= next_drain_) drain_spool();
      if (now >= next_intact_check_) check_backend(now);
      common::flush_log();
    }
  }

 private:
  // Fresh sockets: after missed heartbeats the aggregator may have moved or restarted.
  void connect() {
    broadcast_ = sockets_.broadcast(config_.broadcast);
    ingest_ = sockets_.ingest(config_.aggregator);
    heard_since_connect_ = false;
    need_snapshot_ = true;
    last_heard_ = Clock::now();
  }

  // A firewall reload can delete what the backend enforced; a snapshot puts it all back.
  void check_backend(Clock::time_point now) {
    next_intact_check_ = now + kIntactCheckInterval;
    if (need_snapshot_ || enforcer_.backend_intact()) return;
    spdlog::warn("backend_state_lost; taking a new snapshot to enforce the fleet's bans again");
    need_snapshot_ = true;
  }

  bool take_snapshot() {
    if (!heard_since_connect_) {
      // Until the first broadcast message arrives the subscription may not be live yet, and a
      // decision made between snapshot and subscription would only be caught by the next heartbeat.
      zmq::pollitem_t item{broadcast_.handle(), 0, ZMQ_POLLIN, 0};
      common::poll_for(&item, 1, kFirstMessageWait);
    }
    auto snapshot = common::fetch_snapshot(ingest_, kSnapshotTimeout);
    if (!snapshot) {
      spdlog::warn("snapshot_failed reason=\"{}\" aggregator={}",
                   sockets_.handshake_failure().value_or(snapshot.error()), config_.aggregator);
      // The DEALER may hold a stale request; start over with new sockets.
      connect();
      return false;
    }
    if (!incarnation_.empty() && snapshot->incarnation != incarnation_) {
      spdlog::warn("aggregator_incarnation_changed sequence={}", snapshot->sequence);
    }
    incarnation_ = snapshot->incarnation;
    sequence_ = snapshot->sequence;
    need_snapshot_ = false;
    backoff_ = kBackoffMin;
    last_heard_ = Clock::now();
    spdlog::info("snapshot sequence={} decisions={}", sequence_, snapshot->decisions.size());
    enforcer_.reconcile(snapshot->decisions, common::now_seconds());
    next_drain_ = Clock::now();
    return true;
  }

  void back_off() {
    // Exponential with jitter, so a fleet does not stampede a restarted aggregator.
    static thread_local std::mt19937 random{std::random_device{}()};
    std::uniform_int_distribution<std::int64_t> jitter(backoff_.count() / 2, backoff_.count());
    auto until = Clock::now() + milliseconds(jitter(random));
    while (!stop_.load() && Clock::now() < until) std::this_thread::sleep_for(milliseconds(50));
    backoff_ = std::min(backoff_ * 2, kBackoffMax);
  }

  // Reads what the broadcast holds (waiting up to kPollInterval), and applies the decisions in
  // order, all that arrived together in one batch: one backend call, however many there are.
  void follow() {
    zmq::pollitem_t item{broadcast_.handle(), 0, ZMQ_POLLIN, 0};
    common::poll_for(&item, 1, kPollInterval);
    std::vector<common::Decision> batch;
    std::vector<std::int64_t> received_us;  // per decision in batch, when tracing
    const bool trace = common::tracing();
    zmq::message_t message;
    while (!need_snapshot_ && batch.size() < kMaxBatch && broadcast_.recv(message, zmq::recv_flags::dontwait)) {
      const std::int64_t at = trace ? common::trace_clock_us() : 0;
      heard_since_connect_ = true;
      last_heard_ = Clock::now();
      auto broadcast = common::decode_broadcast(message.to_string_view());
      if (!broadcast) {
        spdlog::warn("rejected_broadcast reason=\"{}\"", broadcast.error());
        continue;
      }
      if (auto* heartbeat = std::get_if<common::Heartbeat>(&*broadcast)) {
        on_heartbeat(*heartbeat);
      } else {
        on_decision(std::move(std::get<common::Decision>(*broadcast)), batch);
        if (received_us.size() < batch.size() && trace) received_us.push_back(at);
      }
    }
    // What arrived in order before a gap is still right to apply; the snapshot then corrects the rest.
    if (!batch.empty()) enforcer_.apply(batch, common::now_seconds(), received_us);
  }

  void on_heartbeat(const common::Heartbeat& heartbeat) {
    if (heartbeat.incarnation != incarnation_) {
      spdlog::warn("aggregator_incarnation_changed; taking a new snapshot");
      need_snapshot_ = true;
    } else if (heartbeat.sequence > sequence_) {
      spdlog::warn("missed_updates have={} aggregator={}; taking a new snapshot", sequence_, heartbeat.sequence);
      need_snapshot_ = true;
    }
    // A heartbeat behind us was queued before the snapshot we took: nothing to do.
  }

  void on_decision(common::Decision decision, std::vector<common::Decision>& batch) {
    if (decision.sequence <= sequence_) return;  // already in the snapshot
    if (decision.sequence != sequence_ + 1) {
      spdlog::warn("sequence_gap have={} got={}; taking a new snapshot", sequence_, decision.sequence);
      need_snapshot_ = true;
      return;
    }
    sequence_ = decision.sequence;
    batch.push_back(std::move(decision));
  }

  void drain_spool() {
    next_drain_ = Clock::now() + kSpoolDrainInterval;
    if (spool_.list().empty()) return;
    auto result = common::drain_spool(ingest_, spool_, kSpoolDrainBatch, config_.timeout);
    if (result.sent > 0 || result.refused > 0 || result.moved_aside > 0) {
      spdlog::info("spool_drained sent={} refused={} moved_aside={} stalled={}", result.sent, result.refused,
                   result.moved_aside, result.stalled);
    }
  }

  const common::HostConfig& config_;
  const std::atomic<bool>& stop_;
  zmq::context_t context_;
  common::ClientSockets sockets_;
  Enforcer enforcer_;
  common::Spool spool_;
  zmq::socket_t broadcast_;
  zmq::socket_t ingest_;
  bool need_snapshot_ = true;
  bool heard_since_connect_ = false;
  std::uint64_t sequence_ = 0;
  std::string incarnation_;
  Clock::time_point last_heard_ = Clock::now();
  Clock::time_point next_drain_ = Clock::now();
  Clock::time_point next_intact_check_ = Clock::now() + kIntactCheckInterval;
  milliseconds backoff_ = kBackoffMin;
};

}  // namespace

void run_subscriber(const common::HostConfig& config, const std::atomic<bool>& stop) {
  spdlog::info("subscriber started host={} aggregator={} broadcast={}", config.host_id, config.aggregator,
               config.broadcast);
  Follower(config, stop).run();
  common::notify_stopping();
  spdlog::info("subscriber stopping");
  common::flush_log();
}

}  // namespace fleetban::subscriber
