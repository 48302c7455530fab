#include "server/server_sockets.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/keys.hpp"

namespace fleetban::server {

int server_io_threads() {
  const unsigned cpus = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(cpus, 1u, 4u));
}

ServerSockets::ServerSockets(zmq::context_t& context, const common::ServerSecurity& security)
    : context_(context),
      monitor_(context, common::HandshakeMonitor::Side::server, security.insecure),
      insecure_(security.insecure) {
  if (insecure_) return;
  server_secret_ = common::read_secret_key(security.server_key).secret_key;
  zap_ = std::make_unique<ZapHandler>(context, security.authorized_dir);
}

bool ServerSockets::reload_keys() {
  if (!zap_) return false;
  const auto reloads = zap_->reloads();
  const auto revocations = zap_->revocations();
  zap_->reload();
  // The handler rereads within its next poll (100 ms); what the caller does next needs the new keys.
  for (int i = 0; i < 100 && zap_->reloads() == reloads && zap_->alive(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return zap_->revocations() != revocations;
}

bool ServerSockets::authenticator_alive() const { return insecure_ || (zap_ && zap_->alive()); }

bool ServerSockets::admits(const PeerIdentity& peer) const { return insecure_ || (zap_ && zap_->admits(peer)); }

bool ServerSockets::admits_name(PeerRole role, const std::string& name) const {
  return insecure_ || (zap_ && zap_->admits_name(role, name));
}

std::vector<PeerIdentity> ServerSockets::admitted() const {
  return zap_ ? zap_->admitted() : std::vector<PeerIdentity>{};
}

void ServerSockets::secure(zmq::socket_t& socket) const {
  if (insecure_) return;
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, server_secret_);
  socket.set(zmq::sockopt::zap_domain, "fleetban");
}

void ServerSockets::bind(zmq::socket_t& socket, const std::string& endpoint) const {
  socket.set(zmq::sockopt::backlog, kListenBacklog);
  secure(socket);
  monitor_.attach(socket);
  common::bind_endpoint(socket, endpoint);
}

zmq::socket_t ServerSockets::ingest(const std::string& endpoint) const {
  zmq::socket_t socket(context_, zmq::socket_type::router);
  common::set_common_options(socket, common::kMaxIngestMessageBytes);
  socket.set(zmq::sockopt::rcvhwm, 100'000);
  // Beyond the send queue ROUTER_MANDATORY makes a send fail (the aggregator drops the reply and
  // says so, and stops walking a snapshot) instead of libzmq dropping it silently.
  socket.set(zmq::sockopt::sndhwm, kIngestSendQueue);
  socket.set(zmq::sockopt::router_mandatory, 1);
  bind(socket, endpoint);
  return socket;
}

zmq::socket_t ServerSockets::broadcast(const std::string& endpoint) const {
  zmq::socket_t socket(context_, zmq::socket_type::pub);
  common::set_common_options(socket, common::kMaxIngestMessageBytes);  // a PUB receives only subscriptions
  socket.set(zmq::sockopt::sndhwm, 1'000'000);
  bind(socket, endpoint);
  return socket;
}

}  // namespace fleetban::server
