#include "relay/relay.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <zmq.hpp>

#include "common/codec.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "common/poll.hpp"
#include "common/socket_factory.hpp"
#include "common/systemd_notify.hpp"
#include "common/time.hpp"
#include "relay/live_copy.hpp"
#include "relay/pending_replies.hpp"
#include "relay/relay_http.hpp"
#include "relay/relay_metrics.hpp"
#include "relay/upstream_follower.hpp"
#include "relay/upstream_silence.hpp"
#include "server/admission.hpp"
#include "server/broadcast_channel.hpp"
#include "server/peer_identity.hpp"
#include "server/rate_limited_log.hpp"
#include "server/router_reader.hpp"
#include "server/server_sockets.hpp"
#include "server/snapshot_server.hpp"

namespace fleetban::relay {

namespace {

using Clock = std::chrono::steady_clock;
using server::RejectReason;

constexpr std::size_t kMaxBatch = 4096;                        // messages read from one socket per turn
constexpr auto kMaxPollWait = std::chrono::milliseconds(200);  // how soon a signal is noticed
// The relay is in step with its upstream while a heartbeat or a decision came within this (three
// missed heartbeats, as the Clone client counts them).
constexpr auto kUpstreamSilence = common::CloneClient::kMissedHeartbeats * common::CloneClient::kHeartbeatInterval;
// Events per second per reporter before the relay answers THROTTLED itself: well above the
// aggregator's default, so it is the aggregator's `max_events_per_second` that normally decides;
// this only keeps one flooding host from filling the relay's one upstream queue for all the others.
constexpr unsigned kEventsPerReporterPerSecond = 1000;

// Snapshot and status requests held until the first snapshot from upstream: how many, how long.
constexpr std::size_t kDeferredMax = 10'000;
constexpr auto kDeferredFor = common::CloneClient::kSnapshotTimeout;

// A status answered here carries what only the aggregator knows (the hosts that reported, an HA
// group's active member) from upstream's own status: taken again when older than kFresh, asked
// for at most once per kWait, and a status request waits at most kWait for it.
constexpr auto kUpstreamStatusFresh = std::chrono::seconds(5);
constexpr auto kUpstreamStatusWait = std::chrono::seconds(1);

std::string as_key(const common::EventId& id) { return std::string(id.begin(), id.end()); }

class Relay {
 public:
  Relay(const RelayConfig& config, RelaySignals& signals)
      : config_(config),
        signals_(signals),
        upstream_sockets_(context_, config.upstream_security),
        sockets_(context_, config.serving),
        admission_(
            config.serving.insecure, [this](const server::PeerIdentity& peer) { return sockets_.admits(peer); },
            kEventsPerReporterPerSecond,
            [this](server::PeerRole role, const std::string& name) { return sockets_.admits_name(role, name); }),
        ingest_(sockets_.ingest(config.ingest)),
        broadcast_(context_, sockets_, config.broadcast, metrics_),
        snapshots_(ingest_, metrics_, rejected_),
        follower_(context_, config.upstream_security, config.upstream, config.upstream_broadcast) {
    if (!config.http.empty()) http_ = std::make_unique<RelayHttp>(config.http, metrics_);
    connect_upstream(follower_.followed());
  }

