#pragma once
// How a host enforces fleet decisions. One small interface; each backend is one file
// (log_backend, exec_backend; fail2ban and nftables drop in the same way).

#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/decision.hpp"
#include "common/host_config.hpp"

namespace fleetban::subscriber {

class Backend {
 public:
  virtual ~Backend() = default;

  // Enforces these active decisions (new ones, or changed ones such as a later expiry). Returns
  // the decisions it could not enforce, so the caller can retry them.
  virtual std::vector<common::Decision> ban(std::span<const common::Decision> decisions) = 0;

  // Stops enforcing these prefixes; returns the ones it could not lift.
  virtual std::vector<common::IpPrefix> unban(std::span<const common::IpPrefix> prefixes) = 0;

  // What the backend really enforces now, where it can tell (a Fail2Ban jail, an nftables set);
  // nullopt where it cannot (exec, log), and then the subscriber's own record is taken as true.
  virtual std::optional<std::vector<common::IpPrefix>> enforced() { return std::nullopt; }

  // After a snapshot: makes the backend enforce exactly these active decisions, replacing all it
  // held, in one atomic step (an nftables transaction). false when it cannot (the default) or it
  // failed; the caller then reconciles with enforced(), unban() and ban().
  virtual bool replace_all(std::span<const common::Decision> /*decisions*/) { return false; }

  // What failed after ban() or unban() returned, for a backend that does its work in the
  // background (exec); each is returned once. The caller retries those still wanted.
  struct Failures {
    std::vector<common::Decision> bans;
    std::vector<common::IpPrefix> unbans;
  };
  virtual Failures take_failures() { return {}; }

  // Whether what the backend enforces is still in place as a whole. false when it was removed
  // behind the subscriber's back (a firewall reload's `nft flush ruleset` deleting the table), so
  // that everything must be applied again. Asked every few seconds, so it must be cheap.
  virtual bool intact() { return true; }
};

// `config` as load_host_config checked it (std::logic_error otherwise). The nftables backend sets
// its table up here: it throws RuntimeError when nft cannot (not root, no nft).
std::unique_ptr<Backend> make_backend(const common::EnforceConfig& config);

}  // namespace fleetban::subscriber
