#include "publisher/publisher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <zmq.hpp>

#include "common/aggregator_client.hpp"
#include "common/codec.hpp"
#include "common/endpoint_list.hpp"
#include "common/errors.hpp"
#include "common/socket_factory.hpp"
#include "common/spool.hpp"

namespace fleetban::publisher {

namespace {

// After a successful publish, this many spooled events are sent too (the subscriber drains the rest).
constexpr std::size_t kDrainAfterPublish = 4;
// During an aggregator outage only one publish in this window waits for an ack (a probe); the
// others go straight to the spool, so Fail2Ban's one-at-a-time actions are never held up.
constexpr std::chrono::seconds kProbeInterval{10};

common::TimePoint parse_time(const std::string& text) {
  // Fail2Ban passes <time> as a float of seconds ("1795652765.9075983"), or an integer.
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(seconds) || seconds < 0 ||
      seconds > 7.2e9) {
    throw common::UsageError("--time: '" + text + "' is not a unix time in seconds");
  }
  auto time = common::from_unix_ms(static_cast<std::int64_t>(seconds * 1000.0));
  // The aggregator's own range: an event it would refuse is not sent, nor spooled.
  if (auto bad = common::check_event_time("time", time)) throw common::UsageError("--time: '" + text + "': " + *bad);
  return time;
}

int spool_event(const common::Spool& spool, const common::Event& event, const std::string& why) {
  auto spooled = spool.put(event);
  if (!spooled) {
    spdlog::error("event_lost ip={} jail={} reason=\"{}; {}\"", event.prefix.to_string(), event.jail, why,
                  spooled.error());
    return common::kExitRuntime;
  }
  spdlog::warn("event_spooled ip={} jail={} file={} reason=\"{}\"", event.prefix.to_string(), event.jail,
               spooled->string(), why);
  return common::kExitOk;
}

// The ack (or why none came) and the connection that brought it.
struct Sent {
  common::Expected<common::Ack> ack;
  std::optional<zmq::socket_t> ingest;
};

Sent send(const common::ClientSockets& sockets, const common::Spool& spool, const common::HostConfig& config,
          const common::Event& event) {
  if (config.aggregators.size() == 1) {
    // The plain case, as cheap as it can be: one DEALER, one send, one wait.
    zmq::socket_t ingest = sockets.ingest(config.aggregators.front());
    auto ack = common::send_event(ingest, event, config.timeout);
    return Sent{std::move(ack), std::move(ingest)};
  }
  // Several: start with the one that acked last (an HA group's active member, a relay that works),
  // so that a standby listed first does not cost every publish its share of the timeout.
  const auto& endpoints = config.aggregators;
  const std::string last = spool.last_acked_by();
  const auto it = std::find(endpoints.begin(), endpoints.end(), last);
  const std::size_t first = it == endpoints.end() ? 0 : static_cast<std::size_t>(it - endpoints.begin());
  auto acked = common::send_event_to_any(sockets, endpoints, first, event, config.timeout);
  if (!acked) return Sent{common::Failure{acked.error()}, std::nullopt};
  if (endpoints[acked->endpoint] != last) spool.set_last_acked_by(endpoints[acked->endpoint]);
  return Sent{std::move(acked->ack), std::move(acked->ingest)};
}

}  // namespace

PublishRequest parse_publish_request(common::EventKind kind, const std::string& ip, const std::string& jail,
                                     std::int64_t bantime, std::int64_t failures, std::int64_t bancount,
                                     const std::string& time, int restored) {
  PublishRequest request;
  request.kind = kind;
  auto prefix = common::IpPrefix::parse(ip);
  if (!prefix) throw common::UsageError("--ip: '" + ip + "' is not an IPv4 or IPv6 address or CIDR prefix");
  request.prefix = *prefix;
  if (!common::is_valid_name(jail)) {
    throw common::UsageError("--jail: '" + jail + "' is not a jail name (1-64 of A-Z a-z 0-9 . _ @ : -)");
  }
  request.jail = jail;
  if (bantime < common::kPermanentBan.count() || bantime > common::kMaxBantime.count()) {
    throw common::UsageError("--bantime: " + std::to_string(bantime) + " is not -1 (permanent) or 0.." +
                             std::to_string(common::kMaxBantime.count()) + " seconds");
  }
  request.bantime = std::chrono::seconds(bantime);
  if (failures < 0 || failures > UINT32_MAX) throw common::UsageError("--failures: out of range");
  if (bancount < 0 || bancount > UINT32_MAX) throw common::UsageError("--bancount: out of range");
  request.failures = static_cast<std::uint32_t>(failures);
  request.bancount = static_cast<std::uint32_t>(bancount);
  request.time = time.empty() ? common::now_ms() : parse_time(time);
  if (restored != 0 && restored != 1) throw common::UsageError("--restored: must be 0 or 1");
  request.restored = restored == 1;
  return request;
}

int publish(const common::HostConfig& config, const PublishRequest& request) {
  if (request.restored) {
    // Fail2Ban replays its database at start; the fleet has these bans already.
    spdlog::debug("restored ban not sent ip={}", request.prefix.to_string());
    return common::kExitOk;
  }
  common::Event event{
      .id = common::random_event_id(),
      .kind = request.kind,
      .prefix = request.prefix,
      .jail = request.jail,
      .host_id = config.host_id,
      .bantime = request.bantime,
      .failures = request.failures,
      .bancount = request.bancount,
      .time = request.time,
      .created = common::now_ms(),
  };
  // Whatever the aggregator's decoder would refuse (this host's clock at 1970 before NTP, for one)
  // is refused here, by the same code, before it is sent or spooled; host_id was checked at load.
  if (auto bad = common::check_event(event)) throw common::UsageError("this event would be refused: " + *bad);
  common::Spool spool(config.spool_dir, config.spool_max_bytes);
  auto started = std::chrono::steady_clock::now();
  // The keys are read (and a secret key that others can read is refused) before anything else,
  // also on the fast path below. A context starts no thread until its first socket.
  zmq::context_t context;
  common::ClientSockets sockets(context, config.security);
  if (spool.recently_unreachable(kProbeInterval)) return spool_event(spool, event, "aggregator recently unreachable");

  auto [ack, ingest] = send(sockets, spool, config, event);
  if (ack && ack->outcome == common::AckOutcome::throttled) {
    ack = common::Failure{"throttled by the aggregator (this host's max_events_per_second)"};
  }
  if (ack) {
    spool.mark_reachable();
    if (ack->outcome == common::AckOutcome::refused) {
      // Refused for good (policy or invalid): never retried, so say why where the operator looks.
      spdlog::error("event_refused ip={} jail={} reason=\"{}\"; not retried", event.prefix.to_string(), event.jail,
                    ack->reason);
    }
    auto left = config.timeout -
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    if (left > std::chrono::milliseconds(0)) common::drain_spool(*ingest, spool, kDrainAfterPublish, left);
    return common::kExitOk;
  }
  spool.mark_unreachable();
  return spool_event(spool, event, sockets.handshake_failure().value_or(ack.error()));
}

}  // namespace fleetban::publisher
