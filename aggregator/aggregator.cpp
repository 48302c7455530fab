#include "aggregator/aggregator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "aggregator/event_id_set.hpp"
#include "aggregator/fleet_state.hpp"
#include "aggregator/http_server.hpp"
#include "aggregator/metrics.hpp"
#include "aggregator/rate_limiter.hpp"
#include "aggregator/state_view.hpp"
#include "aggregator/store.hpp"
#include "common/codec.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "common/own_addresses.hpp"
#include "common/poll.hpp"
#include "common/socket_factory.hpp"
#include "common/systemd_notify.hpp"

namespace fleetban::aggregator {

namespace {

using common::Decision;
using common::EventId;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxBatch = 4096;         // events taken into one transaction
constexpr std::size_t kSnapshotChunk = 10'000;  // decisions per snapshot message, at most
// Bytes per snapshot message, at most: a quarter of what clients accept (kMaxReplyMessageBytes),
// whatever the decisions hold (64 names each: up to ~9 KB).
constexpr std::size_t kSnapshotChunkBytes = 4 * 1024 * 1024;
static_assert(kSnapshotChunkBytes * 4 <= static_cast<std::size_t>(common::kMaxReplyMessageBytes));
constexpr std::size_t kPrefetchAhead = 4;  // events: a memory access takes about that long
constexpr auto kHeartbeatInterval = std::chrono::seconds(1);
constexpr auto kMaxPollWait = std::chrono::milliseconds(200);  // how soon a signal is noticed
// Applied event ids are kept as long as ended records ([policy] forget_after, 30 days by default):
// both are how far back the aggregator remembers. A retry older than that is applied as a new
// event, which for a ban that has ended since only makes a report that ends (and is forgotten) in
// turn. They are pruned in steps of a tenth of that, at most an hour apart.
constexpr auto kMaxIdPruneInterval = std::chrono::hours(1);
std::chrono::seconds id_prune_interval(std::chrono::seconds forget_after) {
  return std::clamp<std::chrono::seconds>(forget_after / 10, std::chrono::seconds(1), kMaxIdPruneInterval);
}
// Snapshot and status requests per key and second (with a burst as large): each snapshot walks the
// whole state on this thread, so one key must not take the loop from ingest and heartbeats.
constexpr unsigned kQueriesPerKeyPerSecond = 20;
constexpr const char* kMonitorEndpoint = "inproc://fleetban-broadcast-monitor-";  // + a number

// Logs at most a few lines per interval for bad input, then a count of the rest, so no input
// can flood the log.
class RateLimitedLog {
 public:
  void warn(const std::string& message) {
    auto now = Clock::now();
    if (now - window_start_ > std::chrono::seconds(10)) {
      if (suppressed_ > 0) spdlog::warn("rejected_input suppressed={} (in the last 10 s)", suppressed_);
      window_start_ = now;
      logged_ = 0;
      suppressed_ = 0;
    }
    if (logged_ < 5) {
      ++logged_;
      spdlog::warn("{}", message);
    } else {
      ++suppressed_;
    }
  }

 private:
  Clock::time_point window_start_{};
  int logged_ = 0;
  std::uint64_t suppressed_ = 0;
};

// An event as it came in: the connection to ack on, the frame (it carries the sender's key), the event.
struct Received {
  zmq::message_t identity;
  zmq::message_t payload;
  common::Event event;
};

struct Routed {
  zmq::message_t identity;
  common::Reply reply;
};

// What one batch collected: applied after one commit, in this order.
struct Batch {
  std::vector<Routed> acks;
  std::vector<Routed> queries;  // snapshot and status requests, answered after the broadcast
  std::vector<Decision> changes;
  std::vector<EventId> new_ids;
};

class Service {
 public:
  Service(const AggregatorConfig& config, StopSignals& signals, const std::optional<std::filesystem::path>& file,
          const common::FlagOverrides& flags)
      : config_(config),
        signals_(signals),
        config_file_(file),
        flags_(flags),
        store_(config.state),
        state_(config.policy),
        limiter_(config.policy.max_events_per_second),
        queries_(kQueriesPerKeyPerSecond),
        sockets_(context_, config.security),
        ingest_(sockets_.ingest(config.ingest)),
        broadcast_(sockets_.broadcast(config.broadcast)) {
    find_own_addresses();
    load();
    monitor_broadcast();
    if (!config.http.empty()) http_ = std::make_unique<HttpServer>(config.http, view_, metrics_, config.http_auth_file);
  }

