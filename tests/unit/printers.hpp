#pragma once
// How GoogleTest prints project values in failure messages ("192.0.2.0/24", not 18 raw bytes).

#include <ostream>

#include "common/ip_prefix.hpp"

namespace fleetban::common {

inline void PrintTo(const IpPrefix& prefix, std::ostream* out) { *out << prefix.to_string(); }

}  // namespace fleetban::common