  void run() {
    spdlog::info("relay started ingest={} broadcast={} upstream={} http={} insecure={}", config_.ingest,
                 config_.broadcast, fmt::join(config_.upstream, ","), config_.http.empty() ? "off" : config_.http,
                 config_.serving.insecure);
    common::notify_ready();
    while (!signals_.stop.load()) {
      if (signals_.reload.exchange(false)) {
        if (sockets_.reload_keys()) broadcast_.rebind();
      }
      if (!sockets_.authenticator_alive()) {
        throw common::RuntimeError("the ZAP authenticator died: stopping rather than letting every key in");
      }
      if (!follower_.alive()) throw common::RuntimeError("the upstream follower stopped");
      std::array<zmq::pollitem_t, 4> items{{{ingest_.handle(), 0, ZMQ_POLLIN, 0},
                                            {upstream_.handle(), 0, ZMQ_POLLIN, 0},
                                            {broadcast_.monitor_events().handle(), 0, ZMQ_POLLIN, 0},
                                            {nullptr, follower_.wake_fd(), ZMQ_POLLIN, 0}}};
      common::poll_for(items.data(), items.size(), kMaxPollWait);
      if ((items[2].revents & ZMQ_POLLIN) != 0) broadcast_.count_subscribers();
      if (auto failure = sockets_.handshake_failure()) {
        reject(RejectReason::identity, "handshake_failed reason=\"" + *failure + "\"");
      }
      // Upstream first: a snapshot asked for this turn then holds what was broadcast before it.
      take_upstream();
      hold_hosts();
      receive_replies();
      receive_requests();
      answer_deferred();
      pending_.expire();
      update_gauges();
      common::flush_log();
    }
    common::notify_stopping();
    spdlog::info("relay stopping sequence={}", copy_.sequence());
    common::flush_log();
  }

 private:
  void reject(RejectReason reason, const std::string& message) {
    metrics_.count_rejected(reason);
    rejected_.warn(message);
  }

  // The forwarding DEALER follows the upstream the Clone client follows: an HA group's active
  // member, or the next relay of the list once one went silent. What was in flight on the old one
  // is not acked: its publishers spool it and it comes again.
  void connect_upstream(const std::string& endpoint) {
    if (endpoint == forwarding_to_) return;
    if (!forwarding_to_.empty()) spdlog::info("forwarding_to upstream={}", endpoint);
    upstream_sockets_.release(upstream_);
    upstream_ = upstream_sockets_.ingest(endpoint);
    forwarding_to_ = endpoint;
    upstream_status_.reset();  // another member or relay: what the last one said is not its
    status_asked_at_ = {};
  }

  // What the follower brought: snapshots replace the live copy, decisions update it and go out on
  // the broadcast as they came, heartbeats go out with the copy's sequence (which has reached the
  // heartbeat's: the Clone client hands a heartbeat on only in step).
  void take_upstream() {
    for (auto& update : follower_.take()) {
      if (update.snapshot) {
        copy_.replace(update.snapshot->sequence, update.snapshot->incarnation, std::move(update.snapshot->decisions));
        spdlog::info("live_copy sequence={} incarnation_changed={} active={}", copy_.sequence(),
                     copy_.incarnation() != last_incarnation_, copy_.active());
        last_incarnation_ = copy_.incarnation();
      }
      for (const auto& decision : update.decisions) {
        copy_.apply(decision);
        broadcast_.send(decision);
      }
      // Decisions say upstream is there as well as heartbeats do: the aggregator skips heartbeats
      // while decisions go out (aggregator/heartbeat_schedule.hpp).
      if (copy_.ready() && (update.heartbeat || !update.decisions.empty())) last_heard_ = Clock::now();
      if (update.heartbeat && copy_.ready()) broadcast_.heartbeat(copy_.sequence(), copy_.incarnation());
    }
    connect_upstream(follower_.followed());
  }

  // While upstream is silent, heartbeats of the relay's own keep its hosts (upstream_silence.hpp).
  void hold_hosts() {
    if (!copy_.ready()) return;
    const auto now = Clock::now();
    switch (silence_.step(now, last_heard_)) {
      case UpstreamSilence::Step::none: return;
      case UpstreamSilence::Step::first:
        spdlog::warn(
            "upstream_silent upstream={}; sending heartbeats of the relay's own (sequence={}) for up to {} s "
            "so that its hosts stay",
            forwarding_to_, copy_.sequence(), UpstreamSilence::kHoldHostsFor.count());
        break;
      case UpstreamSilence::Step::send: break;
      case UpstreamSilence::Step::stop_holding:
        spdlog::warn("upstream_silent upstream={} seconds={}; no more heartbeats of the relay's own: its hosts move on",
                     forwarding_to_, UpstreamSilence::kHoldHostsFor.count());
        return;
    }
    broadcast_.heartbeat(copy_.sequence(), copy_.incarnation());
  }

