#pragma once
// How a FleetRecord is written in a state database, whichever engine holds it: its key (the
// prefix's bytes and length) and its value (the protobuf Record), plus the random incarnation.

#include <string>

#include "aggregator/fleet_record.hpp"
#include "common/expected.hpp"
#include "common/ip_prefix.hpp"

namespace fleetban::aggregator {

std::string record_key(const common::IpPrefix& prefix);
std::string encode_record(const FleetRecord& record);
// Also reads databases written before decisions were capped (the first names kept).
common::Expected<FleetRecord> decode_record(const void* data, int size);
std::string random_incarnation();  // 16 random bytes

}  // namespace fleetban::aggregator
