#include "cli/commands.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <ostream>
#include <zmq.hpp>

#include "common/aggregator_client.hpp"
#include "common/bans_json.hpp"
#include "common/errors.hpp"
#include "common/event.hpp"
#include "common/keys.hpp"
#include "common/socket_factory.hpp"

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

}  // namespace

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
  zmq::socket_t ingest = sockets.ingest(config.aggregator);
  auto snapshot = common::fetch_snapshot(ingest, std::max(config.timeout, std::chrono::milliseconds(3000)));
  if (!snapshot) throw common::RuntimeError(snapshot.error() + " at " + config.aggregator);
  if (format == ListFormat::json) {
    out << common::bans_json(snapshot->decisions) << "\n";
    return common::kExitOk;
  }
  auto& bans = snapshot->decisions;
  std::sort(bans.begin(), bans.end(), [](const auto& a, const auto& b) { return a.prefix < b.prefix; });
  out << fmt::format("{:<40} {:<21} {:>5}  {:<24} {}\n", "ADDRESS", "EXPIRES (UTC)", "BANS", "JAILS", "REPORTERS");
  for (const auto& d : bans) {
    out << fmt::format("{:<40} {:<21} {:>5}  {:<24} {}\n", d.prefix.to_string(), format_expiry(d), d.ban_count,
                       fmt::join(d.jails, ","), fmt::join(d.reporters, ","));
  }
  out << bans.size() << " active ban" << (bans.size() == 1 ? "" : "s") << " at sequence " << snapshot->sequence
      << "\n";
  return common::kExitOk;
}

}  // namespace fleetban::cli