  // Acks and replies from upstream, each to the connections that wait for it.
  void receive_replies() {
    zmq::message_t frame;
    for (std::size_t n = 0; n < kMaxBatch && upstream_.recv(frame, zmq::recv_flags::dontwait); ++n) {
      auto reply = common::decode_reply(frame.to_string_view());
      if (!reply) {
        spdlog::warn("upstream_reply_rejected reason=\"{}\"", reply.error());
        continue;
      }
      if (auto* ack = std::get_if<common::Ack>(&*reply)) {
        for (const auto& waiter : pending_.take(as_key(ack->event_id))) {
          if (reply_to(waiter.route, *reply)) metrics_.acks_returned.fetch_add(1, std::memory_order_relaxed);
        }
      } else if (auto* hosts = std::get_if<common::Hosts>(&*reply)) {
        pass_back(hosts->request_id, *reply);
      } else if (auto* history = std::get_if<common::HistoryReply>(&*reply)) {
        pass_back(history->request_id, *reply);
      } else if (auto* status = std::get_if<common::Status>(&*reply)) {
        if (status->request_id == status_asked_id_) upstream_status_ = UpstreamStatus{std::move(*status), Clock::now()};
      }
      // Snapshot chunks are the follower's business, on its own connection.
    }
  }

  // A reply to a query forwarded under a request id of the relay's own (`id`, a field of `reply`):
  // to each waiter, under the id it asked with.
  void pass_back(std::string& id, const common::Reply& reply) {
    for (const auto& waiter : pending_.take(id)) {
      id = waiter.original_id;
      reply_to(waiter.route, reply);
    }
  }

  bool reply_to(const std::string& route, const common::Reply& reply) {
    return snapshots_.send(zmq::message_t(route.data(), route.size()), reply);
  }

  // What hosts, operators and downstream relays sent on ingest.
  void receive_requests() {
    server::read_router(
        ingest_, kMaxBatch,
        [this](zmq::message_t&& identity, zmq::message_t&& payload) {
          handle(identity, payload.to_string_view(), server::sender_of(payload, config_.serving.insecure));
        },
        [this] { reject(RejectReason::frames, "rejected_input reason=\"too many frames\""); });
  }

  void handle(const zmq::message_t& identity, std::string_view payload, const server::Sender& sender) {
    auto request = common::decode_request(payload);
    if (!request) {
      reject(RejectReason::malformed, "rejected_input reason=\"" + request.error() + "\"");
      if (auto id = common::event_id_of_request(payload)) {
        reply_to(identity.to_string(), common::Reply{common::Ack{*id, common::AckOutcome::refused, request.error()}});
      }
      return;
    }
    if (auto* event = std::get_if<common::Event>(&*request)) return forward_event(identity, std::move(*event), sender);
    if (auto refusal = admission_.admit_query(sender, *request, Clock::now(), copy_.active())) {
      return reject(refusal->reason, query_log_line(*refusal, sender));
    }
    const auto* report = std::get_if<common::HostReport>(&*request);
    if (std::holds_alternative<common::SnapshotRequest>(*request) ||
        std::holds_alternative<common::StatusRequest>(*request)) {
      return answer_from_copy(identity.to_string(), std::move(*request));
    }
    if (report != nullptr) return forward_report(*report, sender);
    if (auto* hosts = std::get_if<common::HostsRequest>(&*request)) {
      std::string original = std::move(hosts->request_id);
      hosts->request_id = next_request_id();
      std::string relay_id = hosts->request_id;  // a copy: the request is moved into its envelope below
      return forward_query(identity, std::move(relay_id), std::move(original), common::Request{std::move(*hosts)});
    }
    auto& history = std::get<common::HistoryRequest>(*request);
    std::string original = std::move(history.request_id);
    history.request_id = next_request_id();
    std::string relay_id = history.request_id;
    forward_query(identity, std::move(relay_id), std::move(original), common::Request{std::move(history)});
  }

