#include "fleet.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace fleetban::testing {
namespace {

// The suite runs without CURVE until the programs have it; flipping this is
// the one change that switches every test to CURVE.
constexpr bool kCurveByDefault = false;

bool use_curve() {
  if (const char* mode = std::getenv("FLEETBAN_TEST_SECURITY"); mode != nullptr) {
    return std::string_view(mode) == "curve";
  }
  return kCurveByDefault;
}

// `fleetban keygen NAME --dir DIR`, once per name.
void ensure_key(const std::filesystem::path& keys, const std::string& name) {
  if (std::filesystem::exists(keys / (name + ".key"))) {
    return;
  }
  std::filesystem::create_directories(keys);
  const auto result = run({program("fleetban"), "keygen", name, "--dir", keys.string()});
  if (result.exit_code != 0) {
    throw std::runtime_error("cannot make a CURVE key for " + name + "\n" + describe(result));
  }
}

void print_log(const Process& process) {
  std::cerr << "----- " << describe(process.argv()) << "\n----- log " << process.log_file().string()
            << " (last lines)\n"
            << last_lines(process.log(), 60) << "\n";
}

}  // namespace

std::string security_settings(const std::filesystem::path& dir, Peer peer, const std::string& name) {
  return security_settings(dir, peer, name, SecurityMode::suite_default);
}

std::string security_settings(const std::filesystem::path& dir, Peer peer, const std::string& name,
                              SecurityMode security) {
  if (security != SecurityMode::curve && !use_curve()) {
    return "insecure = true\n";
  }
  const auto keys = dir / "keys";
  const auto authorized = keys / "authorized";
  std::filesystem::create_directories(authorized);
  ensure_key(keys, "aggregator");
  std::string lines = "insecure = false\n";
  if (peer == Peer::aggregator) {
    lines += "server_key = " + toml_string((keys / "aggregator.key").string()) + "\n";
    lines += "authorized_dir = " + toml_string(authorized.string()) + "\n";
    return lines;
  }
  ensure_key(keys, name);
  std::filesystem::copy_file(keys / (name + ".pub"), authorized / (name + ".pub"),
                             std::filesystem::copy_options::overwrite_existing);
  lines += "server_key = " + toml_string((keys / "aggregator.pub").string()) + "\n";
  lines += "client_key = " + toml_string((keys / (name + ".key")).string()) + "\n";
  return lines;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string toml_string(std::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::vector<std::string> recorded_addresses(const std::filesystem::path& log) {
  std::vector<std::string> addresses;
  std::istringstream lines(read_file(log));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string first;
    if (words >> first) {
      addresses.push_back(first);
    }
  }
  return addresses;
}

bool recorded(const std::filesystem::path& log, std::string_view ip) {
  const auto addresses = recorded_addresses(log);
  return std::find(addresses.begin(), addresses.end(), ip) != addresses.end();
}

const nlohmann::json* find_ban(const nlohmann::json& document, std::string_view ip) {
  if (!document.is_object() || !document.contains("bans") || !document["bans"].is_array()) {
    return nullptr;
  }
  for (const auto& ban : document["bans"]) {
    if (ban.is_object() && ban.contains("ip") && ban["ip"].is_string() && ban["ip"].get<std::string>() == ip) {
      return &ban;
    }
  }
  return nullptr;
}

// ---------------------------------------------------------------- Fleet

Fleet::Fleet(const TempDir& dir, SecurityMode security)
    : dir_(dir.path()),
      security_(security),
      aggregator_config_(dir.path() / "aggregator.toml"),
      state_db_(dir.path() / "state.db"),
      state_(state_db_.string()),
      ingest_port_(free_tcp_port()),
      broadcast_port_(free_tcp_port()) {
  write_aggregator_config();
}

Fleet::~Fleet() {
  const bool failed = ::testing::Test::HasFailure();
  if (failed) {
    std::cerr << "===== test dir " << dir_.string() << " (set FLEETBAN_KEEP_TEST_DIRS=1 to keep it)\n";
    for (const auto& process : stopped_) {
      print_log(*process);
    }
    if (aggregator_) {
      print_log(*aggregator_);
    }
    for (const auto& [id, process] : subscribers_) {
      print_log(*process);
    }
  }
  // Subscribers first, so that none of them is left waiting for the aggregator.
  subscribers_.clear();
  aggregator_.reset();
}

std::string Fleet::ingest_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(ingest_port_); }

