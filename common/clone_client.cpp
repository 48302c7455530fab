#include "common/clone_client.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <random>
#include <stdexcept>
#include <thread>

#include "common/logging.hpp"
#include "common/poll.hpp"

namespace fleetban::common {

namespace {

using std::chrono::milliseconds;

constexpr auto kFirstMessageWait = milliseconds(1500);  // lets the subscription settle before a snapshot
constexpr milliseconds kStopCheck{100};                 // how soon a wait notices `stop`
constexpr milliseconds kBackoffMin{200};
constexpr milliseconds kBackoffMax{10'000};

}  // namespace

CloneClient::CloneClient(const ClientSockets& sockets, std::vector<std::string> ingest_endpoints,
                         std::vector<std::string> broadcast_endpoints, const std::atomic<bool>& stop)
    : sockets_(sockets),
      ingest_endpoints_(std::move(ingest_endpoints)),
      broadcast_endpoints_(std::move(broadcast_endpoints)),
      stop_(stop),
      backoff_(kBackoffMin) {
  if (ingest_endpoints_.empty() || ingest_endpoints_.size() != broadcast_endpoints_.size()) {
    throw std::logic_error("CloneClient: the ingest and broadcast lists must be non-empty and as long");
  }
  connect();
}

// Fresh sockets on the pair followed now.
void CloneClient::connect() {
  sockets_.release(broadcast_);  // the old pair's monitors go with it (HandshakeMonitor::detach)
  sockets_.release(ingest_);
  broadcast_ = sockets_.broadcast(broadcast_endpoints_[current_]);
  ingest_ = sockets_.ingest(ingest_endpoints_[current_]);
  receipt_.clear();
  heard_since_connect_ = false;
  need_snapshot_ = true;
  confirming_ = false;
  held_.clear();
  last_heard_ = Clock::now();
}

CloneClient::Update CloneClient::poll(milliseconds wait) {
  Update update;
  if (need_snapshot_) {
    update.snapshot = take_snapshot();
    if (!update.snapshot) {
      back_off();
      return update;
    }
  }
  follow(wait, update);
  auto now = Clock::now();
  if (now - last_heard_ > kMissedHeartbeats * kHeartbeatInterval) {
    spdlog::warn("missed_heartbeats seconds={} aggregator={}; moving on",
                 std::chrono::duration_cast<std::chrono::seconds>(now - last_heard_).count(), ingest_endpoint());
    move_on();
  }
  return update;
}

// Silence or a failed snapshot: the next pair of the list (after the last, the first), on fresh
// sockets; with one pair, fresh sockets on it (the aggregator may have restarted; the DEALER may
// hold a stale request). A snapshot is taken there either way.
void CloneClient::move_on() {
  // In sync with a list: the next pair may carry on our sequence (see the header).
  const bool may_carry_on = ingest_endpoints_.size() > 1 && !need_snapshot_ && !incarnation_.empty();
  current_ = (current_ + 1) % ingest_endpoints_.size();
  if (ingest_endpoints_.size() > 1) {
    spdlog::info("following aggregator={} broadcast={}", ingest_endpoints_[current_], broadcast_endpoints_[current_]);
  }
  connect();
  if (may_carry_on) {
    need_snapshot_ = false;
    confirming_ = true;
  }
}

std::optional<Snapshot> CloneClient::take_snapshot() {
  if (!heard_since_connect_) {
    // Until the first broadcast message arrives the subscription may not be live yet, and a
    // decision made between snapshot and subscription would only be caught by the next heartbeat.
    // In slices, so that a stop is noticed.
    const auto until = std::chrono::steady_clock::now() + kFirstMessageWait;
    while (!stop_.load() && std::chrono::steady_clock::now() < until) {
      zmq::pollitem_t item{broadcast_.handle(), 0, ZMQ_POLLIN, 0};
      if (poll_for(&item, 1, kStopCheck) > 0) break;
    }
  }
  auto snapshot = fetch_snapshot(ingest_, kSnapshotTimeout, receipt_, WithGeo::no, &stop_);
  if (!snapshot && stop_.load()) return std::nullopt;  // stopping: no upstream to blame
  if (!snapshot) {
    spdlog::warn("snapshot_failed reason=\"{}\" aggregator={}", sockets_.handshake_failure().value_or(snapshot.error()),
                 ingest_endpoint());
    move_on();
    return std::nullopt;
  }
  if (!incarnation_.empty() && snapshot->incarnation != incarnation_) {
    spdlog::warn("aggregator_incarnation_changed sequence={}", snapshot->sequence);
  }
  incarnation_ = snapshot->incarnation;
  sequence_ = snapshot->sequence;
  confirming_ = false;
  held_.clear();
  receipt_ = snapshot->receipt;
  need_snapshot_ = false;
  next_report_.reset();  // report the new sequence at once
  backoff_ = kBackoffMin;
  last_heard_ = Clock::now();
  spdlog::info("snapshot sequence={} decisions={}", sequence_, snapshot->decisions.size());
  return std::move(*snapshot);
}

bool CloneClient::report_due(Clock::time_point now) const {
  return !need_snapshot_ && (!next_report_ || now >= *next_report_);
}

void CloneClient::report_in(HostReport report, Clock::time_point now) {
  report.sequence = sequence_;
  report.incarnation = incarnation_;
  next_report_ = now + kReportInterval;
  // Without a connection (ZMQ_IMMEDIATE) the send fails at once: a report is only news while fresh.
  if (!ingest_.send(zmq::buffer(encode(Request{std::move(report)})), zmq::send_flags::dontwait)) {
    spdlog::debug("report_in_dropped reason=\"not connected\"");
  }
}

void CloneClient::back_off() {
  // Exponential with jitter, so a fleet does not stampede a restarted aggregator.
  static thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> jitter(backoff_.count() / 2, backoff_.count());
  auto until = Clock::now() + milliseconds(jitter(random));
  while (!stop_.load() && Clock::now() < until) std::this_thread::sleep_for(milliseconds(50));
  backoff_ = std::min(backoff_ * 2, kBackoffMax);
}

// Reads what the broadcast holds (waiting up to `wait`): the decisions in order, all that arrived
// together, so the caller makes one backend call however many there are.
void CloneClient::follow(milliseconds wait, Update& update) {
  const bool trace = tracing();
  zmq::message_t message;
  bool received = receive_first(wait, message);
  while (received) {
    const std::int64_t at = trace ? trace_clock_us() : 0;
    heard_since_connect_ = true;
    last_heard_ = Clock::now();
    auto broadcast = decode_broadcast(message.to_string_view());
    if (!broadcast) {
      spdlog::warn("rejected_broadcast reason=\"{}\"", broadcast.error());
    } else if (auto* heartbeat = std::get_if<Heartbeat>(&*broadcast)) {
      if (confirming_) confirm(*heartbeat, update);
      on_heartbeat(*heartbeat);
      if (!need_snapshot_ && !confirming_) update.heartbeat = *heartbeat;
    } else if (confirming_) {
      held_.emplace_back(std::move(std::get<Decision>(*broadcast)), at);
      if (held_.size() >= kMaxDecisions) need_snapshot_ = true;  // a snapshot is cheaper by now
    } else if (on_decision(std::get<Decision>(*broadcast))) {
      update.decisions.push_back(std::move(std::get<Decision>(*broadcast)));
      if (trace) update.received_us.push_back(at);
    }
    received = !need_snapshot_ && update.decisions.size() < kMaxDecisions &&
               broadcast_.recv(message, zmq::recv_flags::dontwait).has_value();
  }
  // What arrived in order before a gap is still right to apply; the next snapshot corrects the rest.
}

// The first message, waiting up to `wait` for it, by a blocking receive with a timeout rather than
// zmq_poll and a receive: on every wake zmq_poll makes three more poll(2) calls and reads of
// libzmq's mailbox than the receive alone, and on a host that wakes for every decision of the
// fleet those were a third of the loop's system calls. A signal ends the wait early (EINTR):
// the caller's loop then sees its stop flag.
bool CloneClient::receive_first(milliseconds wait, zmq::message_t& message) {
  broadcast_.set(zmq::sockopt::rcvtimeo, static_cast<int>(wait.count()));
  try {
    return broadcast_.recv(message).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    return false;
  }
}

// The first heartbeat after moving on while in sync: with our incarnation, the decisions held
// until now are applied as if they had come on the old pair (a gap among them, or the heartbeat
// ahead of them, still takes a snapshot: on_decision, on_heartbeat); with another, on_heartbeat
// takes a snapshot and they are dropped.
void CloneClient::confirm(const Heartbeat& heartbeat, Update& update) {
  confirming_ = false;
  if (heartbeat.incarnation == incarnation_) {
    spdlog::info("carrying_on sequence={} aggregator={}; no snapshot needed", sequence_, ingest_endpoint());
    for (auto& [decision, at] : held_) {
      if (need_snapshot_ || update.decisions.size() >= kMaxDecisions) break;
      if (!on_decision(decision)) continue;
      update.decisions.push_back(std::move(decision));
      if (tracing()) update.received_us.push_back(at);
    }
  }
  held_.clear();
}

void CloneClient::on_heartbeat(const Heartbeat& heartbeat) {
  if (heartbeat.incarnation != incarnation_) {
    spdlog::warn("aggregator_incarnation_changed; taking a new snapshot");
    need_snapshot_ = true;
  } else if (heartbeat.sequence > sequence_) {
    spdlog::warn("missed_updates have={} aggregator={}; taking a new snapshot", sequence_, heartbeat.sequence);
    need_snapshot_ = true;
  }
  // A heartbeat behind us was queued before the snapshot we took: nothing to do.
}

// Whether the decision is the next one to apply.
bool CloneClient::on_decision(const Decision& decision) {
  if (decision.sequence <= sequence_) return false;  // already in the snapshot
  if (decision.sequence != sequence_ + 1) {
    spdlog::warn("sequence_gap have={} got={}; taking a new snapshot", sequence_, decision.sequence);
    need_snapshot_ = true;
    return false;
  }
  sequence_ = decision.sequence;
  return true;
}

}  // namespace fleetban::common
