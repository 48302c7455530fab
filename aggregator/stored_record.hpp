#pragma once
// How a FleetRecord is written in a state database, whichever engine holds it: its key (the
// prefix's bytes and length) and its value (the protobuf Record), plus the random incarnation.

#include <string>
#include <string_view>
#include <vector>

#include "aggregator/fleet_record.hpp"
#include "aggregator/state_store.hpp"
#include "common/expected.hpp"
#include "common/ip_prefix.hpp"

namespace fleetban::aggregator {

// The key of an address or prefix in the state database (its records and its history rows): its
// address bytes and its length.
std::string storage_key(const common::IpPrefix& prefix);
std::string encode_record(const FleetRecord& record);
// Also reads databases written before decisions were capped (the first names kept).
common::Expected<FleetRecord> decode_record(const void* data, int size);
std::string random_incarnation();  // 16 random bytes

// The meta rows (key, value): "sequence" (decimal), "incarnation", and "last_event:KIND:NAME"
// (decimal Unix seconds) for each admitted key's last event.
std::string last_event_meta_key(const std::string& host_key);
// Reads one meta row into `state` (rows it does not know are left alone).
void read_meta_row(std::string_view key, std::string_view value, StoredState& state);
// The applied event ids of one row (16 bytes each, concatenated), appended to `out`.
void append_event_ids(std::string_view ids, std::vector<common::EventId>& out);
// Sorts the ids and drops the repeated ones.
void sort_unique(std::vector<common::EventId>& ids);

}  // namespace fleetban::aggregator
