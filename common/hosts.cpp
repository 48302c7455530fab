#include "common/hosts.hpp"

namespace fleetban::common {

const char* to_string(HostKind kind) {
  switch (kind) {
    case HostKind::host: return "host";
    case HostKind::operator_: return "operator";
    case HostKind::relay: return "relay";
  }
  return "host";
}

std::optional<HostKind> host_kind_from_string(std::string_view text) {
  for (HostKind kind : {HostKind::host, HostKind::operator_, HostKind::relay}) {
    if (text == to_string(kind)) return kind;
  }
  return std::nullopt;
}

}  // namespace fleetban::common
