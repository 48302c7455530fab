#include "cli/commands.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <ostream>
#include <zmq.hpp>

#include "common/active_decisions.hpp"
#include "common/aggregator_client.hpp"
#include "common/bans_json.hpp"
#include "common/endpoint_list.hpp"
#include "common/errors.hpp"
#include "common/event.hpp"
#include "common/keys.hpp"
#include "common/socket_factory.hpp"
#include "common/spool.hpp"

namespace fleetban::cli {

namespace {

std::string format_expiry(const common::Decision& d) {
  if (!d.expires_at) return "never";
  std::time_t t = common::to_unix(*d.expires_at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%SZ", &tm);
  return text;
}

// `fleetban list`'s COUNTRY and NETWORK ("-" where GeoIP does not know): "NL", "AS64496 Example Net".
std::string country_text(const common::Decision& d) { return d.geo && !d.geo->country.empty() ? d.geo->country : "-"; }
std::string network_text(const common::Decision& d) {
  if (!d.geo || (d.geo->asn == 0 && d.geo->as_org.empty())) return "-";
  std::string text = d.geo->asn != 0 ? "AS" + std::to_string(d.geo->asn) : "";
  if (!d.geo->as_org.empty()) text += (text.empty() ? "" : " ") + d.geo->as_org;
  return text;
}

// Operator requests wait longer than a publish: a person is waiting, not Fail2Ban.
std::chrono::milliseconds operator_timeout(const common::HostConfig& config) {
  return std::max(config.timeout, std::chrono::milliseconds(3000));
}

int send_operator_event(const common::HostConfig& config, common::Event event, std::ostream& out) {
  event.id = common::random_event_id();
  event.jail = "manual";
  event.host_id = config.host_id;
  event.time = common::now_ms();
  event.created = event.time;
  event.operator_action = true;
  zmq::context_t context;
  common::ClientSockets sockets(context, config.security);
  // With several endpoints one event may reach two of them: the aggregator applies its id once.
  auto acked =
      common::ask_in_turn(sockets, config.aggregators, operator_timeout(config),
                          [&](zmq::socket_t& ingest, auto share) { return common::send_event(ingest, event, share); });
  if (!acked) throw common::RuntimeError(acked.error() + "; nothing was changed");
  const common::Ack* ack = &acked->answer;
  if (ack->outcome == common::AckOutcome::refused || ack->outcome == common::AckOutcome::throttled) {
    throw common::RuntimeError("refused by the aggregator: " + ack->reason);
  }
  out << (event.kind == common::EventKind::ban ? "banned " : "unbanned ") << event.prefix.to_string()
      << " fleet-wide\n";
  return common::kExitOk;
}

std::string human_bytes(std::uint64_t bytes) {
  if (bytes >= 1024 * 1024) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  if (bytes >= 1024) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024.0);
  return fmt::format("{} B", bytes);
}

}  // namespace

int ban(const common::HostConfig& config, const OperatorBan& request, std::ostream& out) {
  if (request.bantime < common::kPermanentBan || request.bantime > common::kMaxBantime) {
    throw common::UsageError("--bantime: must be -1 (permanent) or 0.." + std::to_string(common::kMaxBantime.count()));
  }
  if (request.reason.size() > 256) throw common::UsageError("--reason: at most 256 characters");
  common::Event event;
  event.kind = common::EventKind::ban;
  event.prefix = request.prefix;
  event.bantime = request.bantime;
  event.reason = request.reason;
  return send_operator_event(config, std::move(event), out);
}

int unban(const common::HostConfig& config, const common::IpPrefix& prefix, std::ostream& out) {
  common::Event event;
  event.kind = common::EventKind::unban;
  event.prefix = prefix;
  return send_operator_event(config, std::move(event), out);
}

int status(const common::HostConfig& config, std::ostream& out) {
  int exit = common::kExitOk;
  zmq::context_t context;
  common::ClientSockets sockets(context, config.security);
  auto answered = common::ask_in_turn(sockets, config.aggregators, operator_timeout(config), common::fetch_status);
  if (answered) {
    const common::Status* status = &answered->answer;
    std::string incarnation;
    for (unsigned char c : status->incarnation) incarnation += fmt::format("{:02x}", c);
    out << fmt::format("aggregator:   reachable at {}\n", answered->endpoint)
        << fmt::format("sequence:     {} (incarnation {})\n", status->sequence, incarnation);
    if (!status->member.empty()) {  // an HA group's active member (PostgreSQL state)
      out << fmt::format("active:       {} since {:%Y-%m-%d %H:%M:%S} UTC (HA epoch {})\n", status->member,
                         fmt::gmtime(static_cast<std::time_t>(common::to_unix(status->active_since))), status->epoch);
    }
    out << fmt::format("active bans:  {}\n", status->active_bans)
        << fmt::format("hosts:        {} reported since the aggregator started\n", status->reporters)
        << fmt::format("subscribers:  {} connected\n", status->subscribers);
  } else {
    out << fmt::format("aggregator:   UNREACHABLE: {}\n", answered.error());
    exit = common::kExitRuntime;
  }
  common::Spool spool(config.spool_dir, config.spool_max_bytes);
  auto files = spool.list();
  std::uint64_t bytes = spool.size_bytes();
  out << fmt::format("spool:        {} event{} waiting, {} of {} in {}\n", files.size(), files.size() == 1 ? "" : "s",
                     human_bytes(bytes), human_bytes(config.spool_max_bytes), config.spool_dir.string());
  if (config.spool_max_bytes > 0 && bytes * 10 >= config.spool_max_bytes * 9) {
    out << "spool:        FULL or nearly full: new events will be lost; is the aggregator reachable?\n";
    exit = common::kExitRuntime;
  }
  std::size_t bad = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(config.spool_dir / "bad", ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".reason") ++bad;  // NAME.reason says why NAME is there
  }
  if (bad > 0)
    out << fmt::format("spool:        {} unreadable or refused file(s) set aside in {}\n", bad,
                       (config.spool_dir / "bad").string());
  return exit;
}