std::string Fleet::broadcast_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(broadcast_port_); }

void Fleet::use_state(std::string state) {
  state_ = std::move(state);
  write_aggregator_config();
}

void Fleet::write_aggregator_config(std::string_view extra_top_level, std::string_view http) {
  std::string toml;
  toml += "ingest    = " + toml_string(ingest_endpoint()) + "\n";
  toml += "broadcast = " + toml_string(broadcast_endpoint()) + "\n";
  toml += "http      = " + toml_string(http) + "\n";
  toml += "state     = " + toml_string(state_) + "\n";
  toml += security_settings(dir_, Peer::aggregator, "aggregator", security_);
  toml += extra_top_level;
  toml += "\n[policy]\nmin_reporters = 1\n";
  write_file(aggregator_config_, toml);
}

const Host& Fleet::add_host(const std::string& id, const HostOptions& options) {
  auto host = std::make_unique<Host>();
  host->id = id;
  host->dir = dir_ / id;
  host->config = host->dir / "host.toml";
  host->spool = host->dir / "spool";
  host->ban_log = host->dir / "bans.log";
  host->unban_log = host->dir / "unbans.log";
  std::filesystem::create_directories(host->spool);

  // The exec backend splits each command into words and runs it with no
  // shell of its own: /bin/sh -c with positional arguments records a call
  // without ever letting a shell see a value.
  const std::string ban_command = "/bin/sh -c 'echo \"$1 $2\" >> " + host->ban_log.string() + "' sh <ip> <expires>";
  const std::string unban_command = "/bin/sh -c 'echo \"$1\" >> " + host->unban_log.string() + "' sh <ip>";

  std::string toml;
  toml += "host_id    = " + toml_string(id) + "\n";
  toml += "aggregator = " + toml_string(ingest_endpoint()) + "\n";
  toml += "broadcast  = " + toml_string(broadcast_endpoint()) + "\n";
  toml += "spool_dir  = " + toml_string(host->spool.string()) + "\n";
  toml += "timeout_ms = " + std::to_string(options.timeout.count()) + "\n";
  toml += security_settings(dir_, Peer::host, id, security_);
  toml += options.extra_top_level;
  toml += "\n[enforce]\n";
  toml += "backend       = \"exec\"\n";
  toml += "ban_command   = " + toml_string(ban_command) + "\n";
  toml += "unban_command = " + toml_string(unban_command) + "\n";
  write_file(host->config, toml);

  auto& slot = hosts_[id];
  slot = std::move(host);
  return *slot;
}

::testing::AssertionResult Fleet::start_aggregator(const Host& via) {
  if (aggregator_) {
    stop_aggregator();
  }
  ++aggregator_starts_;
  aggregator_ = std::make_unique<Process>(
      std::vector<std::string>{program("fleetban-aggregator"), "--config", aggregator_config_.string()},
      dir_ / "logs" / ("aggregator-" + std::to_string(aggregator_starts_) + ".log"));

  RunResult last;
  bool exited = false;
  auto ready = poll_until(
      [&] {
        if (!aggregator_->running()) {
          exited = true;
          return true;
        }
        last = list(via);
        return last.exit_code == 0;
      },
      deadline_in(kSoon), "the aggregator to answer `fleetban list`", [&] { return describe(last); });
  if (exited) {
    return ::testing::AssertionFailure() << "the aggregator exited with code "
                                         << aggregator_->wait_for_exit(Clock::now()).value_or(-1)
                                         << " while starting; its log:\n"
                                         << aggregator_->log();
  }
  return ready;
}