  void run() {
    spdlog::info("aggregator started ingest={} broadcast={} http={} state={} sequence={} active_bans={} insecure={}",
                 config_.ingest, config_.broadcast, config_.http.empty() ? "off" : config_.http, config_.state.string(),
                 state_.sequence(), state_.active_count(), config_.security.insecure);
    common::batch_log_lines();
    common::notify_ready();
    auto next_heartbeat = Clock::now();
    while (!signals_.stop.load()) {
      if (signals_.reload.exchange(false)) {
        reload_policy();
        if (sockets_.reload_keys()) rebind_broadcast();
      }
      if (!sockets_.authenticator_alive()) {
        throw common::RuntimeError("the ZAP authenticator died: stopping rather than letting every key in");
      }
      auto now = Clock::now();
      if (now >= next_heartbeat) {
        send_heartbeat();
        next_heartbeat = now + kHeartbeatInterval;
      }
      auto wait = std::min<Clock::duration>(next_heartbeat - now, kMaxPollWait);
      if (auto expiry = state_.next_expiry()) {
        auto until = std::chrono::system_clock::time_point(*expiry) - std::chrono::system_clock::now();
        wait = std::min<Clock::duration>(wait, std::max<Clock::duration>(until, Clock::duration::zero()));
      }
      // The view's wake fd: an HTTP reader waiting for a page is answered this turn, not the next poll's end.
      std::array<zmq::pollitem_t, 3> items{{{ingest_.handle(), 0, ZMQ_POLLIN, 0},
                                            {monitor_.handle(), 0, ZMQ_POLLIN, 0},
                                            {nullptr, view_.wake_fd(), ZMQ_POLLIN, 0}}};
      common::poll_for(items.data(), items.size(), std::chrono::duration_cast<std::chrono::milliseconds>(wait));
      if ((items[1].revents & ZMQ_POLLIN) != 0) count_subscribers();
      if (auto failure = sockets_.handshake_failure()) {
        metrics_.count_rejected(RejectReason::identity);
        rejected_.warn("handshake_failed reason=\"" + *failure + "\"");
      }
      process_batch();
      view_.publish_if_requested(state_);
      common::flush_log();
    }
    common::notify_stopping();
    spdlog::info("aggregator stopping sequence={}", state_.sequence());
    common::flush_log();
  }

 private:
  void load() {
    state_ = FleetState(config_.policy);
    state_.set_own_addresses(own_addresses_);
    // Records go straight into the state as they are read: a million decoded copies at once would
    // stay in the heap as fragments long after.
    StoredState stored = store_.load([&](const FleetRecord& record) { state_.restore(record); });
    state_.resume_sequence(stored.sequence);
    // The policy may have changed while the aggregator was down (or this is a reload after a
    // failed commit): what it covers now ends with the next batch.
    policy_ended_ = state_.end_disallowed(common::now_seconds());
    incarnation_ = stored.incarnation;
    view_.set_version({incarnation_, state_.sequence()});
    seen_.clear();
    seen_.reserve(stored.seen_events.size());
    for (const auto& id : stored.seen_events) seen_.insert(id);
    update_gauges();
  }

