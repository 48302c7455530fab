#include "subscriber/subscriber.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <zmq.hpp>

#include "common/aggregator_client.hpp"
#include "common/clone_client.hpp"
#include "common/logging.hpp"
#include "common/own_addresses.hpp"
#include "common/socket_factory.hpp"
#include "common/spool.hpp"
#include "common/systemd_notify.hpp"
#include "subscriber/enforcer.hpp"

namespace fleetban::subscriber {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kPollInterval = milliseconds(200);
constexpr auto kSpoolDrainInterval = std::chrono::seconds(1);
constexpr auto kIntactCheckInterval = std::chrono::seconds(10);
constexpr std::size_t kSpoolDrainBatch = 200;

// Where this host reaches the aggregator: never enforced, or the ban would cut the link.
std::vector<common::IpPrefix> aggregator_addresses(const common::HostConfig& config) {
  std::vector<common::IpPrefix> addresses;
  for (const auto* list : {&config.aggregators, &config.broadcasts}) {
    for (const std::string& endpoint : *list) {
      auto found = common::endpoint_addresses(endpoint);
      if (found.empty()) spdlog::warn("aggregator_address_unknown endpoint={}; its address is not protected", endpoint);
      addresses.insert(addresses.end(), found.begin(), found.end());
    }
  }
  return addresses;
}

// The subscriber's loop: what the Clone client brings goes to the Enforcer (a snapshot reconciles
// the backend, decisions are applied in batches); local expiry every turn; the spool drained on the
// client's connection every second while it follows; the backend checked every 10 s.
class Follower {
 public:
  Follower(const common::HostConfig& config, const std::atomic<bool>& stop)
      : config_(config),
        stop_(stop),
        sockets_(context_, config.security),
        enforcer_(make_backend(config.enforce), config.enforce.allowlist, aggregator_addresses(config)),
        spool_(config.spool_dir, config.spool_max_bytes),
        clone_(sockets_, config.aggregators, config.broadcasts, stop) {}

  void run() {
    // Ready once following: a host boots even while the aggregator is away.
    common::notify_ready();
    // A turn's log lines (the backend's, and the trace lines) are written together at its end:
    // one write per turn, not one per line, for every decision on every host.
    common::batch_log_lines();
    while (!stop_.load()) {
      auto update = clone_.poll(kPollInterval);
      auto now = Clock::now();
      if (update.snapshot) {
        enforcer_.reconcile(update.snapshot->decisions, common::now_seconds());
        next_drain_ = now;
      }
      if (!update.decisions.empty()) enforcer_.apply(update.decisions, common::now_seconds(), update.received_us);
      // Even while the aggregator is away: a ban ends at its expiry whatever happens upstream.
      enforcer_.tick(common::now_seconds());
      if (clone_.synced()) {
        if (clone_.report_due(now)) report_in(now);
        if (now >= next_drain_) drain_spool();
        if (now >= next_intact_check_) check_backend(now);
      }
      common::flush_log();
    }
  }

 private:
  // A firewall reload can delete what the backend enforced; a snapshot puts it all back.
  void check_backend(Clock::time_point now) {
    next_intact_check_ = now + kIntactCheckInterval;
    if (enforcer_.backend_intact()) return;
    spdlog::warn("backend_state_lost; taking a new snapshot to enforce the fleet's bans again");
    clone_.resync();
  }

  // Tells the aggregator how this host is (the Clone client adds the sequence it applied).
  void report_in(Clock::time_point now) {
    common::HostReport report{.host_id = config_.host_id,
                              .backend_error = enforcer_.backend_error(),
                              .spool_bytes = spool_.size_bytes(),
                              .spool_max_bytes = config_.spool_max_bytes,
                              .version = FLEETBAN_VERSION};
    if (report.backend_error.size() > common::kMaxBackendErrorBytes)
      report.backend_error.resize(common::kMaxBackendErrorBytes);
    clone_.report_in(std::move(report), now);
  }

  void drain_spool() {
    next_drain_ = Clock::now() + kSpoolDrainInterval;
    if (spool_.list().empty()) return;
    auto result = common::drain_spool(clone_.ingest(), spool_, kSpoolDrainBatch, config_.timeout);
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
  common::CloneClient clone_;
  Clock::time_point next_drain_ = Clock::now();
  Clock::time_point next_intact_check_ = Clock::now() + kIntactCheckInterval;
};

}  // namespace

void run_subscriber(const common::HostConfig& config, const std::atomic<bool>& stop) {
  spdlog::info("subscriber started host={} aggregator={} broadcast={}", config.host_id,
               fmt::join(config.aggregators, ","), fmt::join(config.broadcasts, ","));
  Follower(config, stop).run();
  common::notify_stopping();
  spdlog::info("subscriber stopping");
  common::flush_log();
}

}  // namespace fleetban::subscriber
