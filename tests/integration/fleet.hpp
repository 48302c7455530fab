// A whole fleet on loopback, built in one test's temp dir: an aggregator with
// its own ports and state.db, hosts with their own host.toml, spool and exec
// backend logs, and the programs started and stopped as the test says.
#pragma once

#include "harness.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fleetban::testing {

// Who a piece of security configuration is for.
enum class Peer { aggregator, host };

// ALL the security-related configuration of the suite, as TOML lines for the
// top level of a config file. Today the suite runs without CURVE
// (`insecure = true` on both ends); switching it to CURVE is a change of this
// function alone (see kCurveByDefault in fleet.cpp), and FLEETBAN_TEST_SECURITY=curve
// tries it without a rebuild. `name` is the host's host_id; `dir` the test's
// temp dir, where keys would be made with `fleetban keygen`.
std::string security_settings(const std::filesystem::path& dir, Peer peer, const std::string& name);

// A Fleet's security: the suite's default (above), or CURVE whatever the default
// (the security tests). Keys then live in DIR/keys (NAME.key, NAME.pub, made by
// `fleetban keygen`), the aggregator's authorized_dir is DIR/keys/authorized.
enum class SecurityMode { suite_default, curve };
std::string security_settings(const std::filesystem::path& dir, Peer peer, const std::string& name,
                              SecurityMode security);

// Seconds since the epoch, as fleetban's --time and expires_at count them.
std::int64_t unix_now();

// Quotes a string for TOML (a basic string).
std::string toml_string(std::string_view text);

struct HostOptions {
  std::chrono::milliseconds timeout{2000};  // timeout_ms
  std::string extra_top_level;              // more top-level TOML lines, verbatim
};

// One host's files. Its exec backend appends "<ip> <expires>" to ban_log for
// every ban it enforces and "<ip>" to unban_log for every unban.
struct Host {
  std::string id;
  std::filesystem::path dir;
  std::filesystem::path config;
  std::filesystem::path spool;
  std::filesystem::path ban_log;
  std::filesystem::path unban_log;
};

// The addresses an exec backend log holds, one per line, in order.
std::vector<std::string> recorded_addresses(const std::filesystem::path& log);
bool recorded(const std::filesystem::path& log, std::string_view ip);

// The entry for ip in a `fleetban list --json` document, or nullptr.
const nlohmann::json* find_ban(const nlohmann::json& document, std::string_view ip);

// The strings of a JSON array (a ban's reporters or jails), sorted; other values as JSON text.
std::vector<std::string> strings_of(const nlohmann::json& array);

class Fleet {
 public:
  // Picks the ports and writes DIR/aggregator.toml; starts nothing.
  explicit Fleet(const TempDir& dir, SecurityMode security = SecurityMode::suite_default);
  // Kills what is still running. If the test has failed, prints the logs of
  // every program it started first.
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  const std::filesystem::path& aggregator_config() const { return aggregator_config_; }
  const std::filesystem::path& state_db() const { return state_db_; }
  // Where the keys are when the fleet uses CURVE (see SecurityMode).
  std::filesystem::path keys_dir() const { return dir_ / "keys"; }
  std::filesystem::path authorized_dir() const { return keys_dir() / "authorized"; }
  std::string ingest_endpoint() const;
  std::string broadcast_endpoint() const;

  // Keeps the aggregator's state in `state` (a postgresql:// URL) rather than DIR/state.db, from
  // the next write_aggregator_config() on (this one included).
  void use_state(std::string state);

  // (Re)writes aggregator.toml, with extra top-level TOML lines verbatim, and `http` (off when "").
  void write_aggregator_config(std::string_view extra_top_level = "", std::string_view http = "");

  // Writes DIR/<id>/host.toml and creates the host's spool dir. Add every host
  // before starting the aggregator: with CURVE it admits the keys it finds then.
  const Host& add_host(const std::string& id, const HostOptions& options = {});

  // Starts the aggregator and waits until `fleetban list` through `via`
  // answers (exit 0). Fails if it does not, or if the aggregator exits.
  ::testing::AssertionResult start_aggregator(const Host& via);
  // SIGTERM, then SIGKILL after a grace period; returns the exit code.
  int stop_aggregator();
  Process* aggregator() { return aggregator_.get(); }

  Process& start_subscriber(const Host& host);

  // fleetban-publish ARGS --config HOST_TOML, to its end.
  RunResult publish(const Host& host, std::vector<std::string> args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  // fleetban list --json --config HOST_TOML, once.
  RunResult list(const Host& via) const;

  // Polls until the host's backend has enforced a ban / an unban of ip.
  ::testing::AssertionResult enforced(const Host& host, std::string_view ip, Deadline deadline = deadline_in(kSoon));
  ::testing::AssertionResult lifted(const Host& host, std::string_view ip, Deadline deadline = deadline_in(kSoon));

  // Polls `fleetban list --json` until predicate holds for the document; the
  // last document seen is left in *last.
  // Polls `fleetban list --json` until it no longer shows ip.
  ::testing::AssertionResult unlisted(const Host& via, const std::string& ip, Deadline deadline = deadline_in(kSoon));

  ::testing::AssertionResult list_until(const Host& via, std::string_view what,
                                        const std::function<bool(const nlohmann::json&)>& predicate,
                                        nlohmann::json* last = nullptr, Deadline deadline = deadline_in(kSoon));

  // Publishes a ban of a fresh probe address (192.0.2.200 and up) through via
  // and waits until every running subscriber has enforced it. Afterwards every
  // subscriber follows the broadcast and has applied every event that the
  // aggregator acked before the probe: a barrier for "this did not happen".
  ::testing::AssertionResult probe_subscribers(const Host& via);

 private:
  std::string subscriber_state(const Host& host);

  std::filesystem::path dir_;
  SecurityMode security_;
  std::filesystem::path aggregator_config_;
  std::filesystem::path state_db_;
  std::string state_;  // what aggregator.toml's `state` says: state_db_ unless use_state() said otherwise
  std::uint16_t ingest_port_;
  std::uint16_t broadcast_port_;
  std::map<std::string, std::unique_ptr<Host>> hosts_;
  std::unique_ptr<Process> aggregator_;
  int aggregator_starts_ = 0;
  std::map<std::string, std::unique_ptr<Process>> subscribers_;
  std::vector<std::unique_ptr<Process>> stopped_;  // kept for their logs
  int probes_ = 0;
};

}  // namespace fleetban::testing
