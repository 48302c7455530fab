#include "common/history_codec.hpp"

#include <algorithm>

#include "common/event.hpp"
#include "fleetban.pb.h"

namespace fleetban::common {

namespace {

namespace pb = ::fleetban::v1;

constexpr std::size_t kMaxRequestIdBytes = 32;

}  // namespace

void history_to_proto(const HistoryReply& reply, pb::History& out) {
  const AddressHistory& h = reply.history;
  out.set_request_id(reply.request_id);
  out.mutable_prefix()->set_address(std::string(h.prefix.bytes()));
  out.mutable_prefix()->set_length(h.prefix.length());
  if (h.decision) decision_to_proto(*h.decision, *out.mutable_decision());
  out.set_ban_count(h.ban_count);
  for (const auto& e : h.entries) {
    pb::HistoryEntry& entry = *out.add_entries();
    entry.set_at(to_unix(e.at));
    entry.set_kind(static_cast<pb::HistoryEntry::Kind>(e.kind));
    entry.set_fleet(e.fleet);
    entry.set_host(e.host);
    entry.set_jail(e.jail);
    entry.set_reason(e.reason);
  }
  out.set_total(h.total);
}

Expected<HistoryReply> history_from_proto(const pb::History& in) {
  HistoryReply reply;
  if (in.request_id().size() > kMaxRequestIdBytes) return Failure{"bad history header"};
  reply.request_id = in.request_id();
  auto prefix = IpPrefix::from_bytes(in.prefix().address(), in.prefix().length());
  if (!prefix) return Failure{"history: bad prefix"};
  AddressHistory& h = reply.history;
  h.prefix = *prefix;
  if (in.has_decision()) {
    auto decision = decision_from_proto(in.decision());
    if (!decision) return Failure{"history: " + decision.error()};
    h.decision = std::move(*decision);
  }
  h.ban_count = in.ban_count();
  if (in.entries_size() > static_cast<int>(kMaxHistoryRows)) return Failure{"history: too many rows"};
  h.entries.reserve(static_cast<std::size_t>(in.entries_size()));
  for (const auto& e : in.entries()) {
    auto kind = history_kind_from(static_cast<std::uint32_t>(e.kind()));
    if (!kind) return Failure{"history: bad row kind"};
    if ((!e.host().empty() && !is_valid_name(e.host())) || (!e.jail().empty() && !is_valid_name(e.jail()))) {
      return Failure{"history: bad name"};
    }
    if (e.reason().size() > kMaxHistoryReasonBytes) return Failure{"history: reason too long"};
    h.entries.push_back({.at = from_unix(e.at()),
                         .kind = *kind,
                         .fleet = e.fleet(),
                         .host = e.host(),
                         .jail = e.jail(),
                         .reason = e.reason()});
  }
  h.total = std::max<std::uint64_t>(in.total(), h.entries.size());
  return reply;
}

}  // namespace fleetban::common
