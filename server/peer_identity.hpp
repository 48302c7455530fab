#pragma once
// Who sent a message to a serving program: the identity the ZAP handler gave the connection's key
// (its User-Id, carried by every frame) and the address the connection comes from.

#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "common/ip_prefix.hpp"

namespace fleetban::server {

// host: authorized_dir/NAME.pub; operator_: operators/NAME.pub; relay: relays/NAME.pub (a relay
// forwards the events of the hosts and operators it admitted, vouching for their names).
enum class PeerRole { host, operator_, relay };
const char* to_string(PeerRole role);

struct PeerIdentity {
  PeerRole role = PeerRole::host;
  std::string name;
  std::string key;  // the public key, 64 hex digits
};

// "host:web-01:KEY" -> {host, "web-01", KEY} (also "operator:..." and "relay:..."); nullopt for
// anything else.
std::optional<PeerIdentity> parse_user_id(std::string_view user_id);

// What a frame's metadata says about the connection it came on.
struct Sender {
  std::optional<PeerIdentity> peer;         // nullopt without CURVE (insecure) or without a User-Id
  std::optional<common::IpPrefix> address;  // the connection's remote address (Peer-Address)
};

// Reads a received frame's metadata. `insecure`: no key was checked, so no identity is taken.
Sender sender_of(const zmq::message_t& frame, bool insecure);

}  // namespace fleetban::server
