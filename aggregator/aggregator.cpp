#include "aggregator/aggregator.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <unordered_set>
#include <zmq.hpp>

#include "aggregator/fleet_state.hpp"
#include "aggregator/store.hpp"
#include "common/codec.hpp"
#include "common/errors.hpp"
#include "common/socket_factory.hpp"
#include "common/systemd_notify.hpp"

namespace fleetban::aggregator {

namespace {

using common::Decision;
using common::EventId;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxBatch = 4096;            // events taken into one transaction
constexpr std::size_t kSnapshotChunk = 10'000;     // decisions per snapshot message
constexpr auto kHeartbeatInterval = std::chrono::seconds(1);
constexpr auto kMaxPollWait = std::chrono::milliseconds(200);  // how soon a signal is noticed
constexpr auto kForgetEventsAfter = std::chrono::hours(24 * 30);

struct EventIdHash {
  std::size_t operator()(const EventId& id) const noexcept {
    std::size_t h;
    std::memcpy(&h, id.data(), sizeof h);  // ids are random: any 8 bytes are a good hash
    return h;
  }
};

// Logs at most a few lines per interval for one kind of bad input, then a count of the rest.
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

struct PendingAck {
  zmq::message_t identity;
  common::Ack ack;
};

struct PendingSnapshot {
  zmq::message_t identity;
  std::string request_id;
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
        sockets_(context_, config.security),
        ingest_(sockets_.ingest(config.ingest)),
        broadcast_(sockets_.broadcast(config.broadcast)) {
    load();
  }

