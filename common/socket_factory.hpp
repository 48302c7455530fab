#pragma once
// Every ZeroMQ socket of fleetban is created and configured here: security (CURVE or, when both ends
// say `insecure = true`, none), message size limits, linger, IPv6, reconnect backoff, keepalives.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/security.hpp"
#include "common/zap_handler.hpp"

namespace fleetban::common {

// The largest frame any fleetban socket accepts; anything bigger is dropped by libzmq.
inline constexpr std::int64_t kMaxIngestMessageBytes = 64 * 1024;        // one event or snapshot request
inline constexpr std::int64_t kMaxReplyMessageBytes = 16 * 1024 * 1024;  // a snapshot chunk
// Replies the aggregator queues for one client connection (ZMQ_SNDHWM of its ROUTER). Acks count
// too: a client may send thousands of events before it reads their acks.
inline constexpr int kIngestSendQueue = 100'000;

// Watches the handshakes of the sockets it is attached to, so that a security mismatch or a
// refused key is reported as such instead of as a silent timeout.
class HandshakeMonitor {
 public:
  enum class Side { client, server };
  // `insecure`: this end's own setting, which tells what a failure most likely means.
  HandshakeMonitor(zmq::context_t& context, Side side, bool insecure)
      : context_(context), side_(side), insecure_(insecure) {}
  // Call before the socket connects or binds.
  void attach(zmq::socket_t& socket);
  // What went wrong with the last failed handshake since the last call, if any; never blocks.
  std::optional<std::string> failure();

 private:
  zmq::context_t& context_;
  Side side_;
  bool insecure_;
  std::vector<zmq::socket_t> monitors_;
};

class ClientSockets {
 public:
  // Reads the key files once; throws UsageError naming a key file at fault.
  ClientSockets(zmq::context_t& context, const ClientSecurity& security);

  // A DEALER connected to the aggregator's ingest endpoint.
  zmq::socket_t ingest(const std::string& endpoint) const;
  // A SUB connected to the broadcast endpoint, subscribed to everything.
  zmq::socket_t broadcast(const std::string& endpoint) const;

  // Why a handshake on any socket made here failed ("the aggregator refused this key", "security
  // mismatch: ..."), to explain a timeout; nullopt if none failed.
  std::optional<std::string> handshake_failure() const { return monitor_.failure(); }

 private:
  void secure(zmq::socket_t& socket) const;
  zmq::context_t& context_;
  mutable HandshakeMonitor monitor_;
  bool insecure_;
  std::string server_public_;
  std::string client_public_;
  std::string client_secret_;
};

class ServerSockets {
 public:
  // Unless insecure, starts the ZAP handler before any CURVE socket can exist.
  ServerSockets(zmq::context_t& context, const ServerSecurity& security);

  // Rereads authorized_dir (SIGHUP), waiting up to a second for it to take effect. True when a
  // key was removed or replaced: its connections made before are still open.
  bool reload_keys();
  // False once the ZAP handler has died: the caller must stop, or every key would get in.
  bool authenticator_alive() const;
  // Whether this identity's key is still in authorized_dir (always true when insecure).
  bool admits(const PeerIdentity& peer) const;

  // Handshake failures on the server's sockets (clients with the wrong security settings).
  std::optional<std::string> handshake_failure() const { return monitor_.failure(); }

  // The ROUTER that takes events and snapshot requests.
  zmq::socket_t ingest(const std::string& endpoint) const;
  // The PUB that broadcasts decisions and heartbeats.
  zmq::socket_t broadcast(const std::string& endpoint) const;

 private:
  void secure(zmq::socket_t& socket) const;
  zmq::context_t& context_;
  mutable HandshakeMonitor monitor_;
  bool insecure_;
  std::string server_secret_;
  std::unique_ptr<ZapHandler> zap_;
};

}  // namespace fleetban::common