int Fleet::stop_aggregator() {
  if (!aggregator_) {
    return -1;
  }
  const int code = aggregator_->terminate();
  stopped_.push_back(std::move(aggregator_));
  return code;
}

Process& Fleet::start_subscriber(const Host& host) {
  auto& slot = subscribers_[host.id];
  if (slot) {
    stopped_.push_back(std::move(slot));
  }
  slot = std::make_unique<Process>(
      std::vector<std::string>{program("fleetban-subscriber"), "--config", host.config.string()},
      dir_ / "logs" / ("subscriber-" + host.id + ".log"));
  return *slot;
}

RunResult Fleet::publish(const Host& host, std::vector<std::string> args, std::chrono::milliseconds timeout) const {
  args.insert(args.begin(), program("fleetban-publish"));
  args.emplace_back("--config");
  args.push_back(host.config.string());
  return run(args, timeout);
}

RunResult Fleet::list(const Host& via) const {
  return run({program("fleetban"), "list", "--json", "--config", via.config.string()}, std::chrono::seconds(20));
}

std::string Fleet::subscriber_state(const Host& host) {
  const auto it = subscribers_.find(host.id);
  if (it == subscribers_.end()) {
    return "(no subscriber was started on " + host.id + ")\n";
  }
  if (it->second->running()) {
    return "(the subscriber of " + host.id + " is running)\n";
  }
  return "(the subscriber of " + host.id + " has EXITED with code " +
         std::to_string(it->second->wait_for_exit(Clock::now()).value_or(-1)) + ")\n";
}

::testing::AssertionResult Fleet::enforced(const Host& host, std::string_view ip, Deadline deadline) {
  return poll_until([&] { return recorded(host.ban_log, ip); }, deadline,
                    host.id + "'s backend to ban " + std::string(ip),
                    [&] { return subscriber_state(host) + host.ban_log.string() + ":\n" + read_file(host.ban_log); });
}

::testing::AssertionResult Fleet::lifted(const Host& host, std::string_view ip, Deadline deadline) {
  return poll_until(
      [&] { return recorded(host.unban_log, ip); }, deadline, host.id + "'s backend to unban " + std::string(ip),
      [&] { return subscriber_state(host) + host.unban_log.string() + ":\n" + read_file(host.unban_log); });
}

std::vector<std::string> strings_of(const nlohmann::json& array) {
  std::vector<std::string> values;
  if (array.is_array()) {
    for (const auto& value : array) {
      values.push_back(value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
  std::sort(values.begin(), values.end());
  return values;
}

::testing::AssertionResult Fleet::unlisted(const Host& via, const std::string& ip, Deadline deadline) {
  return list_until(
      via, "`fleetban list --json` to no longer show " + ip,
      [&](const nlohmann::json& doc) { return doc.contains("bans") && find_ban(doc, ip) == nullptr; }, nullptr,
      deadline);
}

::testing::AssertionResult Fleet::list_until(const Host& via, std::string_view what,
                                             const std::function<bool(const nlohmann::json&)>& predicate,
                                             nlohmann::json* last, Deadline deadline) {
  RunResult result;
  nlohmann::json document;
  auto outcome = poll_until(
      [&] {
        result = list(via);
        if (result.exit_code != 0) {
          return false;
        }
        document = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
        return !document.is_discarded() && predicate(document);
      },
      deadline, what, [&] { return describe(result); });
  if (last != nullptr) {
    *last = document;
  }
  return outcome;
}

::testing::AssertionResult Fleet::probe_subscribers(const Host& via) {
  const std::string probe = "192.0.2." + std::to_string(200 + probes_++);
  const auto result = publish(via, {"ban", "--ip", probe, "--jail", "probe", "--bantime", "3600"});
  if (result.exit_code != 0) {
    return ::testing::AssertionFailure() << "the probe ban was not published\n" << describe(result);
  }
  for (const auto& [id, process] : subscribers_) {
    auto seen = enforced(*hosts_.at(id), probe);
    if (!seen) {
      return seen << "\n(the probe ban " << probe << " did not reach every subscriber)";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace fleetban::testing