  // Admitted here, the event goes upstream with the name admitted (and, for an operator's key, as
  // an operator action): the upstream takes it as vouched for by this relay's key. Its ack comes
  // back to this connection; until then nothing is acked (a refusal here is final, as upstream).
  void forward_event(const zmq::message_t& identity, common::Event event, const server::Sender& sender) {
    auto refuse = [&](common::AckOutcome outcome, RejectReason reason, const std::string& why) {
      reject(reason,
             fmt::format("event_refused host={} ip={} reason=\"{}\"", event.host_id, event.prefix.to_string(), why));
      reply_to(identity.to_string(), common::Reply{common::Ack{event.id, outcome, why}});
    };
    if (auto refusal = admission_.admit_event(sender, event)) {
      return refuse(common::AckOutcome::refused, refusal->reason, refusal->why);
    }
    if (!admission_.event_within_share(event.host_id, Clock::now())) {
      return refuse(common::AckOutcome::throttled, RejectReason::rate_limited,
                    fmt::format("over {} events a second through this relay", kEventsPerReporterPerSecond));
    }
    // Without a connection upstream (ZMQ_IMMEDIATE) or with its queue full the send fails: no ack
    // comes, and the publisher spools the event as in any outage.
    if (!upstream_.send(zmq::buffer(common::encode(common::Request{event})), zmq::send_flags::dontwait)) {
      spdlog::debug("event_not_forwarded ip={} reason=\"no upstream connection\"", event.prefix.to_string());
      return;
    }
    pending_.expect(as_key(event.id), {identity.to_string(), {}});
    metrics_.events_forwarded.fetch_add(1, std::memory_order_relaxed);
  }

  void forward_report(const common::HostReport& report, const server::Sender& sender) {
    if (auto refusal = admission_.admit_report(sender, report.host_id)) {
      return reject(refusal->reason, fmt::format("host_report_refused key={} reason=\"{}\"",
                                                 sender.peer ? sender.peer->name : "?", refusal->why));
    }
    // Dropped when upstream cannot take it now: the host reports again within 5 s.
    (void)upstream_.send(zmq::buffer(common::encode(common::Request{report})), zmq::send_flags::dontwait);
  }

  void forward_query(const zmq::message_t& identity, std::string relay_id, std::string original,
                     const common::Request& request) {
    if (!upstream_.send(zmq::buffer(common::encode(request)), zmq::send_flags::dontwait)) return;
    pending_.expect(relay_id, {identity.to_string(), std::move(original)});
  }

  // A snapshot or status request. Before the first snapshot from upstream there is nothing to
  // answer with: it waits (kDeferredMax of them, each kDeferredFor at most: a client gives up
  // after its own timeout) and is answered as soon as the copy is there.
  // A status request also waits (kUpstreamStatusWait at most) for a fresh status from upstream.
  void answer_from_copy(std::string route, common::Request request, Clock::time_point since = Clock::now()) {
    if (!copy_.ready() || (std::holds_alternative<common::StatusRequest>(request) && !status_ready(since))) {
      if (deferred_.size() >= kDeferredMax) deferred_.pop_front();
      deferred_.push_back({std::move(route), std::move(request), since});
      return;
    }
    const zmq::message_t identity(route.data(), route.size());
    if (auto* snapshot = std::get_if<common::SnapshotRequest>(&request)) return serve_snapshot(identity, *snapshot);
    answer_status(identity, std::get<common::StatusRequest>(request));
  }

  void answer_deferred() {
    if (!copy_.ready()) {
      while (!deferred_.empty() && Clock::now() - deferred_.front().since > kDeferredFor) deferred_.pop_front();
      return;
    }
    auto waiting = std::move(deferred_);
    deferred_.clear();
    for (auto& query : waiting) {
      if (Clock::now() - query.since <= kDeferredFor)
        answer_from_copy(std::move(query.route), std::move(query.request), query.since);
    }
  }

