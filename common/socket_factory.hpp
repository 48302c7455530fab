#pragma once
// Every ZeroMQ socket a client makes is created and configured here: security (CURVE or, when both
// ends say `insecure = true`, none), message size limits, linger, IPv6, reconnect backoff,
// keepalives. The serving side's sockets (server/server_sockets) share the common options.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/security.hpp"
#include "common/socket_monitor.hpp"

namespace fleetban::common {

// The largest frame any fleetban socket accepts; anything bigger is dropped by libzmq.
inline constexpr std::int64_t kMaxIngestMessageBytes = 64 * 1024;        // one event or snapshot request
inline constexpr std::int64_t kMaxReplyMessageBytes = 16 * 1024 * 1024;  // a snapshot chunk

// What every socket gets, client or server: no linger (unacked events live in the spool, never in a
// socket queue), IPv6, the frame size limit, TCP keepalives. server/server_sockets uses these too.
void set_common_options(zmq::socket_t& socket, std::int64_t max_message_bytes);
// Binds, or throws: RuntimeError when the address is taken, UsageError for a bad endpoint.
void bind_endpoint(zmq::socket_t& socket, const std::string& endpoint);

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
  // Stops watching `socket`: call it before closing or replacing a socket of a long-lived owner.
  // Each watched socket costs a PAIR socket of the context's 1,023 (ZMQ_MAX_SOCKETS), kept until
  // this; forgetting it runs a client that makes new sockets all its life into EMFILE.
  void detach(zmq::socket_t& socket);
  // What went wrong with the last failed handshake since the last call, if any; never blocks.
  std::optional<std::string> failure();

 private:
  struct Watched {
    void* socket;  // the watched socket's handle, to find it again in detach()
    SocketMonitor monitor;
  };
  zmq::context_t& context_;
  Side side_;
  bool insecure_;
  std::vector<Watched> watched_;
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
  // Before a socket made here is closed or replaced while this lives on (a Clone client moving to
  // the next endpoint, a relay following a new upstream): HandshakeMonitor::detach.
  void release(zmq::socket_t& socket) const { monitor_.detach(socket); }

 private:
  void secure(zmq::socket_t& socket) const;
  zmq::context_t& context_;
  mutable HandshakeMonitor monitor_;
  bool insecure_;
  std::string server_public_;
  std::string client_public_;
  std::string client_secret_;
};

}  // namespace fleetban::common
