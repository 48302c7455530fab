// Fair share of the aggregator's loop: one key flooding snapshot requests without reading the
// replies neither stalls another host's publishes nor grows the aggregator's memory without bound
// (per-key limits on snapshot and status requests, one unread snapshot per connection).
#include "security_helpers.hpp"

#include <gtest/gtest.h>
#include <zmq.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace fleetban::testing {
namespace {

// The resident memory of a process, from /proc/PID/status, in bytes.
std::uint64_t resident_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// 2001:db8::N/128, as wire bytes.
std::string documentation_ipv6(std::uint32_t n) {
  std::string bytes("\x20\x01\x0d\xb8", 4);
  bytes += std::string(8, '\0');
  for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((n >> shift) & 0xff);
  return bytes;
}

TEST(FairShare, SnapshotFloodFromOneKeyLeavesPublishesAndMemoryAlone) {
  TempDir dir;
  Fleet fleet(dir, SecurityMode::curve);
  const Host& web01 = fleet.add_host("web-01");
  fleet.add_host("web-02");
  // The state is loaded at full speed below (the [policy] table is the file's last).
  write_file(fleet.aggregator_config(), read_file(fleet.aggregator_config()) + "max_events_per_second = 1000000\n");
  ASSERT_TRUE(fleet.start_aggregator(web01));

  // Enough bans that one snapshot is about half a megabyte.
  constexpr std::uint32_t kBans = 5000;
  const std::string jail(60, 'j');
  {
    auto loader = connect_raw(fleet, "web-01");
    std::mt19937 random(31);
    // In windows of 200, reading the acks in between, as a client should.
    for (std::uint32_t first = 1; first <= kBans; first += 200) {
      std::string last_id;
      for (std::uint32_t n = first; n < first + 200 && n <= kBans; ++n) {
        WireEvent ban{.event_id = random_bytes(random, 16),
                      .address = documentation_ipv6(n),
                      .length = 128,
                      .jail = jail,
                      .host_id = "web-01"};
        ASSERT_TRUE(loader->send({encode_request(ban)}));
        last_id = ban.event_id;
      }
      ASSERT_TRUE(loader->wait_for_reply_with(last_id, deadline_in(kSoon))) << "the ack of ban " << first + 199;
    }
  }
  const pid_t aggregator = fleet.aggregator()->pid();
  const std::uint64_t before = resident_bytes(aggregator);
  ASSERT_GT(before, 0u);

  // Under AddressSanitizer (make test-asan) every freed block stays resident in ASan's quarantine
  // (256 MiB by default) before it is reused: the encoded chunks of even the dropped snapshots.
#ifdef __SANITIZE_ADDRESS__
  constexpr std::uint64_t kAsanQuarantineBytes = 256ULL << 20;
#else
  constexpr std::uint64_t kAsanQuarantineBytes = 0;
#endif
  // web-02 asks for snapshot after snapshot and never reads one.
  constexpr int kRequests = 600;
  constexpr std::uint64_t kSnapshotBytes = kBans * 100;  // at the least: 16 address + 60 jail bytes...
  auto flooder = connect_raw(fleet, "web-02", /*receive_queue=*/1);
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(flooder->send({encode_snapshot_request("flood-" + std::to_string(i))})) << "request " << i;
  }

  // Meanwhile web-01 publishes as usual: every event is acked within the publisher's own timeout
  // (nothing spooled).
  for (int i = 1; i <= 10; ++i) {
    const std::string ip = "198.51.100." + std::to_string(100 + i);
    const auto published = fleet.publish(web01, {"ban", "--ip", ip, "--jail", "sshd", "--bantime", "600"});
    ASSERT_EQ(published.exit_code, 0) << describe(published);
    ASSERT_EQ(spooled_events(web01), 0u) << "the ban of " << ip << " was not acked in time\n" << describe(published);
  }
  EXPECT_TRUE(aggregator_logged(fleet, {"query_dropped", "key=web-02"}));
  // Its connection has not read its first snapshot, so it gets no second one.
  EXPECT_TRUE(aggregator_logged(fleet, {"snapshot_refused"}));

  // The flood's reply that was queued stays queued (web-02 still reads nothing): one snapshot,
  // not one per request the rate limit let through (20 a second: ten times this bound in a second).
  const std::uint64_t after = resident_bytes(aggregator);
  const std::uint64_t unbounded = kRequests * kSnapshotBytes;
  EXPECT_LT(after, before + 8 * kSnapshotBytes + kAsanQuarantineBytes)
      << "RSS before the flood " << before << " bytes, after " << after << "; all " << kRequests
      << " snapshots would take over " << unbounded;
  const auto status = fleetban({"status", "--config", web01.config.string()});
  EXPECT_EQ(status.exit_code, 0) << describe(status);
}

}  // namespace
}  // namespace fleetban::testing
