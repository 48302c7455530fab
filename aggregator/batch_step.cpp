#include "aggregator/batch_step.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace fleetban::aggregator {

namespace {

constexpr std::size_t kPrefetchAhead = 4;  // events: a memory access takes about that long

}  // namespace

BatchStep::BatchStep(FleetState& state, EventIdSet& seen, server::Admission& admission, Metrics& metrics,
                     HostTable* hosts)
    : state_(state), seen_(seen), admission_(admission), metrics_(metrics), hosts_(hosts) {}

void BatchStep::reject(server::RejectReason reason, const std::string& message) {
  metrics_.count_rejected(reason);
  rejected_.warn(message);
}

void BatchStep::add_ended(std::vector<common::Decision> ended) {
  for (auto& d : ended) ended_.push_back(std::move(d));
}

void BatchStep::note_member(const server::Sender& sender) {
  // Where an admitted connection comes from: a fleet member's address is never banned.
  if (sender.address) state_.note_member_address(*sender.address);
}

void BatchStep::take(Route route, std::string_view payload, const server::Sender& sender) {
  auto request = common::decode_request(payload);
  if (!request) {
    reject(RejectReason::malformed, "rejected_input reason=\"" + request.error() + "\"");
    if (auto id = common::event_id_of_request(payload)) {
      next_.acks.push_back({route, common::Ack{*id, common::AckOutcome::refused, request.error()}});
    }
    return;
  }
  if (auto* event = std::get_if<common::Event>(&*request)) {
    received_.push_back({route, sender, std::move(*event)});
    return;
  }
  if (auto refusal = admission_.admit_query(sender, *request, server::Admission::Clock::now(), state_.active_count())) {
    // Floods of either kind are logged apart, so one never hides the other.
    metrics_.count_rejected(refusal->reason);
    (refusal->reason == RejectReason::rate_limited ? throttled_ : rejected_).warn(query_log_line(*refusal, sender));
    return;
  }
  note_member(sender);
  const auto* report = std::get_if<common::HostReport>(&*request);
  if (auto* snapshot = std::get_if<common::SnapshotRequest>(&*request)) {
    next_.queries.push_back({route, std::move(*snapshot)});
  } else if (auto* status = std::get_if<common::StatusRequest>(&*request)) {
    next_.queries.push_back({route, std::move(*status)});
  } else if (report != nullptr) {
    take_report(*report, sender);
  } else if (auto* history = std::get_if<common::HistoryRequest>(&*request)) {
    next_.queries.push_back({route, std::move(*history)});
  } else {
    next_.queries.push_back({route, std::get<common::HostsRequest>(std::move(*request))});
  }
}

void BatchStep::take_report(const common::HostReport& report, const server::Sender& sender) {
  // A host reports only as itself (or through a relay that vouches for it).
  if (auto refusal = admission_.admit_report(sender, report.host_id)) {
    reject(refusal->reason, fmt::format("host_report_refused key={} reason=\"{}\"",
                                        sender.peer ? sender.peer->name : "?", refusal->why));
    return;
  }
  if (hosts_ == nullptr) return;
  if (auto why = hosts_->note_report(reporter_kind(sender, false), report, state_.sequence(), common::now_seconds())) {
    reject(RejectReason::malformed, fmt::format("host_report_refused key={} reason=\"{}\"", report.host_id, *why));
  }
}

Batch BatchStep::finish(common::UnixSeconds now) {
  Batch batch = std::move(next_);
  next_ = Batch{};
  // First: their sequence numbers were given when the policy changed, before this batch's.
  for (auto& ended : ended_) {
    spdlog::info("decision seq={} ip={} active=false reason=\"{}\"", ended.sequence, ended.prefix.to_string(),
                 ended.reason);
    batch.changes.push_back(std::move(ended));
  }
  ended_.clear();
  for (std::size_t i = 0; i < received_.size(); ++i) {
    // The tables are far larger than the caches: ask for the next events' slots early.
    if (i + kPrefetchAhead < received_.size()) {
      const common::Event& ahead = received_[i + kPrefetchAhead].event;
      state_.prefetch(ahead.prefix);
      seen_.prefetch(ahead.id);
    }
    Received& r = received_[i];
    batch.acks.push_back({r.route, handle_event(r, now, batch)});
  }
  received_.clear();
  for (auto& ended : state_.expire(now)) {
    spdlog::info("decision seq={} ip={} active=false expired", ended.sequence, ended.prefix.to_string());
    batch.changes.push_back(std::move(ended));
  }
  if (std::size_t forgotten = state_.forget(now); forgotten > 0) spdlog::debug("records_forgotten count={}", forgotten);
  return batch;
}

common::Ack BatchStep::handle_event(Received& r, common::UnixSeconds now, Batch& batch) {
  common::Event& event = r.event;
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
  if (auto refusal = admission_.admit_event(r.sender, event)) return refuse(refusal->reason, refusal->why);
  note_member(r.sender);
  const std::string& reporter = event.host_id;
  if (seen_.contains(event.id)) {
    ack.outcome = common::AckOutcome::duplicate;
    metrics_.count_event(unban, EventOutcome::duplicate);
    return ack;
  }
  if (!event.operator_action && !admission_.event_within_share(reporter, server::Admission::Clock::now())) {
    ack.outcome = common::AckOutcome::throttled;
    ack.reason = "over max_events_per_second";
    metrics_.count_rejected(RejectReason::rate_limited);
    throttled_.warn(fmt::format("event_throttled host={} (over max_events_per_second)", reporter));
    return ack;
  }
  // The host is reporting (even what policy refuses next): its last event and hourly count.
  if (hosts_ != nullptr) hosts_->note_event(reporter_kind(r.sender, event.operator_action), reporter, now);
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

}  // namespace fleetban::aggregator
