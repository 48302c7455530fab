#pragma once
// The wire form of common/hosts.hpp, for codec.cpp: HostReport, HostsRequest and Hosts <-> their
// protobuf messages. Decoding checks every field (docs/PROTOCOL.md, "Report-in").

#include "common/expected.hpp"
#include "common/hosts.hpp"

namespace fleetban::v1 {
class HostReport;
class HostsRequest;
class Hosts;
}  // namespace fleetban::v1

namespace fleetban::common {

void host_report_to_proto(const HostReport& report, v1::HostReport& out);
// Refuses a bad host id, an incarnation over 32 bytes, a negative or over-2^53 number, a version
// over kMaxVersionBytes; clamps the backend's error text to kMaxBackendErrorBytes, printable.
Expected<HostReport> host_report_from_proto(const v1::HostReport& in);

void hosts_request_to_proto(const HostsRequest& request, v1::HostsRequest& out);
Expected<HostsRequest> hosts_request_from_proto(const v1::HostsRequest& in);

void hosts_to_proto(const Hosts& hosts, v1::Hosts& out);
Expected<Hosts> hosts_from_proto(const v1::Hosts& in);

}  // namespace fleetban::common
