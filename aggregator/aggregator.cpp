#include "aggregator/aggregator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>
#include <zmq.hpp>

#include "aggregator/batch_step.hpp"
#include "aggregator/event_id_set.hpp"
#include "aggregator/fleet_state.hpp"
#include "aggregator/fleet_summary.hpp"
#include "aggregator/heartbeat_schedule.hpp"
#include "aggregator/history_reader.hpp"
#include "aggregator/host_table.hpp"
#include "aggregator/http_server.hpp"
#include "aggregator/lease.hpp"
#include "aggregator/lease_keeper.hpp"
#include "aggregator/metrics.hpp"
#include "aggregator/pg_connection.hpp"
#include "aggregator/postgres_store.hpp"
#include "aggregator/state_store.hpp"
#include "aggregator/state_view.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "common/own_addresses.hpp"
#include "common/poll.hpp"
#include "common/systemd_notify.hpp"
#include "server/admission.hpp"
#include "server/broadcast_channel.hpp"
#include "server/peer_identity.hpp"
#include "server/router_reader.hpp"
#include "server/server_sockets.hpp"
#include "server/snapshot_server.hpp"

namespace fleetban::aggregator {

namespace {

using common::Decision;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxBatch = 4096;                        // messages taken into one transaction
constexpr auto kHeartbeatInterval = std::chrono::seconds(1);   // a tick; heartbeat_schedule.hpp says which send
constexpr auto kMaxPollWait = std::chrono::milliseconds(200);  // how soon a signal is noticed
// Applied event ids are kept as long as ended records ([policy] forget_after, 30 days by default):
// both are how far back the aggregator remembers. A retry older than that is applied as a new
// event, which for a ban that has ended since only makes a report that ends (and is forgotten) in
// turn. They are pruned in steps of a tenth of that, at most an hour apart.
constexpr auto kMaxIdPruneInterval = std::chrono::hours(1);
std::chrono::seconds id_prune_interval(std::chrono::seconds forget_after) {
  return std::clamp<std::chrono::seconds>(forget_after / 10, std::chrono::seconds(1), kMaxIdPruneInterval);
}

// The service loop: it owns the state and the sockets and wires the parts together. Each turn it
// reads what the ingest ROUTER holds into the BatchStep, commits what the step made in one
// transaction, then broadcasts, acks and answers queries, in that order: nothing is acked or
// broadcast before it is durable, and a snapshot always includes what was broadcast before it.
class Service {
 public:
  Service(const AggregatorConfig& config, StopSignals& signals, const std::optional<std::filesystem::path>& file,
          const common::FlagOverrides& flags, std::unique_ptr<StateStore> store, Lease* lease = nullptr)
      : config_(config),
        signals_(signals),
        config_file_(file),
        flags_(flags),
        store_(std::move(store)),
        lease_(lease),
        history_reader_(open_history_reader(config.state)),
        state_(config.policy),
        sockets_(context_, config.security),
        admission_(
            config.security.insecure, [this](const server::PeerIdentity& peer) { return sockets_.admits(peer); },
            config.policy.max_events_per_second,
            [this](server::PeerRole role, const std::string& name) { return sockets_.admits_name(role, name); }),
        step_(state_, seen_, admission_, metrics_, &hosts_),
        ingest_(sockets_.ingest(config.ingest)),
        broadcast_(context_, sockets_, config.broadcast, metrics_),
        snapshots_(ingest_, metrics_, throttled_) {
    find_own_addresses();
    load();
    if (lease_) {
      metrics_.ha_role = Metrics::HaRole::active;
      metrics_.ha_epoch = lease_->epoch();
      metrics_.ha_since = common::to_unix(lease_->since());
    }
    if (!config.http.empty()) {
      http_ = std::make_unique<HttpServer>(config.http, view_, metrics_, config.http_auth_file, geoip_, &summary_,
                                           std::shared_ptr<HistoryReader>(open_history_reader(config.state)));
    }
  }

