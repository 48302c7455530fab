#include "cli/show_command.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <ctime>
#include <ostream>
#include <zmq.hpp>

#include "common/aggregator_client.hpp"
#include "common/endpoint_list.hpp"
#include "common/errors.hpp"
#include "common/history_json.hpp"
#include "common/socket_factory.hpp"

namespace fleetban::cli {

namespace {

std::string utc(common::UnixSeconds t) {
  std::time_t seconds = common::to_unix(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%SZ", &tm);
  return text;
}

// What a row was: a change of the fleet's decision, a host's report, or a refusal.
std::string what(const common::HistoryEntry& e) {
  std::string kind(common::history_kind_name(e.kind));
  if (e.kind == common::HistoryKind::refused) return kind;
  return e.fleet ? "fleet " + kind : kind + " report";
}

std::string or_dash(const std::string& text) { return text.empty() ? "-" : text; }

}  // namespace

void print_history(const common::AddressHistory& h, std::ostream& out) {
  out << h.prefix.to_string() << ": ";
  if (h.decision) {
    const common::Decision& d = *h.decision;
    out << "banned by the fleet " << (d.expires_at ? "until " + utc(*d.expires_at) : std::string("permanently"))
        << fmt::format(" (ban {}; since {}; reporters {}; jails {})\n", d.ban_count, utc(d.banned_at),
                       fmt::join(d.reporters, ","), fmt::join(d.jails, ","));
  } else {
    out << "not banned by the fleet now"
        << (h.ban_count > 0 ? fmt::format(" (banned {} time{} before)", h.ban_count, h.ban_count == 1 ? "" : "s") : "")
        << "\n";
  }
  if (h.entries.empty()) {
    out << "no history kept (rows are kept for forget_after)\n";
    return;
  }
  out << fmt::format("{:<21} {:<15} {:<16} {:<12} {}\n", "WHEN (UTC)", "WHAT", "BY", "JAIL", "WHY");
  for (const auto& e : h.entries) {
    out << fmt::format("{:<21} {:<15} {:<16} {:<12} {}\n", utc(e.at), what(e), or_dash(e.host), or_dash(e.jail),
                       e.reason);
  }
  out << h.entries.size() << " row" << (h.entries.size() == 1 ? "" : "s") << ", newest first";
  if (h.total > h.entries.size()) out << " (the newest " << h.entries.size() << " of " << h.total << ")";
  out << "\n";
}

int show(const common::HostConfig& config, const common::IpPrefix& prefix, ListFormat format, std::ostream& out) {
  zmq::context_t context;
  common::ClientSockets sockets(context, config.security);
  auto answered = common::ask_in_turn(
      sockets, config.aggregators, std::max(config.timeout, std::chrono::milliseconds(3000)),
      [&](zmq::socket_t& ingest, auto share) { return common::fetch_history(ingest, prefix, share); });
  if (!answered) throw common::RuntimeError(answered.error());
  const common::AddressHistory* history = &answered->answer;
  if (format == ListFormat::json) {
    out << common::history_json(*history) << "\n";
  } else {
    print_history(*history, out);
  }
  return common::kExitOk;
}

}  // namespace fleetban::cli
