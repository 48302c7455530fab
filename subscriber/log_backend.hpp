#pragma once
// The `log` backend: logs what it would enforce, and enforces nothing. For trying fleetban out.

#include "subscriber/backend.hpp"

namespace fleetban::subscriber {

class LogBackend final : public Backend {
 public:
  std::vector<common::Decision> ban(std::span<const common::Decision> decisions) override;
  std::vector<common::IpPrefix> unban(std::span<const common::IpPrefix> prefixes) override;
};

}  // namespace fleetban::subscriber
