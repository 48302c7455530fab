#pragma once
// The operator's tool, one function per subcommand; cli/main.cpp parses the flags and calls one.

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <string>

#include "common/host_config.hpp"

namespace fleetban::cli {

// fleetban keygen NAME [--dir DIR]
int keygen(const std::string& name, const std::filesystem::path& dir, std::ostream& out);

enum class ListFormat { table, json };

// fleetban list [--json]: the fleet's active bans, over the snapshot path.
int list(const common::HostConfig& config, ListFormat format, std::ostream& out);

struct OperatorBan {
  common::IpPrefix prefix;
  std::chrono::seconds bantime{0};  // 0: the aggregator's default_bantime; -1 permanent
  std::string reason;
};

// fleetban ban IP: a fleet-wide ban, recorded with the operator key's name and the reason.
// Exits 1 (and says why) when refused or when the aggregator does not answer.
int ban(const common::HostConfig& config, const OperatorBan& request, std::ostream& out);

// fleetban unban IP: lifts a fleet ban everywhere.
int unban(const common::HostConfig& config, const common::IpPrefix& prefix, std::ostream& out);

// fleetban status: the aggregator (reachable, sequence, counts) and this host's spool.
// Exits 1 when the aggregator is unreachable or the spool is full.
int status(const common::HostConfig& config, std::ostream& out);

}  // namespace fleetban::cli
