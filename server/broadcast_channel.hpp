#pragma once
// The broadcast channel: the PUB every subscriber follows. Sends decisions and heartbeats, counts
// the subscribers connected (its socket monitor), and binds anew when a key is revoked, so that
// every subscriber reconnects through the ZAP check (libzmq asks only at the handshake).

#include <string>
#include <zmq.hpp>

#include "common/decision.hpp"
#include "common/socket_monitor.hpp"
#include "server/server_metrics.hpp"
#include "server/server_sockets.hpp"

namespace fleetban::server {

class BroadcastChannel {
 public:
  // Binds `endpoint` (throws as ServerSockets::broadcast does).
  BroadcastChannel(zmq::context_t& context, const ServerSockets& sockets, std::string endpoint, ServerMetrics& metrics);
  // Stops the monitor before either socket closes (see SocketMonitor::stop).
  ~BroadcastChannel();
  BroadcastChannel(const BroadcastChannel&) = delete;
  BroadcastChannel& operator=(const BroadcastChannel&) = delete;

  void send(const common::Decision& decision);
  void heartbeat(std::uint64_t sequence, const std::string& incarnation);

  // A new socket on the same endpoint: the subscribers of a revoked key are cut off; the others
  // reconnect, see the next heartbeat ahead of them and take a snapshot.
  void rebind();

  // The monitor's socket, to poll: when it is readable, call count_subscribers().
  zmq::socket_t& monitor_events() { return monitor_.events(); }
  void count_subscribers();

 private:
  zmq::context_t& context_;
  const ServerSockets& sockets_;
  std::string endpoint_;
  ServerMetrics& metrics_;
  zmq::socket_t socket_;
  common::SocketMonitor monitor_;
};

}  // namespace fleetban::server
