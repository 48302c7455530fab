#pragma once
// The ZAP handler of a serving program (the aggregator) (ZeroMQ RFC 27): decides which CURVE client keys may connect.
// libzmq lets every key in when no handler is bound, so it is bound before any CURVE socket
// exists, and the service treats a handler that died as fatal (alive()).
//
// Admitted keys: authorized_dir/NAME.pub (a host whose host_id is NAME),
// authorized_dir/operators/NAME.pub (an operator) and authorized_dir/relays/NAME.pub (a relay).
// The handler hands the connection's identity to libzmq as its User-Id, "host:NAME:KEY",
// "operator:NAME:KEY" or "relay:NAME:KEY" (KEY: the public key in hex),
// which every message then carries: an identity is its key, so a connection made with a key that
// was since replaced under the same name is told apart from one made with the new key.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "server/peer_identity.hpp"

namespace fleetban::server {

class ZapHandler {
 public:
  using KeyMap = std::map<std::string, std::string>;  // 32 raw key bytes -> "host:NAME:KEY" / ...

  // Reads the keys (throws UsageError naming a bad key file) and starts answering.
  ZapHandler(zmq::context_t& context, std::filesystem::path authorized_dir);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Rereads authorized_dir within 100 ms (SIGHUP). A bad key file is logged by name and its key
  // is not admitted; the other files take effect.
  void reload() { reload_ = true; }
  bool alive() const { return alive_.load(); }
  // Counters: rereads done (whether they took or not), and those that removed or replaced a key.
  std::uint64_t reloads() const { return reloads_.load(); }
  std::uint64_t revocations() const { return revocations_.load(); }

  // Whether a connection of this identity (name and key) would be admitted now. A connection
  // outlives the removal or replacement of its key (libzmq asks only at the handshake), so the
  // service asks this for what it receives.
  bool admits(const PeerIdentity& peer) const;
  // Whether some key is admitted now under this role and name (what a relay may vouch for).
  bool admits_name(PeerRole role, const std::string& name) const;
  // Every key admitted now (the host table lists them all, also those never connected).
  std::vector<PeerIdentity> admitted() const;

 private:
  void serve(zmq::socket_t socket, KeyMap keys);  // keys: as read at construction
  void admit(const KeyMap& keys);

  std::filesystem::path authorized_dir_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
  std::atomic<bool> alive_{true};
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> revocations_{0};
  mutable std::mutex admitted_mutex_;
  std::set<std::string> admitted_;        // the User-Ids of the keys now in authorized_dir
  std::set<std::string> admitted_names_;  // "ROLE:NAME" of the same keys
  std::thread thread_;
};

}  // namespace fleetban::server
