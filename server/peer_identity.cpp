#include "server/peer_identity.hpp"

namespace fleetban::server {

const char* to_string(PeerRole role) {
  switch (role) {
    case PeerRole::host: return "host";
    case PeerRole::operator_: return "operator";
    case PeerRole::relay: return "relay";
  }
  return "host";
}

std::optional<PeerIdentity> parse_user_id(std::string_view user_id) {
  // ROLE:NAME:KEY, where a name may hold ':' and the key is hex.
  auto colon = user_id.find(':');
  auto last = user_id.rfind(':');
  if (colon == std::string_view::npos || last == colon) return std::nullopt;
  auto role = user_id.substr(0, colon);
  PeerIdentity identity{PeerRole::host, std::string(user_id.substr(colon + 1, last - colon - 1)),
                        std::string(user_id.substr(last + 1))};
  if (identity.name.empty() || identity.key.size() != 64) return std::nullopt;
  for (PeerRole known : {PeerRole::host, PeerRole::operator_, PeerRole::relay}) {
    if (role == to_string(known)) {
      identity.role = known;
      return identity;
    }
  }
  return std::nullopt;
}

Sender sender_of(const zmq::message_t& frame, bool insecure) {
  // zmq_msg_gets takes a non-const message but only reads its metadata.
  auto* handle = const_cast<zmq_msg_t*>(frame.handle());
  Sender sender;
  if (!insecure) {
    if (const char* user_id = zmq_msg_gets(handle, "User-Id")) sender.peer = parse_user_id(user_id);
  }
  if (const char* address = zmq_msg_gets(handle, "Peer-Address")) sender.address = common::IpPrefix::parse(address);
  return sender;
}

}  // namespace fleetban::server