  // Whether a status asked at `since` is answered now: upstream's part is fresh, or it was waited
  // for long enough (then the last one upstream gave, if any). Otherwise upstream is asked.
  bool status_ready(Clock::time_point since) {
    const auto now = Clock::now();
    if (upstream_status_ && now - upstream_status_->at < kUpstreamStatusFresh) return true;
    if (now - since >= kUpstreamStatusWait) return true;
    if (now - status_asked_at_ >= kUpstreamStatusWait) {  // none in flight, or it went unanswered
      status_asked_id_ = next_request_id();
      const auto request = common::encode(common::Request{common::StatusRequest{.request_id = status_asked_id_}});
      if (upstream_.send(zmq::buffer(request), zmq::send_flags::dontwait)) status_asked_at_ = now;
    }
    return false;
  }

  void serve_snapshot(const zmq::message_t& identity, const common::SnapshotRequest& request) {
    // `with_geo` is not served here (the relay has no GeoIP): the decisions come without it.
    snapshots_.serve(identity, request, copy_.sequence(), copy_.incarnation(),
                     [this](const std::function<bool(common::Decision &&)>& take) { copy_.for_each_active(take); });
  }

  void answer_status(const zmq::message_t& identity, const common::StatusRequest& request) {
    common::Status status{.request_id = request.request_id};
    status.sequence = copy_.sequence();
    status.incarnation = copy_.incarnation();
    status.active_bans = copy_.active();
    status.subscribers = metrics_.subscribers.load();
    status.started_at = started_at_;
    if (upstream_status_) {
      const common::Status& fleet = upstream_status_->status;
      status.reporters = fleet.reporters;
      status.member = fleet.member;
      status.epoch = fleet.epoch;
      status.active_since = fleet.active_since;
    }
    reply_to(identity.to_string(), common::Reply{status});
  }

  std::string next_request_id() { return fmt::format("relay-{:x}", ++request_counter_); }

  void update_gauges() {
    metrics_.upstream_connected = copy_.ready() && Clock::now() - last_heard_ <= kUpstreamSilence;
    metrics_.sequence = copy_.sequence();
    metrics_.active_bans = copy_.active();
    metrics_.pending_replies = pending_.size();
  }

  RelayConfig config_;
  RelaySignals& signals_;
  RelayMetrics metrics_;
  zmq::context_t context_{server::server_io_threads()};
  common::ClientSockets upstream_sockets_;  // the loop's: the forwarding DEALER (the follower has its own)
  server::ServerSockets sockets_;
  server::Admission admission_;
  zmq::socket_t ingest_;
  server::BroadcastChannel broadcast_;
  server::RateLimitedLog rejected_;
  server::SnapshotServer snapshots_;
  LiveCopy copy_;
  std::string last_incarnation_;
  PendingReplies pending_;
  struct Deferred {
    std::string route;
    common::Request request;  // a SnapshotRequest or a StatusRequest
    Clock::time_point since;
  };
  std::deque<Deferred> deferred_;  // asked before the live copy (or, for a status, upstream's) was there
  struct UpstreamStatus {
    common::Status status;
    Clock::time_point at;
  };
  std::optional<UpstreamStatus> upstream_status_;
  std::string status_asked_id_;
  Clock::time_point status_asked_at_{};
  std::uint64_t request_counter_ = 0;
  std::string forwarding_to_;
  zmq::socket_t upstream_;
  Clock::time_point last_heard_{};  // a heartbeat or decision from upstream
  UpstreamSilence silence_;
  common::UnixSeconds started_at_ = common::now_seconds();
  UpstreamFollower follower_;  // after what it feeds; it is stopped first
  std::unique_ptr<RelayHttp> http_;
};

}  // namespace

void run_relay(const RelayConfig& config, RelaySignals& signals) { Relay(config, signals).run(); }

}  // namespace fleetban::relay
