#pragma once
// The sockets a serving program (the aggregator) binds: the ingest ROUTER and the broadcast PUB,
// with CURVE and the ZAP handler that admits client keys, or none when `insecure = true`.

#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/security.hpp"
#include "common/socket_factory.hpp"
#include "server/zap_handler.hpp"

namespace fleetban::server {

// Messages the ROUTER queues for one client connection (ZMQ_SNDHWM). Acks count too: a client may
// send thousands of events before it reads their acks. Snapshots are bounded apart from this: a
// connection has at most one snapshot queued (SnapshotServer).
inline constexpr int kIngestSendQueue = 100'000;

// Connections the kernel queues on a bound socket before the server accepts them (ZMQ_BACKLOG;
// libzmq's default is 100, and the kernel caps it at net.core.somaxconn). When an aggregator
// restarts, every host of the fleet reconnects at once: with 100, thousands of SYNs are dropped
// and each waits out TCP's retransmission back-off (1, 3, 7, ... s) before it tries again.
inline constexpr int kListenBacklog = 4096;

// libzmq I/O threads for a serving program's context: one per CPU, at most 4. A broadcast goes out
// to every subscriber's connection from the I/O thread that owns it, so with one thread the last
// of a hundred subscribers waits for the ninety-nine sends (encrypt, write) before it; libzmq
// spreads connections over its I/O threads, and with two the sends run on both CPUs (bench P2:
// N=100 log p99 10.7-13.7 ms with one, 9.3-12.3 ms with two, paired runs of 12-02).
int server_io_threads();

class ServerSockets {
 public:
  // Unless insecure, starts the ZAP handler before any CURVE socket can exist.
  ServerSockets(zmq::context_t& context, const common::ServerSecurity& security);

  bool insecure() const { return insecure_; }
  // Rereads authorized_dir (SIGHUP), waiting up to a second for it to take effect. True when a
  // key was removed or replaced: its connections made before are still open.
  bool reload_keys();
  // False once the ZAP handler has died: the caller must stop, or every key would get in.
  bool authenticator_alive() const;
  // Whether this identity's key is still in authorized_dir (always true when insecure).
  bool admits(const PeerIdentity& peer) const;
  // Whether a key is admitted under this role and name (what a relay may vouch for; always true
  // when insecure).
  bool admits_name(PeerRole role, const std::string& name) const;
  // Every key admitted now (none when insecure: no key is checked).
  std::vector<PeerIdentity> admitted() const;

  // Handshake failures on the server's sockets (clients with the wrong security settings).
  std::optional<std::string> handshake_failure() const { return monitor_.failure(); }
  // Before a socket made here is closed and made anew (the broadcast's rebind):
  // common::HandshakeMonitor::detach.
  void release(zmq::socket_t& socket) const { monitor_.detach(socket); }

  // The ROUTER that takes events and snapshot requests.
  zmq::socket_t ingest(const std::string& endpoint) const;
  // The PUB that broadcasts decisions and heartbeats.
  zmq::socket_t broadcast(const std::string& endpoint) const;

 private:
  void secure(zmq::socket_t& socket) const;
  // Secures, monitors and binds it, with the listen backlog a whole fleet reconnecting needs.
  void bind(zmq::socket_t& socket, const std::string& endpoint) const;
  zmq::context_t& context_;
  mutable common::HandshakeMonitor monitor_;
  bool insecure_;
  std::string server_secret_;
  std::unique_ptr<ZapHandler> zap_;
};

}  // namespace fleetban::server
