#include "common/host_codec.hpp"

#include <algorithm>

#include "common/event.hpp"
#include "fleetban.pb.h"

namespace fleetban::common {

namespace {

constexpr std::size_t kMaxIdBytes = 32;  // a request id or an incarnation, as in codec.cpp

// Text a host sends about itself goes into logs, JSON and a terminal: ASCII, nothing unprintable.
std::string printable_ascii(std::string_view text, std::size_t max_bytes) {
  std::string out(text.substr(0, max_bytes));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

// A count a host reports: never negative, and exact as a JSON number or a Prometheus float.
bool reportable(std::int64_t value) { return value >= 0 && static_cast<std::uint64_t>(value) <= kMaxReportedNumber; }

}  // namespace

void host_report_to_proto(const HostReport& report, v1::HostReport& out) {
  out.set_host_id(report.host_id);
  out.set_sequence(report.sequence);
  out.set_incarnation(report.incarnation);
  out.set_backend_error(report.backend_error);
  out.set_spool_bytes(static_cast<std::int64_t>(report.spool_bytes));
  out.set_spool_max_bytes(static_cast<std::int64_t>(report.spool_max_bytes));
  out.set_version(report.version);
}

Expected<HostReport> host_report_from_proto(const v1::HostReport& in) {
  if (!is_valid_name(in.host_id())) return Failure{"bad host id in host report"};
  if (in.sequence() > kMaxReportedNumber)
    return Failure{"host report sequence " + std::to_string(in.sequence()) + " beyond 2^53"};
  if (in.incarnation().size() > kMaxIdBytes) return Failure{"host report incarnation too long"};
  if (!reportable(in.spool_bytes()) || !reportable(in.spool_max_bytes())) {
    return Failure{"host report spool size " + std::to_string(in.spool_bytes()) + " of " +
                   std::to_string(in.spool_max_bytes()) + " is negative or beyond 2^53"};
  }
  if (in.version().size() > kMaxVersionBytes) return Failure{"host report version too long"};
  HostReport report;
  report.host_id = in.host_id();
  report.sequence = in.sequence();
  report.incarnation = in.incarnation();
  // Clamped, not refused: a backend's long complaint is still a complaint worth showing.
  report.backend_error = printable_ascii(in.backend_error(), kMaxBackendErrorBytes);
  report.spool_bytes = static_cast<std::uint64_t>(in.spool_bytes());
  report.spool_max_bytes = static_cast<std::uint64_t>(in.spool_max_bytes());
  report.version = printable_ascii(in.version(), kMaxVersionBytes);
  return report;
}

void hosts_request_to_proto(const HostsRequest& request, v1::HostsRequest& out) {
  out.set_request_id(request.request_id);
}

Expected<HostsRequest> hosts_request_from_proto(const v1::HostsRequest& in) {
  if (in.request_id().size() > kMaxIdBytes) return Failure{"request id too long"};
  return HostsRequest{in.request_id()};
}

void hosts_to_proto(const Hosts& hosts, v1::Hosts& out) {
  out.set_request_id(hosts.request_id);
  out.set_now(to_unix(hosts.now));
  out.set_sequence(hosts.sequence);
  for (const auto& h : hosts.hosts) {
    v1::HostEntry& e = *out.add_hosts();
    e.set_name(h.name);
    e.set_kind(to_string(h.kind));
    if (h.last_event_at) e.set_last_event_at(to_unix(*h.last_event_at));
    e.set_events_24h(h.events_24h);
    if (h.subscriber_seen_at) e.set_subscriber_seen_at(to_unix(*h.subscriber_seen_at));
    if (h.subscriber_sequence) e.set_subscriber_sequence(*h.subscriber_sequence);
    if (h.lag) e.set_lag(*h.lag);
    if (h.backend_error) e.set_backend_error(*h.backend_error);
    if (h.spool_bytes) e.set_spool_bytes(static_cast<std::int64_t>(*h.spool_bytes));
    if (h.spool_max_bytes) e.set_spool_max_bytes(static_cast<std::int64_t>(*h.spool_max_bytes));
    if (h.version) e.set_version(*h.version);
    e.set_stale(h.stale);
    e.set_behind(h.behind);
  }
}

Expected<Hosts> hosts_from_proto(const v1::Hosts& in) {
  if (in.request_id().size() > kMaxIdBytes) return Failure{"bad hosts header"};
  Hosts hosts{in.request_id(), from_unix(in.now()), in.sequence(), {}};
  hosts.hosts.reserve(static_cast<std::size_t>(in.hosts_size()));
  for (const auto& e : in.hosts()) {
    auto kind = host_kind_from_string(e.kind());
    if (!is_valid_name(e.name()) || !kind) return Failure{"bad host entry"};
    HostEntry h{
        .name = e.name(), .kind = *kind, .events_24h = e.events_24h(), .stale = e.stale(), .behind = e.behind()};
    if (e.has_last_event_at()) h.last_event_at = from_unix(e.last_event_at());
    if (e.has_subscriber_seen_at()) h.subscriber_seen_at = from_unix(e.subscriber_seen_at());
    if (e.has_subscriber_sequence()) h.subscriber_sequence = e.subscriber_sequence();
    if (e.has_lag()) h.lag = e.lag();
    if (e.has_backend_error()) h.backend_error = printable_ascii(e.backend_error(), kMaxBackendErrorBytes);
    if (e.has_spool_bytes()) h.spool_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, e.spool_bytes()));
    if (e.has_spool_max_bytes()) {
      h.spool_max_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, e.spool_max_bytes()));
    }
    if (e.has_version()) h.version = printable_ascii(e.version(), kMaxVersionBytes);
    hosts.hosts.push_back(std::move(h));
  }
  return hosts;
}

}  // namespace fleetban::common
