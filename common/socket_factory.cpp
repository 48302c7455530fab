#include "common/socket_factory.hpp"

#include "common/errors.hpp"
#include "common/keys.hpp"

namespace fleetban::common {

namespace {

void set_common_options(zmq::socket_t& socket, std::int64_t max_message_bytes) {
  socket.set(zmq::sockopt::linger, 0);  // unacked events live in the spool, never in a socket queue
  socket.set(zmq::sockopt::ipv6, 1);
  socket.set(zmq::sockopt::maxmsgsize, max_message_bytes);
  socket.set(zmq::sockopt::tcp_keepalive, 1);
  socket.set(zmq::sockopt::tcp_keepalive_idle, 30);
}

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

void bind(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    if (e.num() == EADDRINUSE) throw RuntimeError("cannot bind " + endpoint + ": " + e.what());
    throw UsageError("endpoint '" + endpoint + "': " + e.what());
  }
}

}  // namespace

ClientSockets::ClientSockets(zmq::context_t& context, const ClientSecurity& security)
    : context_(context), insecure_(security.insecure) {
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
  if (endpoint.empty()) throw UsageError("host config: 'aggregator' (the ingest endpoint) is not set");
  zmq::socket_t socket(context_, zmq::socket_type::dealer);
  set_common_options(socket, kMaxReplyMessageBytes);
  set_client_options(socket);
  secure(socket);
  connect(socket, endpoint);
  return socket;
}

zmq::socket_t ClientSockets::broadcast(const std::string& endpoint) const {
  if (endpoint.empty()) throw UsageError("host config: 'broadcast' (the broadcast endpoint) is not set");
  zmq::socket_t socket(context_, zmq::socket_type::sub);
  set_common_options(socket, kMaxReplyMessageBytes);
  set_client_options(socket);
  socket.set(zmq::sockopt::immediate, 0);
  socket.set(zmq::sockopt::rcvhwm, 1'000'000);  // a gap costs a snapshot: queue generously instead
  socket.set(zmq::sockopt::subscribe, "");
  secure(socket);
  connect(socket, endpoint);
  return socket;
}

ServerSockets::ServerSockets(zmq::context_t& context, const ServerSecurity& security)
    : context_(context), insecure_(security.insecure) {
  if (insecure_) return;
  server_secret_ = read_secret_key(security.server_key).secret_key;
  zap_ = std::make_unique<ZapHandler>(context, security.authorized_dir);
}

void ServerSockets::reload_keys() {
  if (zap_) zap_->reload();
}

bool ServerSockets::authenticator_alive() const { return insecure_ || (zap_ && zap_->alive()); }

void ServerSockets::secure(zmq::socket_t& socket) const {
  if (insecure_) return;
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, server_secret_);
  socket.set(zmq::sockopt::zap_domain, "fleetban");
}

zmq::socket_t ServerSockets::ingest(const std::string& endpoint) const {
  zmq::socket_t socket(context_, zmq::socket_type::router);
  set_common_options(socket, kMaxIngestMessageBytes);
  socket.set(zmq::sockopt::rcvhwm, 100'000);
  socket.set(zmq::sockopt::sndhwm, 100'000);
  secure(socket);
  bind(socket, endpoint);
  return socket;
}

zmq::socket_t ServerSockets::broadcast(const std::string& endpoint) const {
  zmq::socket_t socket(context_, zmq::socket_type::pub);
  set_common_options(socket, kMaxIngestMessageBytes);  // a PUB receives only subscriptions
  socket.set(zmq::sockopt::sndhwm, 1'000'000);
  secure(socket);
  bind(socket, endpoint);
  return socket;
}

}  // namespace fleetban::common
