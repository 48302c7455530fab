#include "common/socket_factory.hpp"

#include "common/errors.hpp"
#include "common/keys.hpp"

namespace fleetban::common {

void set_common_options(zmq::socket_t& socket, std::int64_t max_message_bytes) {
  socket.set(zmq::sockopt::linger, 0);  // unacked events live in the spool, never in a socket queue
  socket.set(zmq::sockopt::ipv6, 1);
  socket.set(zmq::sockopt::maxmsgsize, max_message_bytes);
  socket.set(zmq::sockopt::tcp_keepalive, 1);
  socket.set(zmq::sockopt::tcp_keepalive_idle, 30);
}

void bind_endpoint(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    if (e.num() == EADDRINUSE) throw RuntimeError("cannot bind " + endpoint + ": " + e.what());
    throw UsageError("endpoint '" + endpoint + "': " + e.what());
  }
}

namespace {

void set_client_options(zmq::socket_t& socket) {
  // Backoff so that a fleet of thousands does not reconnect in lockstep to a restarted aggregator.
  socket.set(zmq::sockopt::reconnect_ivl, 100);
  socket.set(zmq::sockopt::reconnect_ivl_max, 5000);
  socket.set(zmq::sockopt::immediate, 1);  // queue nothing for a peer that is not connected
}

void connect(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.connect(endpoint);
  } catch (const zmq::error_t& e) {
    throw UsageError("endpoint '" + endpoint + "': " + e.what());
  }
}

std::string describe_handshake_failure(HandshakeMonitor::Side side, bool insecure, std::uint16_t event,
                                       std::uint32_t value) {
  if (side == HandshakeMonitor::Side::server) {
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) return "a client's key is not in authorized_dir";
    return "a client failed the handshake: insecure = true on one end only, or a wrong server_key";
  }
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    return "the peer refused this key (status " + std::to_string(value) +
           "): is its public key in the aggregator's authorized_dir?";
  }
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
      return "security mismatch: one end has insecure = true and the other does not";
    }
    return "handshake protocol error " + std::to_string(value) + " (wrong server_key, or not a fleetban peer?)";
  }
  // Which event a mismatch gives depends on timing (the peer may close before its greeting is
  // read); a client without CURVE knows that any failed handshake is the aggregator wanting it.
  if (insecure) return "security mismatch: insecure = true here, but the aggregator uses CURVE";
  return "handshake failed (wrong server_key, or insecure = true on the aggregator only?)";
}

}  // namespace

void HandshakeMonitor::attach(zmq::socket_t& socket) {
  int events =
      ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  // Diagnostics only: a socket libzmq cannot monitor works the same, its failures just unexplained.
  if (auto monitor = SocketMonitor::watch(context_, socket, events)) {
    watched_.push_back(Watched{socket.handle(), std::move(*monitor)});
  }
}

void HandshakeMonitor::detach(zmq::socket_t& socket) {
  if (!socket) return;
  std::erase_if(watched_, [&](Watched& w) {
    if (w.socket != socket.handle()) return false;
    w.monitor.stop(socket);
    return true;
  });
}

std::optional<std::string> HandshakeMonitor::failure() {
  std::optional<std::string> last;
  int last_rank = -1;
  for (auto& watched : watched_) {
    watched.monitor.drain([&](std::uint16_t id, std::uint32_t value) {
      // The most telling event wins: a refused key or a protocol error over a bare failure.
      int rank = id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ? 0 : 1;
      if (!last || rank >= last_rank) {
        last = describe_handshake_failure(side_, insecure_, id, value);
        last_rank = rank;
      }
    });
  }
  return last;
}

ClientSockets::ClientSockets(zmq::context_t& context, const ClientSecurity& security)
    : context_(context),
      monitor_(context, HandshakeMonitor::Side::client, security.insecure),
      insecure_(security.insecure) {
  if (insecure_) return;
  server_public_ = read_public_key(security.server_key);
  KeyPair own = read_secret_key(security.client_key);
  client_public_ = own.public_key;
  client_secret_ = own.secret_key;
}

void ClientSockets::secure(zmq::socket_t& socket) const {
  if (insecure_) return;
  socket.set(zmq::sockopt::curve_serverkey, server_public_);
  socket.set(zmq::sockopt::curve_publickey, client_public_);
  socket.set(zmq::sockopt::curve_secretkey, client_secret_);
}

zmq::socket_t ClientSockets::ingest(const std::string& endpoint) const {
  zmq::socket_t socket(context_, zmq::socket_type::dealer);
  set_common_options(socket, kMaxReplyMessageBytes);
  set_client_options(socket);
  secure(socket);
  monitor_.attach(socket);
  connect(socket, endpoint);
  return socket;
}

zmq::socket_t ClientSockets::broadcast(const std::string& endpoint) const {
  zmq::socket_t socket(context_, zmq::socket_type::sub);
  set_common_options(socket, kMaxReplyMessageBytes);
  set_client_options(socket);
  socket.set(zmq::sockopt::immediate, 0);
  socket.set(zmq::sockopt::rcvhwm, 1'000'000);  // a gap costs a snapshot: queue generously instead
  socket.set(zmq::sockopt::subscribe, "");
  secure(socket);
  monitor_.attach(socket);
  connect(socket, endpoint);
  return socket;
}

}  // namespace fleetban::common