int keygen(const std::string& name, const std::filesystem::path& dir, std::ostream& out) {
  if (!common::is_valid_name(name)) {
    throw common::UsageError("keygen: '" + name + "' is not a valid key name (1-64 of A-Z a-z 0-9 . _ @ : -)");
  }
  auto [secret, public_key] = common::write_keypair(dir, name);
  out << "secret key: " << secret.string() << " (keep it on this machine, mode 0600)\n"
      << "public key: " << public_key.string() << " (copy it to the aggregator's authorized_dir)\n";
  return common::kExitOk;
}

int list(const common::HostConfig& config, ListFormat format, std::ostream& out) {
  zmq::context_t context;
  common::ClientSockets sockets(context, config.security);
  auto answered =
      common::ask_in_turn(sockets, config.aggregators, operator_timeout(config), [](zmq::socket_t& ingest, auto share) {
        return common::fetch_snapshot(ingest, share, {}, common::WithGeo::yes);
      });
  if (!answered) throw common::RuntimeError(answered.error());
  const common::Snapshot* snapshot = &answered->answer;
  if (format == ListFormat::json) {
    out << common::bans_json(snapshot->decisions) << "\n";
    return common::kExitOk;
  }
  const auto bans = common::active_by_prefix(snapshot->decisions);
  // With GeoIP on the aggregator, every decision carries its Geo: two more columns.
  const bool geo = std::any_of(bans.begin(), bans.end(), [](const auto* d) { return d->geo != nullptr; });
  out << fmt::format("{:<40} {:<21} {:>5}  ", "ADDRESS", "EXPIRES (UTC)", "BANS")
      << (geo ? fmt::format("{:<7} {:<32} ", "COUNTRY", "NETWORK") : "")
      << fmt::format("{:<24} {}\n", "JAILS", "REPORTERS");
  for (const auto* d : bans) {
    out << fmt::format("{:<40} {:<21} {:>5}  ", d->prefix.to_string(), format_expiry(*d), d->ban_count)
        << (geo ? fmt::format("{:<7} {:<32} ", country_text(*d), network_text(*d)) : "")
        << fmt::format("{:<24} {}\n", fmt::join(d->jails, ","), fmt::join(d->reporters, ","));
  }
  out << bans.size() << " active ban" << (bans.size() == 1 ? "" : "s") << " at sequence " << snapshot->sequence << "\n";
  return common::kExitOk;
}

}  // namespace fleetban::cli
