// Writes the wire fuzzer's seed corpus (corpus/wire/): one valid frame of each message kind.
// Built with the fuzz targets; `make fuzz` does not need it, run it when the protocol grows:
//   build-fuzz/bin/make_wire_seeds tests/fuzz/corpus/wire
#include <fstream>
#include <iostream>

#include "common/codec.hpp"

using namespace fleetban::common;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_wire_seeds DIR\n";
    return 2;
  }
  std::string dir = argv[1];
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
  };
  Event event;
  event.id = random_event_id();
  event.prefix = *IpPrefix::parse("192.0.2.7");
  event.jail = "sshd";
  event.host_id = "web-01";
  event.bantime = std::chrono::seconds(600);
  event.time = from_unix_ms(1795650000000);
  event.created = from_unix_ms(1795650000500);
  write("event", encode(Request{event}));
  event.kind = EventKind::unban;
  event.prefix = *IpPrefix::parse("2001:db8::/48");
  write("event_v6_unban", encode(Request{event}));
  write("snapshot_request", encode(Request{SnapshotRequest{"abc"}}));
  write("status_request", encode(Request{StatusRequest{"xyz"}}));
  write("host_report", encode(Request{HostReport{"web-01", 42, "incarnation-0001", "", 4096, 65536, "0.1.0"}}));
  write("hosts_request", encode(Request{HostsRequest{"xyz"}}));
  write("ack", encode(Reply{Ack{event.id, AckOutcome::throttled, "slow down"}}));
  Decision decision;
  decision.sequence = 42;
  decision.prefix = *IpPrefix::parse("198.51.100.0/24");
  decision.active = true;
  decision.expires_at = from_unix(1795653600);
  decision.reporters = {"web-01", "web-02"};
  decision.jails = {"sshd"};
  decision.ban_count = 2;
  write("chunk", encode(Reply{SnapshotChunk{"abc", 42, "incarnation-0001", {decision}, true}}));
  write("decision", encode(Broadcast{decision}));
  write("hosts", encode(Reply{Hosts{"xyz", from_unix(1795650000), 42, {HostEntry{.name = "web-01", .lag = 0}}}}));
  write("heartbeat", encode(Broadcast{Heartbeat{42, "incarnation-0001", from_unix(1795650000)}}));
  return 0;
}