  // Counts subscribers: the broadcast socket reports each connection accepted and closed.
  void monitor_broadcast() {
    std::string endpoint = kMonitorEndpoint + std::to_string(++monitors_);
    if (zmq_socket_monitor(broadcast_.handle(), endpoint.c_str(), ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
      throw common::RuntimeError("cannot monitor the broadcast socket");
    }
    monitor_ = zmq::socket_t(context_, zmq::socket_type::pair);
    monitor_.connect(endpoint);
    metrics_.subscribers = 0;
  }

  // A key was revoked, but libzmq asks the ZAP handler only at the handshake: its subscriber would
  // go on receiving every decision. A new broadcast socket makes every subscriber connect again,
  // and the revoked one is refused. The others notice the decisions they missed meanwhile (the
  // next heartbeat is ahead of them) and take a snapshot.
  void rebind_broadcast() {
    zmq_socket_monitor(broadcast_.handle(), nullptr, 0);
    broadcast_.close();
    // libzmq's I/O thread closes the old listener a moment later: until then the address is taken.
    for (int attempt = 1;; ++attempt) {
      try {
        broadcast_ = sockets_.broadcast(config_.broadcast);
        break;
      } catch (const common::RuntimeError&) {
        if (attempt == 100) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    monitor_broadcast();
    spdlog::warn("broadcast_rebound reason=\"a key was revoked\"; every subscriber reconnects");
  }

  void reload_policy() {
    try {
      AggregatorConfig fresh = load_aggregator_config(config_file_, flags_);
      find_own_addresses();  // the interfaces may have changed too
      state_.set_own_addresses(own_addresses_);
      state_.set_policy(fresh.policy);
      for (auto& ended : state_.end_disallowed(common::now_seconds())) policy_ended_.push_back(std::move(ended));
      limiter_.set_rate(fresh.policy.max_events_per_second);
      config_.policy = fresh.policy;
      spdlog::info("policy reloaded");
    } catch (const std::exception& e) {
      spdlog::error("policy not reloaded, keeping the old one: {}", e.what());
    }
  }

  // What the fleet must never ban because this aggregator is reached there: the addresses of its
  // ingest and broadcast endpoints (every interface address for a wildcard bind).
  void find_own_addresses() {
    own_addresses_.clear();
    for (const auto* endpoint : {&config_.ingest, &config_.broadcast}) {
      for (const auto& address : common::endpoint_addresses(*endpoint)) {
        if (std::find(own_addresses_.begin(), own_addresses_.end(), address) == own_addresses_.end()) {
          own_addresses_.push_back(address);
        }
      }
    }
    std::vector<std::string> texts;
    for (const auto& address : own_addresses_) texts.push_back(address.to_string());
    spdlog::info("never_banned loopback=127.0.0.0/8,::1 own=\"{}\"", fmt::join(texts, ","));
  }

  // Remembers where an admitted connection comes from: a fleet member's address is never banned.
  void note_member(const zmq::message_t& payload) {
    const char* address = zmq_msg_gets(const_cast<zmq_msg_t*>(payload.handle()), "Peer-Address");
    if (address == nullptr) return;
    if (auto prefix = common::IpPrefix::parse(address)) state_.note_member_address(*prefix);
  }

  void update_gauges() {
    metrics_.active_bans = state_.active_count();
    metrics_.records = state_.record_count();
    metrics_.last_sequence = state_.sequence();
    metrics_.reporters = reporters_.size();
  }

  // Takes every message waiting (up to kMaxBatch), applies the events, commits once, then
  // broadcasts, acks and answers queries, in that order: nothing is acked or broadcast before it
  // is durable, and a snapshot always includes what was broadcast before it.
  void process_batch() {
    Batch batch;
    auto now = common::now_seconds();
    const bool trace = common::tracing();
    const std::int64_t received_us = trace ? common::trace_clock_us() : 0;
    // First: their sequence numbers were given when the policy changed, before this batch's.
    for (auto& ended : policy_ended_) {
      spdlog::info("decision seq={} ip={} active=false reason=\"{}\"", ended.sequence, ended.prefix.to_string(),
                   ended.reason);
      batch.changes.push_back(std::move(ended));
    }
    policy_ended_.clear();
    receive(batch);
    for (std::size_t i = 0; i < received_.size(); ++i) {
      // The tables are far larger than the caches: ask for the next events' slots early.
      if (i + kPrefetchAhead < received_.size()) {
        const common::Event& ahead = received_[i + kPrefetchAhead].event;
        state_.prefetch(ahead.prefix);
        seen_.prefetch(ahead.id);
      }
      Received& r = received_[i];
      batch.acks.push_back({std::move(r.identity), handle_event(r.payload, r.event, now, batch)});
    }
    received_.clear();
    for (auto& ended : state_.expire(now)) {
      spdlog::info("decision seq={} ip={} active=false expired", ended.sequence, ended.prefix.to_string());
      batch.changes.push_back(std::move(ended));
    }
    if (std::size_t forgotten = state_.forget(now); forgotten > 0)
      spdlog::debug("records_forgotten count={}", forgotten);
    // The batch's lines are written before its commit, so every decision on disk is in the log too.
    common::flush_log();
    const std::int64_t logged_us = trace ? common::trace_clock_us() : 0;
    if (!commit(batch, now)) return;
    const std::int64_t committed_us = trace ? common::trace_clock_us() : 0;
    for (const auto& decision : batch.changes) {
      broadcast_.send(zmq::buffer(common::encode(common::Broadcast{decision})), zmq::send_flags::dontwait);
    }
    const std::int64_t broadcast_us = trace ? common::trace_clock_us() : 0;
    for (auto& routed : batch.acks) send(routed.identity, routed.reply);
    for (auto& routed : batch.queries) answer(routed);
    update_gauges();
    // After the acks, so tracing delays nothing of this batch (docs/ARCHITECTURE.md, tracing).
    if (trace) {
      for (const auto& d : batch.changes) {
        spdlog::debug("trace seq={} received_us={} logged_us={} committed_us={} broadcast_us={}", d.sequence,
                      received_us, logged_us, committed_us, broadcast_us);
      }
    }
  }

  // Takes every message waiting (up to kMaxBatch): events into received_, queries into the batch,
  // and what cannot be decoded is counted and logged.
  void receive(Batch& batch) {
    for (std::size_t n = 0; n < kMaxBatch; ++n) {
      zmq::message_t identity;
      if (!ingest_.recv(identity, zmq::recv_flags::dontwait)) break;
      if (!identity.more()) continue;
      zmq::message_t payload;
      if (!ingest_.recv(payload, zmq::recv_flags::dontwait)) continue;
      if (payload.more()) {
        drain_frames();
        reject(RejectReason::frames, "rejected_input reason=\"too many frames\"");
        continue;
      }
      auto request = common::decode_request(payload.to_string_view());
      if (!request) {
        reject(RejectReason::malformed, "rejected_input reason=\"" + request.error() + "\"");
        // An invalid event is refused by its id: unanswered, its client would resend it for ever.
        if (auto id = common::event_id_of_request(payload.to_string_view())) {
          batch.acks.push_back({std::move(identity), common::Ack{*id, common::AckOutcome::refused, request.error()}});
        }
        continue;
      }
      if (!std::holds_alternative<common::Event>(*request)) {
        if (!admitted(payload)) {
          reject(RejectReason::identity, "query_refused reason=\"key no longer authorized\"");
          continue;
        }
        note_member(payload);
      }
      if (!std::holds_alternative<common::Event>(*request) && !query_allowed(payload)) continue;
      if (auto* snapshot = std::get_if<common::SnapshotRequest>(&*request)) {
        batch.queries.push_back({std::move(identity), common::SnapshotChunk{.request_id = snapshot->request_id}});
      } else if (auto* status = std::get_if<common::StatusRequest>(&*request)) {
        batch.queries.push_back({std::move(identity), common::Status{.request_id = status->request_id}});
      } else {
        received_.push_back({std::move(identity), std::move(payload), std::move(std::get<common::Event>(*request))});
      }
    }
  }

  common::Ack handle_event(const zmq::message_t& payload, common::Event& event, common::UnixSeconds now, Batch& batch) {
    common::Ack ack{.event_id = event.id};
    bool unban = event.kind == common::EventKind::unban;
    auto refuse = [&](RejectReason reason, const std::string& why) {
      ack.outcome = common::AckOutcome::refused;
      ack.reason = why;
      metrics_.count_event(unban, EventOutcome::refused);
      reject(reason,
             fmt::format("event_refused host={} ip={} reason=\"{}\"", event.host_id, event.prefix.to_string(), why));
      return ack;
    };
    auto peer = authenticated_peer(payload);
    if (!config_.security.insecure) {
      if (!peer) return refuse(RejectReason::identity, "unauthenticated");
      // Its key may have been removed (and SIGHUP sent) since this connection was made.
      if (!sockets_.admits(*peer))
        return refuse(RejectReason::identity, "key " + peer->name + " is no longer authorized");
      if (peer->role == common::PeerRole::operator_) {
        event.operator_action = true;  // an operator does not run Fail2Ban: whatever it sends is by hand
      } else if (event.operator_action) {
        return refuse(RejectReason::not_operator, "key " + peer->name + " is not an operator key");
      } else if (peer->name != event.host_id) {
        return refuse(RejectReason::identity, "host_id " + event.host_id + " does not match key " + peer->name);
      }
      // The reporter is the key's admitted name, whatever the message says: an operator's action
      // (its decision's reporters, the audit line below) is tied to the operator's key.
      event.host_id = peer->name;
    }
    note_member(payload);
    const std::string& reporter = event.host_id;
    if (seen_.contains(event.id)) {
      ack.outcome = common::AckOutcome::duplicate;
      metrics_.count_event(unban, EventOutcome::duplicate);
      return ack;
    }
    if (!event.operator_action && !limiter_.allow(reporter, Clock::now())) {
      ack.outcome = common::AckOutcome::throttled;
      ack.reason = "over max_events_per_second";
      metrics_.count_rejected(RejectReason::rate_limited);
      throttled_.warn(fmt::format("event_throttled host={} (max_events_per_second = {})", reporter,
                                  config_.policy.max_events_per_second));
      return ack;
    }
    ApplyResult result = state_.apply(event, now);
    // Not remembered as applied: a retry is refused again rather than acked DUPLICATE.
    if (result.refused) return refuse(result.refused_because, *result.refused);
    seen_.insert(event.id);
    batch.new_ids.push_back(event.id);
    reporters_.insert(reporter);
    if (result.change) {
      spdlog::info("decision seq={} ip={} active={} host={} jail={} kind={}{}", result.change->sequence,
                   result.change->prefix.to_string(), result.change->active, event.host_id, event.jail,
                   unban ? "unban" : "ban", event.operator_action ? " by=operator" : "");
      batch.changes.push_back(std::move(*result.change));
    }
    for (auto& more : result.more_changes) {
      spdlog::info("decision seq={} ip={} active={} promoted", more.sequence, more.prefix.to_string(), more.active);
      batch.changes.push_back(std::move(more));
    }
    metrics_.count_event(unban, EventOutcome::applied);
    return ack;
  }

  // A key's fair share of snapshot and status requests; what exceeds it is dropped and counted.
  // Without CURVE there is no key to count by: the per-peer send queue still bounds the memory.
  bool query_allowed(const zmq::message_t& payload) {
    auto peer = authenticated_peer(payload);
    if (!peer || queries_.allow(peer->key, Clock::now())) return true;
    metrics_.count_rejected(RejectReason::rate_limited);
    throttled_.warn(fmt::format("query_dropped key={} reason=\"over {} snapshot and status requests a second\"",
                                peer->name, kQueriesPerKeyPerSecond));
    return false;
  }

  // Whether the connection's key is still authorized (a query carries no identity to check).
  bool admitted(const zmq::message_t& payload) {
    if (config_.security.insecure) return true;
    auto peer = authenticated_peer(payload);
    return peer && sockets_.admits(*peer);
  }

  // The identity the ZAP handler gave this connection's key; nullopt in insecure mode.
  std::optional<common::PeerIdentity> authenticated_peer(const zmq::message_t& payload) {
    if (config_.security.insecure) return std::nullopt;
    const char* user_id = zmq_msg_gets(const_cast<zmq_msg_t*>(payload.handle()), "User-Id");
    return user_id != nullptr ? common::parse_user_id(user_id) : std::nullopt;
  }

  bool commit(Batch& batch, common::UnixSeconds now) {
    bool prune_ids = now >= next_id_prune_;
    if (batch.new_ids.empty() && !state_.has_changes() && !prune_ids) return true;
    auto started = Clock::now();
    try {
      store_.begin();
      for (const auto& id : batch.new_ids) store_.mark_seen(id, now);
      state_.take_forgotten([&](const common::IpPrefix& prefix) { store_.erase(prefix); });
      state_.take_changes([&](const FleetRecord& record) { store_.put(record); });
      if (prune_ids) {
        // On a failed commit load() reads the ids back from disk: erasing them early is safe.
        for (const auto& id : store_.take_events_before(now - config_.policy.forget_after)) seen_.erase(id);
      }
      store_.set_sequence(state_.sequence());
      store_.commit();
    } catch (const std::exception& e) {
      // Nothing of this batch is durable: ack nothing, broadcast nothing, and go back to what the
      // disk holds. Clients keep their events in their spools and retry.
      spdlog::error("commit_failed events={} error=\"{}\"; no acks sent, state reloaded from disk",
                    batch.new_ids.size(), e.what());
      load();
      return false;
    }
    metrics_.observe_commit(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started));
    if (prune_ids) next_id_prune_ = now + id_prune_interval(config_.policy.forget_after);
    return true;
  }

  void answer(Routed& query) {
    if (auto* status = std::get_if<common::Status>(&query.reply)) {
      status->sequence = state_.sequence();
      status->incarnation = incarnation_;
      status->active_bans = state_.active_count();
      status->reporters = reporters_.size();
      status->subscribers = metrics_.subscribers.load();
      status->started_at = started_at_;
      send(query.identity, query.reply);
      return;
    }
    send_snapshot(query.identity, std::get<common::SnapshotChunk>(query.reply).request_id);
  }

  // Streams the active decisions in chunks as it walks the state: no copy of the whole fleet.
  void send_snapshot(const zmq::message_t& identity, const std::string& request_id) {
    std::size_t sent = 0;
    bool dropped = false;
    std::size_t chunk_bytes = 0;
    common::SnapshotChunk chunk{.request_id = request_id, .sequence = state_.sequence(), .incarnation = incarnation_};
    auto flush = [&](bool last) {
      sent += chunk.decisions.size();
      chunk.last = last;
      dropped = !send(identity, common::Reply{chunk});
      chunk.decisions.clear();
      chunk_bytes = 0;
    };
    // A chunk goes out when the next decision would take it past either bound (count or bytes);
    // the last one after the walk, empty only when nothing is banned.
    state_.for_each_active([&](Decision&& d) {
      std::size_t bytes = common::encoded_size_bound(d);
      if (!chunk.decisions.empty() &&
          (chunk.decisions.size() == kSnapshotChunk || chunk_bytes + bytes > kSnapshotChunkBytes)) {
        flush(false);
      }
      chunk_bytes += bytes;
      chunk.decisions.push_back(std::move(d));
      return !dropped;  // a peer that does not read its replies gets no more of the walk
    });
    if (!dropped) flush(true);
    if (dropped) {
      metrics_.count_rejected(RejectReason::rate_limited);
      throttled_.warn("snapshot_dropped reason=\"the client's send queue is full: it does not read its replies\"");
      return;
    }
    metrics_.snapshots_served.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("snapshot_sent sequence={} decisions={}", state_.sequence(), sent);
  }

  // False when the reply was dropped: the client went away, or its send queue is full (it does not
  // read its replies). dontwait: such a client must not stall the fleet; ROUTER_MANDATORY makes
  // libzmq say so rather than drop the reply silently.
  bool send(const zmq::message_t& identity, const common::Reply& reply) {
    zmq::message_t to;
    to.copy(const_cast<zmq::message_t&>(identity));
    try {
      if (!ingest_.send(to, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
      ingest_.send(zmq::buffer(common::encode(reply)), zmq::send_flags::dontwait);
      return true;
    } catch (const zmq::error_t& e) {
      if (e.num() != EHOSTUNREACH) throw;
      return false;
    }
  }

  void send_heartbeat() {
    common::Heartbeat heartbeat{state_.sequence(), incarnation_, common::now_seconds()};
    broadcast_.send(zmq::buffer(common::encode(common::Broadcast{heartbeat})), zmq::send_flags::dontwait);
  }

  void count_subscribers() {
    zmq::message_t event;
    while (monitor_.recv(event, zmq::recv_flags::dontwait)) {
      if (event.size() >= sizeof(std::uint16_t)) {
        std::uint16_t id = 0;
        std::memcpy(&id, event.data(), sizeof id);
        auto current = metrics_.subscribers.load();
        if (id == ZMQ_EVENT_ACCEPTED) metrics_.subscribers = current + 1;
        if (id == ZMQ_EVENT_DISCONNECTED && current > 0) metrics_.subscribers = current - 1;
      }
      zmq::message_t endpoint;
      if (event.more()) (void)monitor_.recv(endpoint, zmq::recv_flags::dontwait);
    }
  }

  void reject(RejectReason reason, const std::string& message) {
    metrics_.count_rejected(reason);
    rejected_.warn(message);
  }

  void drain_frames() {
    zmq::message_t rest;
    while (ingest_.get(zmq::sockopt::rcvmore) != 0) {
      if (!ingest_.recv(rest, zmq::recv_flags::dontwait)) break;
    }
  }

  AggregatorConfig config_;
  StopSignals& signals_;
  std::optional<std::filesystem::path> config_file_;
  common::FlagOverrides flags_;
  Store store_;
  FleetState state_;
  RateLimiter limiter_;
  RateLimiter queries_;  // snapshot and status requests, per key
  std::string incarnation_;
  EventIdSet seen_;
  std::vector<Received> received_;  // this turn's events (kept to reuse its capacity)
  std::vector<common::IpPrefix> own_addresses_;
  std::vector<Decision> policy_ended_;  // bans the policy ended (reload, start), for the next batch
  std::set<std::string> reporters_;
  common::UnixSeconds started_at_ = common::now_seconds();
  common::UnixSeconds next_id_prune_{};  // when commit() next drops applied ids older than forget_after
  Metrics metrics_;
  StateView view_;
  zmq::context_t context_;
  common::ServerSockets sockets_;
  zmq::socket_t ingest_;
  zmq::socket_t broadcast_;
  zmq::socket_t monitor_;
  int monitors_ = 0;  // broadcast monitors made (each on an inproc endpoint of its own)
  std::unique_ptr<HttpServer> http_;
  RateLimitedLog rejected_;
  RateLimitedLog throttled_;
};

}  // namespace

void run_aggregator(const AggregatorConfig& config, StopSignals& signals,
                    const std::optional<std::filesystem::path>& config_file, const common::FlagOverrides& flags) {
  {
    Store store(config.state);
    store.forget_events_before(common::now_seconds() - config.policy.forget_after);
  }
  Service service(config, signals, config_file, flags);
  service.run();
}

}  // namespace fleetban::aggregator