  void run() {
    spdlog::info("aggregator started ingest={} broadcast={} http={} state={} sequence={} active_bans={} insecure={}",
                 config_.ingest, config_.broadcast, config_.http.empty() ? "off" : config_.http,
                 redacted_url(config_.state.string()), state_.sequence(), state_.active_count(),
                 config_.security.insecure);
    common::batch_log_lines();
    common::notify_ready();
    auto next_heartbeat = Clock::now();
    while (!signals_.stop.load()) {
      if (signals_.reload.exchange(false)) {
        reload_policy();
        if (sockets_.reload_keys()) broadcast_.rebind();
        if (!sockets_.insecure()) hosts_.set_admitted(sockets_.admitted());
      }
      if (!sockets_.authenticator_alive()) {
        throw common::RuntimeError("the ZAP authenticator died: stopping rather than letting every key in");
      }
      // Renewed every second; a member that lost it (paused, cut off) stops here, before a heartbeat.
      if (lease_) lease_->keep();
      auto now = Clock::now();
      if (now >= next_heartbeat) {
        if (heartbeats_.due(state_.sequence())) broadcast_.heartbeat(state_.sequence(), incarnation_);
        next_heartbeat = now + kHeartbeatInterval;
      }
      auto wait = std::min<Clock::duration>(next_heartbeat - now, kMaxPollWait);
      if (auto expiry = state_.next_expiry()) {
        auto until = std::chrono::system_clock::time_point(*expiry) - std::chrono::system_clock::now();
        wait = std::min<Clock::duration>(wait, std::max<Clock::duration>(until, Clock::duration::zero()));
      }
      // The view's wake fd: an HTTP reader waiting for a page is answered this turn, not the next poll's end.
      std::array<zmq::pollitem_t, 3> items{{{ingest_.handle(), 0, ZMQ_POLLIN, 0},
                                            {broadcast_.monitor_events().handle(), 0, ZMQ_POLLIN, 0},
                                            {nullptr, view_.wake_fd(), ZMQ_POLLIN, 0}}};
      common::poll_for(items.data(), items.size(), std::chrono::duration_cast<std::chrono::milliseconds>(wait));
      if ((items[1].revents & ZMQ_POLLIN) != 0) broadcast_.count_subscribers();
      if (auto failure = sockets_.handshake_failure()) {
        step_.reject(server::RejectReason::identity, "handshake_failed reason=\"" + *failure + "\"");
      }
      process_batch();
      view_.publish_if_requested(state_);
      summary_.step(state_, geoip_.get(), common::now_seconds());
      view_.hosts().answer_if_asked(hosts_, state_.sequence(), common::now_seconds());
      common::flush_log();
    }
    common::notify_stopping();
    spdlog::info("aggregator stopping sequence={}", state_.sequence());
    common::flush_log();
  }

 private:
  void load() {
    // A large state takes seconds to read from PostgreSQL, longer than the lease's term: the lease
    // is renewed from another thread meanwhile (aggregator/lease_keeper.hpp).
    LeaseKeeper keeper(lease_);
    state_ = FleetState(config_.policy);
    state_.set_own_addresses(own_addresses_);
    // Records go straight into the state as they are read: a million decoded copies at once would
    // stay in the heap as fragments long after.
    StoredState stored = store_->load([&](const FleetRecord& record) { state_.restore(record); });
    state_.resume_sequence(stored.sequence);
    // The policy may have changed while the aggregator was down (or this is a reload after a
    // failed commit): what it covers now ends with the next batch.
    step_.add_ended(state_.end_disallowed(common::now_seconds()));
    incarnation_ = stored.incarnation;
    view_.set_version({incarnation_, state_.sequence()});
    hosts_.set_incarnation(incarnation_);
    if (!sockets_.insecure()) hosts_.set_admitted(sockets_.admitted());
    for (const auto& [key, at] : stored.last_events) hosts_.restore_last_event(key, at);
    seen_.clear();
    seen_.reserve(stored.seen_events.size());
    for (const auto& id : stored.seen_events) seen_.insert(id);
    update_gauges();
    keeper.finish();
  }

