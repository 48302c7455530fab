#include "common/codec.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <google/protobuf/arena.h>

#include "common/history_codec.hpp"
#include "common/host_codec.hpp"
#include "fleetban.pb.h"

namespace fleetban::common {

namespace {

namespace pb = ::fleetban::v1;

constexpr std::size_t kMaxRequestIdBytes = 32;
constexpr std::size_t kMaxIncarnationBytes = 32;
// What a decoder takes: more than the kMaxDecisionNames a decision is made with, so a peer of
// another version is still understood.
constexpr std::size_t kMaxNamesPerDecision = 1024;
// A Decision's Geo: an ISO code and an AS organisation's name, bounded like a reason.
constexpr std::size_t kMaxGeoCountryBytes = 8;
constexpr std::size_t kMaxGeoOrgBytes = 256;
static_assert(kMaxDecisionNames <= kMaxNamesPerDecision);

// A name from the wire, for a refusal's reason: at most 64 bytes, anything unprintable as '?'.
std::string printable(std::string_view name) {
  std::string out(name.substr(0, 64));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

void to_proto(const IpPrefix& prefix, pb::Prefix& out) {
  out.set_address(std::string(prefix.bytes()));
  out.set_length(prefix.length());
}

Expected<IpPrefix> from_proto(const pb::Prefix& in) {
  auto prefix = IpPrefix::from_bytes(in.address(), in.length());
  if (!prefix) return Failure{"bad prefix"};
  return *prefix;
}

void to_proto(const Event& event, pb::Event& out) {
  out.set_event_id(event.id.data(), event.id.size());
  out.set_kind(event.kind == EventKind::ban ? pb::Event::BAN : pb::Event::UNBAN);
  to_proto(event.prefix, *out.mutable_prefix());
  out.set_jail(event.jail);
  out.set_host_id(event.host_id);
  out.set_bantime(event.bantime.count());
  out.set_failures(event.failures);
  out.set_bancount(event.bancount);
  out.set_time_ms(to_unix_ms(event.time));
  out.set_created_ms(to_unix_ms(event.created));
  out.set_reason(event.reason);
  out.set_operator_action(event.operator_action);
}

Expected<Event> from_proto(const pb::Event& in) {
  Event event;
  if (in.event_id().size() != event.id.size()) return Failure{"bad event id"};
  std::memcpy(event.id.data(), in.event_id().data(), event.id.size());
  switch (in.kind()) {
    case pb::Event::BAN: event.kind = EventKind::ban; break;
    case pb::Event::UNBAN: event.kind = EventKind::unban; break;
    default: return Failure{"bad event kind"};
  }
  auto prefix = from_proto(in.prefix());
  if (!prefix) return Failure{prefix.error()};
  event.prefix = *prefix;
  if (!is_valid_name(in.jail())) return Failure{"bad jail name '" + printable(in.jail()) + "'"};
  if (!is_valid_name(in.host_id())) return Failure{"bad host id '" + printable(in.host_id()) + "'"};
  event.jail = in.jail();
  event.host_id = in.host_id();
  if (in.bantime() < kPermanentBan.count() || in.bantime() > kMaxBantime.count()) {
    return Failure{"bad bantime " + std::to_string(in.bantime())};
  }
  event.bantime = std::chrono::seconds(in.bantime());
  event.failures = in.failures();
  event.bancount = in.bancount();
  if (auto bad = check_event_time("time", from_unix_ms(in.time_ms()))) return Failure{*bad};
  if (auto bad = check_event_time("creation time", from_unix_ms(in.created_ms()))) return Failure{*bad};
  event.time = from_unix_ms(in.time_ms());
  event.created = from_unix_ms(in.created_ms());
  if (in.reason().size() > kMaxReasonBytes) return Failure{"reason too long"};
  event.reason = in.reason();
  event.operator_action = in.operator_action();
  return event;
}

void to_proto(const Decision& d, pb::Decision& out) {
  out.set_sequence(d.sequence);
  to_proto(d.prefix, *out.mutable_prefix());
  out.set_active(d.active);
  out.set_banned_at(to_unix(d.banned_at));
  out.set_permanent(d.permanent());
  out.set_expires_at(d.expires_at ? to_unix(*d.expires_at) : 0);
  for (const auto& r : d.reporters) out.add_reporters(r);
  for (const auto& j : d.jails) out.add_jails(j);
  out.set_ban_count(d.ban_count);
  out.set_reason(d.reason);
  out.set_reporter_count(std::max(d.reporter_count, static_cast<std::uint32_t>(d.reporters.size())));
  out.set_jail_count(std::max(d.jail_count, static_cast<std::uint32_t>(d.jails.size())));
  if (d.geo) {
    auto& geo = *out.mutable_geo();
    geo.set_country(d.geo->country);
    geo.set_asn(d.geo->asn);
    geo.set_as_org(d.geo->as_org);
  }
}

Expected<Decision> from_proto(const pb::Decision& in) {
  Decision d;
  d.sequence = in.sequence();
  auto prefix = from_proto(in.prefix());
  if (!prefix) return Failure{prefix.error()};
  d.prefix = *prefix;
  d.active = in.active();
  d.banned_at = from_unix(in.banned_at());
  if (!in.permanent()) d.expires_at = from_unix(in.expires_at());
  if (in.reporters_size() > static_cast<int>(kMaxNamesPerDecision) ||
      in.jails_size() > static_cast<int>(kMaxNamesPerDecision)) {
    return Failure{"too many names"};
  }
  for (const auto& r : in.reporters()) {
    if (!is_valid_name(r)) return Failure{"bad reporter name"};
    d.reporters.push_back(r);
  }
  for (const auto& j : in.jails()) {
    if (!is_valid_name(j)) return Failure{"bad jail name"};
    d.jails.push_back(j);
  }
  d.reporter_count = std::max(in.reporter_count(), static_cast<std::uint32_t>(d.reporters.size()));
  d.jail_count = std::max(in.jail_count(), static_cast<std::uint32_t>(d.jails.size()));
  d.ban_count = in.ban_count();
  if (in.reason().size() > kMaxReasonBytes) return Failure{"reason too long"};
  d.reason = in.reason();
  if (in.has_geo()) {
    if (in.geo().country().size() > kMaxGeoCountryBytes || in.geo().as_org().size() > kMaxGeoOrgBytes) {
      return Failure{"geo too long"};
    }
    d.geo = std::make_shared<const Geo>(Geo{in.geo().country(), in.geo().asn(), in.geo().as_org()});
  }
  return d;
}

template <typename Message>
bool parse(Message& message, std::string_view frame) {
  return frame.size() <= static_cast<std::size_t>(INT32_MAX) &&
         message.ParseFromArray(frame.data(), static_cast<int>(frame.size()));
}

}  // namespace

std::optional<std::string> check_event_time(std::string_view what, TimePoint t) {
  auto ms = to_unix_ms(t);
  if (ms >= kMinEventTimeMs && ms <= kMaxEventTimeMs) return std::nullopt;
  return std::string(what) + " " + std::to_string(ms / 1000) +
         " (unix seconds) is before 2000 or after 2200: a clock not yet set, or a forgery";
}

std::optional<std::string> check_event(const Event& event) {
  auto decoded = decode_event(encode_event(event));
  if (decoded) return std::nullopt;
  return decoded.error();
}

std::optional<EventId> event_id_of_request(std::string_view frame) {
  pb::Request in;
  if (!parse(in, frame) || in.body_case() != pb::Request::kEvent) return std::nullopt;
  EventId id{};
  if (in.event().event_id().size() != id.size()) return std::nullopt;
  std::memcpy(id.data(), in.event().event_id().data(), id.size());
  return id;
}

std::string encode(const Request& request) {
  pb::Request out;
  if (const auto* event = std::get_if<Event>(&request)) {
    to_proto(*event, *out.mutable_event());
  } else if (const auto* snapshot = std::get_if<SnapshotRequest>(&request)) {
    out.mutable_snapshot()->set_request_id(snapshot->request_id);
    out.mutable_snapshot()->set_receipt(snapshot->receipt);
    out.mutable_snapshot()->set_with_geo(snapshot->with_geo);
  } else if (const auto* status = std::get_if<StatusRequest>(&request)) {
    out.mutable_status()->set_request_id(status->request_id);
  } else if (const auto* report = std::get_if<HostReport>(&request)) {
    host_report_to_proto(*report, *out.mutable_host_report());
  } else if (const auto* history = std::get_if<HistoryRequest>(&request)) {
    out.mutable_history()->set_request_id(history->request_id);
    to_proto(history->prefix, *out.mutable_history()->mutable_prefix());
  } else {
    hosts_request_to_proto(std::get<HostsRequest>(request), *out.mutable_hosts());
  }
  return out.SerializeAsString();
}

std::string encode(const Reply& reply) {
  pb::Reply out;
  if (const auto* ack = std::get_if<Ack>(&reply)) {
    pb::Ack& a = *out.mutable_ack();
    a.set_event_id(ack->event_id.data(), ack->event_id.size());
    switch (ack->outcome) {
      case AckOutcome::applied: a.set_outcome(pb::Ack::APPLIED); break;
      case AckOutcome::duplicate: a.set_outcome(pb::Ack::DUPLICATE); break;
      case AckOutcome::refused: a.set_outcome(pb::Ack::REFUSED); break;
      case AckOutcome::throttled: a.set_outcome(pb::Ack::THROTTLED); break;
    }
    a.set_reason(ack->reason);
  } else if (const auto* status = std::get_if<Status>(&reply)) {
    pb::Status& st = *out.mutable_status();
    st.set_request_id(status->request_id);
    st.set_sequence(status->sequence);
    st.set_incarnation(status->incarnation);
    st.set_active_bans(status->active_bans);
    st.set_reporters(status->reporters);
    st.set_subscribers(status->subscribers);
    st.set_started_at(to_unix(status->started_at));
    st.set_member(status->member);
    st.set_epoch(status->epoch);
    st.set_active_since(to_unix(status->active_since));
  } else if (const auto* hosts = std::get_if<Hosts>(&reply)) {
    hosts_to_proto(*hosts, *out.mutable_hosts());
  } else if (const auto* history = std::get_if<HistoryReply>(&reply)) {
    history_to_proto(*history, *out.mutable_history());
  } else {
    const auto& chunk = std::get<SnapshotChunk>(reply);
    pb::SnapshotChunk& c = *out.mutable_chunk();
    c.set_request_id(chunk.request_id);
    c.set_sequence(chunk.sequence);
    c.set_incarnation(chunk.incarnation);
    c.set_receipt(chunk.receipt);
    for (const auto& d : chunk.decisions) to_proto(d, *c.add_decisions());
    c.set_last(chunk.last);
  }
  return out.SerializeAsString();
}

std::string encode(const Broadcast& broadcast) {
  pb::Broadcast out;
  if (const auto* decision = std::get_if<Decision>(&broadcast)) {
    to_proto(*decision, *out.mutable_decision());
  } else {
    const auto& hb = std::get<Heartbeat>(broadcast);
    out.mutable_heartbeat()->set_sequence(hb.sequence);
    out.mutable_heartbeat()->set_incarnation(hb.incarnation);
    out.mutable_heartbeat()->set_time(to_unix(hb.time));
  }
  return out.SerializeAsString();
}

Expected<Request> decode_request(std::string_view frame) {
  pb::Request in;
  if (!parse(in, frame)) return Failure{"not a request message"};
  switch (in.body_case()) {
    case pb::Request::kEvent: {
      auto event = from_proto(in.event());
      if (!event) return Failure{event.error()};
      return Request{std::move(*event)};
    }
    case pb::Request::kSnapshot:
      if (in.snapshot().request_id().size() > kMaxRequestIdBytes) return Failure{"request id too long"};
      if (in.snapshot().receipt().size() > kMaxRequestIdBytes) return Failure{"snapshot receipt too long"};
      return Request{SnapshotRequest{in.snapshot().request_id(), in.snapshot().receipt(), in.snapshot().with_geo()}};
    case pb::Request::kStatus:
      if (in.status().request_id().size() > kMaxRequestIdBytes) return Failure{"request id too long"};
      return Request{StatusRequest{in.status().request_id()}};
    case pb::Request::kHostReport: {
      auto report = host_report_from_proto(in.host_report());
      if (!report) return Failure{report.error()};
      return Request{std::move(*report)};
    }
    case pb::Request::kHosts: {
      auto hosts = hosts_request_from_proto(in.hosts());
      if (!hosts) return Failure{hosts.error()};
      return Request{std::move(*hosts)};
    }
    case pb::Request::kHistory: {
      if (in.history().request_id().size() > kMaxRequestIdBytes) return Failure{"request id too long"};
      auto prefix = from_proto(in.history().prefix());
      if (!prefix) return Failure{"history request: " + prefix.error()};
      return Request{HistoryRequest{in.history().request_id(), *prefix}};
    }
    default: return Failure{"empty request"};
  }
}

Expected<Reply> decode_reply(std::string_view frame) {
  pb::Reply in;
  if (!parse(in, frame)) return Failure{"not a reply message"};
  if (in.has_ack()) {
    Ack ack;
    if (in.ack().event_id().size() != ack.event_id.size()) return Failure{"bad event id"};
    std::memcpy(ack.event_id.data(), in.ack().event_id().data(), ack.event_id.size());
    switch (in.ack().outcome()) {
      case pb::Ack::APPLIED: ack.outcome = AckOutcome::applied; break;
      case pb::Ack::DUPLICATE: ack.outcome = AckOutcome::duplicate; break;
      case pb::Ack::REFUSED: ack.outcome = AckOutcome::refused; break;
      case pb::Ack::THROTTLED: ack.outcome = AckOutcome::throttled; break;
      default: return Failure{"bad ack outcome"};
    }
    ack.reason = in.ack().reason().substr(0, kMaxReasonBytes);
    return Reply{std::move(ack)};
  }
  if (in.has_chunk()) {
    SnapshotChunk chunk;
    const pb::SnapshotChunk& c = in.chunk();
    if (c.request_id().size() > kMaxRequestIdBytes || c.incarnation().size() > kMaxIncarnationBytes ||
        c.receipt().size() > kMaxRequestIdBytes) {
      return Failure{"bad snapshot chunk header"};
    }
    chunk.request_id = c.request_id();
    chunk.sequence = c.sequence();
    chunk.incarnation = c.incarnation();
    chunk.last = c.last();
    chunk.receipt = c.receipt();
    chunk.decisions.reserve(static_cast<std::size_t>(c.decisions_size()));
    for (const auto& d : c.decisions()) {
      auto decision = from_proto(d);
      if (!decision) return Failure{decision.error()};
      chunk.decisions.push_back(std::move(*decision));
    }
    return Reply{std::move(chunk)};
  }
  if (in.has_status()) {
    const pb::Status& st = in.status();
    if (st.request_id().size() > kMaxRequestIdBytes || st.incarnation().size() > kMaxIncarnationBytes ||
        st.member().size() > kMaxMemberBytes) {
      return Failure{"bad status header"};
    }
    return Reply{Status{st.request_id(), st.sequence(), st.incarnation(), st.active_bans(), st.reporters(),
                        st.subscribers(), from_unix(st.started_at()), st.member(), st.epoch(),
                        from_unix(st.active_since())}};
  }
  if (in.has_hosts()) {
    auto hosts = hosts_from_proto(in.hosts());
    if (!hosts) return Failure{hosts.error()};
    return Reply{std::move(*hosts)};
  }
  if (in.has_history()) {
    auto history = history_from_proto(in.history());
    if (!history) return Failure{history.error()};
    return Reply{std::move(*history)};
  }
  return Failure{"empty reply"};
}

namespace {
google::protobuf::ArenaOptions arena_in(std::array<char, 8192>& block) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block.data();
  options.initial_block_size = block.size();
  return options;
}
}  // namespace

Expected<Broadcast> decode_broadcast(std::string_view frame) {
  // Parsed on an arena of this thread that starts in a block of its own: a host decoding every
  // decision of the fleet allocates and frees nothing for a broadcast that fits the block (its
  // message, strings and lists), and what a larger one needed is freed by the next Reset(). A
  // message reused across parses was not enough: its Clear() deletes the oneof's Decision, and
  // that delete and the parse's new were 10 % of a subscriber's main thread in P2.
  thread_local std::array<char, 8192> block;
  thread_local google::protobuf::Arena arena(arena_in(block));
  arena.Reset();
  auto& in = *google::protobuf::Arena::CreateMessage<pb::Broadcast>(&arena);
  if (!parse(in, frame)) return Failure{"not a broadcast message"};
  if (in.has_decision()) {
    auto decision = from_proto(in.decision());
    if (!decision) return Failure{decision.error()};
    return Broadcast{std::move(*decision)};
  }
  if (in.has_heartbeat()) {
    if (in.heartbeat().incarnation().size() > kMaxIncarnationBytes) return Failure{"bad incarnation"};
    return Broadcast{
        Heartbeat{in.heartbeat().sequence(), in.heartbeat().incarnation(), from_unix(in.heartbeat().time())}};
  }
  return Failure{"empty broadcast"};
}

std::size_t encoded_size_bound(const Decision& decision) {
  // Each string costs its bytes, a tag and a length (names are at most 64 bytes, reasons 256: one
  // or two bytes); the numbers, the prefix and the decision's own tag and length, at most 96.
  std::size_t bytes = 96 + decision.reason.size() + 3;
  for (const auto* names : {&decision.reporters, &decision.jails}) {
    for (const auto& name : *names) bytes += name.size() + 3;
  }
  // The Geo's tag and length, its two strings' tags and lengths, and the AS number.
  if (decision.geo) bytes += 16 + decision.geo->country.size() + decision.geo->as_org.size();
  return bytes;
}

void decision_to_proto(const Decision& decision, v1::Decision& out) { to_proto(decision, out); }
Expected<Decision> decision_from_proto(const v1::Decision& in) { return from_proto(in); }

std::string encode_event(const Event& event) {
  pb::Event out;
  to_proto(event, out);
  return out.SerializeAsString();
}

Expected<Event> decode_event(std::string_view bytes) {
  pb::Event in;
  if (!parse(in, bytes)) return Failure{"not an event"};
  return from_proto(in);
}

}  // namespace fleetban::common
