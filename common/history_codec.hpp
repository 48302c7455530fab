#pragma once
// The wire form of a HistoryReply (proto message History), for codec.cpp: decoding checks every
// field as the rest of the codec does (names, sizes, at most kMaxHistoryRows rows).

#include "common/codec.hpp"

namespace fleetban::v1 {
class History;
}

namespace fleetban::common {

void history_to_proto(const HistoryReply& reply, v1::History& out);
Expected<HistoryReply> history_from_proto(const v1::History& in);

}  // namespace fleetban::common