  void reload_policy() {
    try {
      AggregatorConfig fresh = load_aggregator_config(config_file_, flags_);
      find_own_addresses();  // the interfaces may have changed too
      state_.set_own_addresses(own_addresses_);
      state_.set_policy(fresh.policy);
      step_.add_ended(state_.end_disallowed(common::now_seconds()));
      admission_.set_event_rate(fresh.policy.max_events_per_second);
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

  void update_gauges() {
    metrics_.active_bans = state_.active_count();
    metrics_.records = state_.record_count();
    metrics_.last_sequence = state_.sequence();
    metrics_.reporters = step_.reporters();
  }

  void process_batch() {
    const bool trace = common::tracing();
    const std::int64_t received_us = trace ? common::trace_clock_us() : 0;
    const auto now = common::now_seconds();
    receive();
    Batch batch = step_.finish(now);
    // The batch's lines are written before its commit, so every decision on disk is in the log too.
    common::flush_log();
    const std::int64_t logged_us = trace ? common::trace_clock_us() : 0;
    if (!commit(batch, now)) {
      routes_.clear();
      return;
    }
    // A member that was stopped between its commit and here may have lost the lease meanwhile:
    // what it committed is durable and the next member has it, but this one says nothing more.
    if (lease_) lease_->check();
    const std::int64_t committed_us = trace ? common::trace_clock_us() : 0;
    // Before any ack or broadcast: a client that hears of a change must never get the old ETag.
    view_.set_version({incarnation_, state_.sequence()});
    for (const auto& decision : batch.changes) broadcast_.send(decision);
    const std::int64_t broadcast_us = trace ? common::trace_clock_us() : 0;
    for (const auto& routed : batch.acks) snapshots_.send(routes_[routed.route], common::Reply{routed.ack});
    for (const auto& query : batch.queries) answer(query);
    routes_.clear();
    update_gauges();
    // After the acks, so tracing delays nothing of this batch (docs/ARCHITECTURE.md, tracing).
    if (trace) {
      for (const auto& d : batch.changes) {
        spdlog::debug("trace seq={} received_us={} logged_us={} committed_us={} broadcast_us={}", d.sequence,
                      received_us, logged_us, committed_us, broadcast_us);
      }
    }
  }

  // Takes every message waiting (up to kMaxBatch) into the step; the connection to answer on is
  // kept in routes_ (a message's route is its index there).
  void receive() {
    server::read_router(
        ingest_, kMaxBatch,
        [this](zmq::message_t&& identity, zmq::message_t&& payload) {
          step_.take(routes_.size(), payload.to_string_view(), server::sender_of(payload, config_.security.insecure));
          routes_.push_back(std::move(identity));
        },
        [this] { step_.reject(server::RejectReason::frames, "rejected_input reason=\"too many frames\""); });
  }

  bool commit(Batch& batch, common::UnixSeconds now) {
    bool prune_ids = now >= next_id_prune_;
    if (batch.new_ids.empty() && !state_.has_changes() && !state_.has_history() && !prune_ids) return true;
    auto started = Clock::now();
    try {
      store_->begin();
      for (const auto& id : batch.new_ids) store_->mark_seen(id, now);
      state_.take_forgotten([&](const common::IpPrefix& prefix) { store_->erase(prefix); });
      state_.take_changes([&](const FleetRecord& record) { store_->put(record); });
      hosts_.take_changed_events(
          [&](const std::string& key, common::UnixSeconds at) { store_->put_last_event(key, at); });
      state_.take_history([&](const common::IpPrefix& p, const common::HistoryEntry& e) { store_->add_history(p, e); });
      store_->prune_history(now - config_.policy.forget_after);
      if (prune_ids) {
        // On a failed commit load() reads the ids back from disk: erasing them early is safe.
        for (const auto& id : store_->take_events_before(now - config_.policy.forget_after)) seen_.erase(id);
      }
      store_->set_sequence(state_.sequence());
      store_->commit();
    } catch (const LeadershipLost&) {
      throw;  // another member is active: this one stops (run_aggregator)
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

  void answer(const RoutedQuery& query) {
    const zmq::message_t& identity = routes_[query.route];
    if (const auto* snapshot = std::get_if<common::SnapshotRequest>(&query.request)) {
      snapshots_.serve(identity, *snapshot, state_.sequence(), incarnation_,
                       [&](const std::function<bool(Decision &&)>& take) {
                         // Seconds with a million bans on a busy machine: the lease is renewed on the way.
                         auto taking = renewing_on_the_way<Decision>(lease_, take);
                         if (!snapshot->with_geo) return state_.for_each_active(taking);
                         // `fleetban list`: each decision with its country and network (GeoIP).
                         state_.for_each_active([&](Decision&& d) {
                           d.geo = geoip_->tag(d.prefix);
                           return taking(std::move(d));
                         });
                       });
      return;
    }
    if (const auto* hosts = std::get_if<common::HostsRequest>(&query.request)) {
      const auto now = common::now_seconds();
      snapshots_.send(identity,
                      common::Reply{common::Hosts{hosts->request_id, now, state_.sequence(), hosts_.entries(now)}});
      return;
    }
    if (const auto* history = std::get_if<common::HistoryRequest>(&query.request)) {
      // `fleetban show`: read on the reader's own connection, after this turn's commit.
      auto read = history_reader_->read(history->prefix);
      if (!read)
        return spdlog::error("history_unreadable ip={} error=\"{}\"", history->prefix.to_string(), read.error());
      snapshots_.send(identity, common::Reply{common::HistoryReply{history->request_id, std::move(*read)}});
      return;
    }
    common::Status status{.request_id = std::get<common::StatusRequest>(query.request).request_id};
    status.sequence = state_.sequence();
    status.incarnation = incarnation_;
    status.active_bans = state_.active_count();
    status.reporters = step_.reporters();
    status.subscribers = metrics_.subscribers.load();
    status.started_at = started_at_;
    if (lease_) {
      status.member = lease_->member();
      status.epoch = static_cast<std::uint64_t>(lease_->epoch());
      status.active_since = lease_->since();
    }
    snapshots_.send(identity, common::Reply{status});
  }

  AggregatorConfig config_;
  StopSignals& signals_;
  std::optional<std::filesystem::path> config_file_;
  common::FlagOverrides flags_;
  Metrics metrics_;
  std::unique_ptr<StateStore> store_;
  Lease* lease_;  // the HA group's lease this member holds (PostgreSQL state), or nullptr
  std::unique_ptr<HistoryReader> history_reader_;  // the loop's, for HistoryRequests (the HTTP server has its own)
  FleetState state_;
  EventIdSet seen_;
  HostTable hosts_;
  zmq::context_t context_{server::server_io_threads()};
  server::ServerSockets sockets_;
  server::Admission admission_;
  BatchStep step_;
  zmq::socket_t ingest_;
  server::BroadcastChannel broadcast_;
  HeartbeatSchedule heartbeats_;
  server::RateLimitedLog throttled_;  // the snapshot server's
  server::SnapshotServer snapshots_;
  std::vector<zmq::message_t> routes_;  // this turn's connections, by route
  std::string incarnation_;
  std::vector<common::IpPrefix> own_addresses_;
  common::UnixSeconds started_at_ = common::now_seconds();
  common::UnixSeconds next_id_prune_{};  // when commit() next drops applied ids older than forget_after
  StateView view_;
  SummaryKeeper summary_;  // the dashboard's chart and top lists
  std::shared_ptr<const GeoIp> geoip_ = std::make_shared<const GeoIp>(config_.geoip_country_db, config_.geoip_asn_db);
  std::unique_ptr<HttpServer> http_;
};

// A member of an HA group that does not hold the lease: it binds neither ingest nor broadcast,
// serves /healthz and /metrics (503 for the rest) when `http` is set, and takes the lease once it
// has lapsed. Returns false when stopped while waiting.
bool wait_for_lease(const AggregatorConfig& config, StopSignals& signals, Lease& lease) {
  if (lease.try_take()) return true;
  Metrics metrics;
  metrics.ha_role = Metrics::HaRole::waiting;
  StateView view;
  std::unique_ptr<HttpServer> http;
  if (!config.http.empty()) http = std::make_unique<HttpServer>(config.http, view, metrics, config.http_auth_file);
  common::notify_ready();
  std::string seen_holder;
  while (!signals.stop.load()) {
    try {
      auto holder = lease.holder();
      metrics.ha_epoch = holder.epoch;
      metrics.ha_since = common::to_unix(holder.since);
      if (holder.member != seen_holder) {
        spdlog::info("ha_waiting member={} active={} epoch={} since={}", lease.member(), holder.member, holder.epoch,
                     common::to_unix(holder.since));
        seen_holder = holder.member;
      }
      if (holder.lapsed && lease.try_take()) return true;
    } catch (const LeadershipLost&) {
      throw;
    } catch (const common::RuntimeError& e) {
      spdlog::warn("ha_lease_unreadable error=\"{}\"", e.what());  // the database may come back: keep waiting
    }
    common::flush_log();
    for (auto until = std::chrono::steady_clock::now() + Lease::kPollEvery;
         !signals.stop.load() && std::chrono::steady_clock::now() < until;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return false;
}

}  // namespace

void run_aggregator(const AggregatorConfig& config, StopSignals& signals,
                    const std::optional<std::filesystem::path>& config_file, const common::FlagOverrides& flags) {
  const auto forget_before = common::now_seconds() - config.policy.forget_after;
  if (!is_postgres_url(config.state.string())) {
    open_state_store(config.state)->forget_events_before(forget_before);
    Service service(config, signals, config_file, flags, open_state_store(config.state));
    service.run();
    return;
  }
  // PostgreSQL state: a member of an HA group (of one, or more), active only while it holds the
  // lease, every commit fenced by its epoch. The store first: it creates the lease's table.
  auto store = std::make_unique<PostgresStore>(config.state.string());
  Lease lease(config.state.string(), this_member());
  if (!wait_for_lease(config, signals, lease)) return;
  spdlog::info("ha_active member={} epoch={}", lease.member(), lease.epoch());
  try {
    store->fence(lease.epoch());
    store->forget_events_before(forget_before);
    Service service(config, signals, config_file, flags, std::move(store), &lease);
    service.run();
    lease.release();
  } catch (const LeadershipLost& e) {
    // Nothing more is acked or broadcast; systemd starts this member again, as a waiting one.
    spdlog::error("ha_leadership_lost member={} epoch={} error=\"{}\"", lease.member(), lease.epoch(), e.what());
    common::flush_log();
    throw;
  }
}

}  // namespace fleetban::aggregator
