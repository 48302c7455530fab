#pragma once
// What each end of a connection needs to secure it. Sockets are created from these in one place
// (socket_factory.hpp), so that the transport's security is one change.

#include <filesystem>

namespace fleetban::common {

// A client (publisher, subscriber, operator tool): it checks the server's key and proves its own.
struct ClientSecurity {
  bool insecure = false;             // no CURVE at all; the server must say so too
  std::filesystem::path server_key;  // the aggregator's public key file
  std::filesystem::path client_key;  // this host's (or operator's) secret key file
};

// The aggregator: its own secret key, and the directory of public keys it lets in.
struct ServerSecurity {
  bool insecure = false;
  std::filesystem::path server_key;      // the aggregator's secret key file
  std::filesystem::path authorized_dir;  // NAME.pub per host, operators/NAME.pub per operator
};

}  // namespace fleetban::common