  void run() {
    spdlog::info("aggregator started ingest={} broadcast={} state={} sequence={} active_bans={}", config_.ingest,
                 config_.broadcast, config_.state.string(), state_.sequence(), state_.active_count());
    common::notify_ready();
    auto next_heartbeat = Clock::now();
    while (!signals_.stop.load()) {
      if (signals_.reload.exchange(false)) {
        reload_policy();
        sockets_.reload_keys();
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
      zmq::pollitem_t item{ingest_.handle(), 0, ZMQ_POLLIN, 0};
      try {
        zmq::poll(&item, 1, std::chrono::duration_cast<std::chrono::milliseconds>(wait));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
      }
      process_batch();
    }
    common::notify_stopping();
    spdlog::info("aggregator stopping sequence={}", state_.sequence());
  }

 private:
  void load() {
    StoredState stored = store_.load();
    incarnation_ = stored.incarnation;
    state_ = FleetState(config_.policy, stored.sequence);
    for (auto& record : stored.records) state_.restore(std::move(record));
    seen_.clear();
    seen_.insert(stored.seen_events.begin(), stored.seen_events.end());
  }

  void reload_policy() {
    try {
      AggregatorConfig fresh = load_aggregator_config(config_file_, flags_);
      state_.set_policy(fresh.policy);
      config_.policy = fresh.policy;
      spdlog::info("policy reloaded");
    } catch (const std::exception& e) {
      spdlog::error("policy not reloaded, keeping the old one: {}", e.what());
    }
  }

  // Takes every message waiting (up to kMaxBatch), applies the events, commits once, then acks,
  // broadcasts and answers snapshot requests, in that order: nothing is acked or broadcast before
  // it is durable, and a snapshot always includes what was broadcast before it.
  void process_batch() {
    std::vector<PendingAck> acks;
    std::vector<PendingSnapshot> snapshots;
    std::vector<Decision> changes;
    std::vector<common::IpPrefix> dirty_prefixes;
    std::vector<EventId> new_ids;
    auto now = common::now_seconds();

    for (std::size_t n = 0; n < kMaxBatch; ++n) {
      zmq::message_t identity;
      if (!ingest_.recv(identity, zmq::recv_flags::dontwait)) break;
      if (!identity.more()) continue;
      zmq::message_t payload;
      if (!ingest_.recv(payload, zmq::recv_flags::dontwait)) continue;
      if (payload.more()) {
        drain_frames();
        rejected_.warn("rejected_input reason=\"too many frames\"");
        continue;
      }
      auto request = common::decode_request(payload.to_string_view());
      if (!request) {
        rejected_.warn("rejected_input reason=\"" + request.error() + "\"");
        continue;
      }
      if (auto* snapshot = std::get_if<common::SnapshotRequest>(&*request)) {
        snapshots.push_back({std::move(identity), snapshot->request_id});
        continue;
      }
      const auto& event = std::get<common::Event>(*request);
      common::Ack ack{.event_id = event.id};
      if (auto refusal = check_identity(payload, event)) {
        ack.outcome = common::AckOutcome::refused;
        ack.reason = *refusal;
        rejected_.warn(fmt::format("rejected_input reason=\"{}\" host_id={}", *refusal, event.host_id));
      } else if (seen_.contains(event.id)) {
        ack.outcome = common::AckOutcome::duplicate;
      } else {
        ApplyResult result = state_.apply(event, now);
        seen_.insert(event.id);
        new_ids.push_back(event.id);
        if (result.refused) {
          ack.outcome = common::AckOutcome::refused;
          ack.reason = *result.refused;
          rejected_.warn(fmt::format("event_refused host={} ip={} reason=\"{}\"", event.host_id,
                                      event.prefix.to_string(), *result.refused));
        }
        if (result.record_changed) dirty_prefixes.push_back(event.prefix);
        if (result.change) {
          spdlog::info("decision seq={} ip={} active={} host={} jail={} kind={}", result.change->sequence,
                       event.prefix.to_string(), result.change->active, event.host_id, event.jail,
                       event.kind == common::EventKind::ban ? "ban" : "unban");
          changes.push_back(std::move(*result.change));
        }
      }
      acks.push_back({std::move(identity), std::move(ack)});
    }
    for (auto& ended : state_.expire(now)) {
      spdlog::info("decision seq={} ip={} active=false expired", ended.sequence, ended.prefix.to_string());
      dirty_prefixes.push_back(ended.prefix);
      changes.push_back(std::move(ended));
    }

    if (!new_ids.empty() || !dirty_prefixes.empty()) {
      try {
        store_.begin();
        for (const auto& id : new_ids) store_.mark_seen(id, now);
        for (const auto& prefix : dirty_prefixes) store_.put(*state_.find(prefix));
        store_.set_sequence(state_.sequence());
        store_.commit();
      } catch (const std::exception& e) {
        // Nothing of this batch is durable: ack nothing, broadcast nothing, and go back to what
        // the disk holds. Clients retry from their spools.
        spdlog::error("commit_failed events={} error=\"{}\"; no acks sent, state reloaded from disk",
                      new_ids.size(), e.what());
        load();
        return;
      }
    }
    for (const auto& decision : changes) {
      broadcast_.send(zmq::buffer(common::encode(common::Broadcast{decision})), zmq::send_flags::dontwait);
    }
    for (auto& pending : acks) {
      std::string frame = common::encode(common::Reply{pending.ack});
      ingest_.send(pending.identity, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      ingest_.send(zmq::buffer(frame), zmq::send_flags::dontwait);
    }
    for (auto& pending : snapshots) send_snapshot(pending);
  }

  // The reporter of an event is the key that authenticated it, not what the message says.
  std::optional<std::string> check_identity(zmq::message_t& payload, const common::Event& event) {
    if (config_.security.insecure) return std::nullopt;  // lab mode: nobody is authenticated
    const char* user_id = zmq_msg_gets(payload.handle(), "User-Id");
    auto peer = user_id != nullptr ? common::parse_user_id(user_id) : std::nullopt;
    if (!peer) return "unauthenticated";
    if (peer->role == common::PeerRole::host && peer->name != event.host_id) {
      return "host_id " + event.host_id + " does not match key " + peer->name;
    }
    return std::nullopt;
  }

  void send_snapshot(PendingSnapshot& pending) {
    std::vector<Decision> active = state_.active_decisions();
    std::size_t sent = 0;
    do {
      common::SnapshotChunk chunk{.request_id = pending.request_id,
                                  .sequence = state_.sequence(),
                                  .incarnation = incarnation_};
      std::size_t end = std::min(active.size(), sent + kSnapshotChunk);
      chunk.decisions.assign(std::make_move_iterator(active.begin() + static_cast<std::ptrdiff_t>(sent)),
                             std::make_move_iterator(active.begin() + static_cast<std::ptrdiff_t>(end)));
      sent = end;
      chunk.last = sent == active.size();
      zmq::message_t identity;
      identity.copy(pending.identity);
      ingest_.send(identity, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      ingest_.send(zmq::buffer(common::encode(common::Reply{std::move(chunk)})), zmq::send_flags::dontwait);
    } while (sent < active.size());
    spdlog::debug("snapshot_sent sequence={} decisions={}", state_.sequence(), active.size());
  }

  void send_heartbeat() {
    common::Heartbeat heartbeat{state_.sequence(), incarnation_, common::now_seconds()};
    broadcast_.send(zmq::buffer(common::encode(common::Broadcast{heartbeat})), zmq::send_flags::dontwait);
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
  std::string incarnation_;
  std::unordered_set<EventId, EventIdHash> seen_;
  zmq::context_t context_;
  common::ServerSockets sockets_;
  zmq::socket_t ingest_;
  zmq::socket_t broadcast_;
  RateLimitedLog rejected_;
};

}  // namespace

void run_aggregator(const AggregatorConfig& config, StopSignals& signals,
                    const std::optional<std::filesystem::path>& config_file, const common::FlagOverrides& flags) {
  {
    Store store(config.state);
    store.forget_events_before(common::now_seconds() - kForgetEventsAfter);
  }
  Service service(config, signals, config_file, flags);
  service.run();
}

}  // namespace fleetban::aggregator
