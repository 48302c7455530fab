// The wire form of the report-in and the hosts list: what a subscriber sends comes back as sent,
// and what no subscriber could mean (a negative spool, a sequence beyond 2^53, a forged name, a
// long text) is refused or clamped before the aggregator sees it.

#include "common/host_codec.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "common/codec.hpp"
#include "common/hosts_json.hpp"
#include "fleetban.pb.h"

namespace {

using namespace fleetban::common;
namespace pb = fleetban::v1;

HostReport sample() {
  return HostReport{.host_id = "web-01",
                    .sequence = 42,
                    .incarnation = "0123456789abcdef",
                    .backend_error = "",
                    .spool_bytes = 4096,
                    .spool_max_bytes = 67108864,
                    .version = "0.1.0"};
}

// A Request{host_report} with one field spoiled.
std::string spoiled(const std::function<void(pb::HostReport&)>& spoil) {
  pb::Request request;
  host_report_to_proto(sample(), *request.mutable_host_report());
  spoil(*request.mutable_host_report());
  return request.SerializeAsString();
}

TEST(HostCodec, AReportComesBackAsSent) {
  auto decoded = decode_request(encode(Request{sample()}));
  ASSERT_TRUE(decoded) << decoded.error();
  const auto& r = std::get<HostReport>(*decoded);
  EXPECT_EQ(r.host_id, "web-01");
  EXPECT_EQ(r.sequence, 42u);
  EXPECT_EQ(r.incarnation, "0123456789abcdef");
  EXPECT_EQ(r.spool_bytes, 4096u);
  EXPECT_EQ(r.spool_max_bytes, 67108864u);
  EXPECT_EQ(r.version, "0.1.0");
}

TEST(HostCodec, NegativeOrHugeNumbersAreRefused) {
  EXPECT_FALSE(decode_request(spoiled([](auto& r) { r.set_spool_bytes(-1); })));
  EXPECT_FALSE(decode_request(spoiled([](auto& r) { r.set_spool_max_bytes(-5); })));
  EXPECT_FALSE(decode_request(spoiled([](auto& r) { r.set_spool_bytes(INT64_MAX); })));
  EXPECT_FALSE(decode_request(spoiled([](auto& r) { r.set_sequence(UINT64_MAX); })));
  EXPECT_TRUE(decode_request(spoiled([](auto& r) { r.set_sequence(kMaxReportedNumber); })));
}

TEST(HostCodec, ABadNameLongIdsAndLongVersionsAreRefused) {
  EXPECT_FALSE(decode_request(spoiled([](auto& r) { r.set_host_id("web 01\n"); })));
  EXPECT_FALSE(decode_request(spoiled([](auto& r) { r.set_host_id(""); })));
  EXPECT_FALSE(decode_request(spoiled([](auto& r) { r.set_incarnation(std::string(33, 'x')); })));
  EXPECT_FALSE(decode_request(spoiled([](auto& r) { r.set_version(std::string(65, '1')); })));
}

TEST(HostCodec, ALongBackendErrorIsClampedAndMadePrintable) {
  auto decoded =
      decode_request(spoiled([](auto& r) { r.set_backend_error("nft:\x1b[31m " + std::string(5000, 'e')); }));
  ASSERT_TRUE(decoded) << decoded.error();
  const auto& error = std::get<HostReport>(*decoded).backend_error;
  EXPECT_EQ(error.size(), kMaxBackendErrorBytes);
  EXPECT_EQ(error.substr(0, 6), "nft:?[");
}

TEST(HostCodec, TheHostsListKeepsWhatWasNeverKnownApart) {
  Hosts hosts{"id-1", from_unix(1'795'650'000), 42, {}};
  hosts.hosts.push_back(HostEntry{.name = "web-01", .kind = HostKind::host, .stale = true});
  hosts.hosts.push_back(HostEntry{.name = "web-02",
                                  .kind = HostKind::host,
                                  .last_event_at = from_unix(1'795'649'000),
                                  .events_24h = 7,
                                  .subscriber_seen_at = from_unix(1'795'649'990),
                                  .subscriber_sequence = 42,
                                  .lag = 0,
                                  .backend_error = "",
                                  .spool_bytes = 0,
                                  .spool_max_bytes = 0,
                                  .version = "0.1.0"});
  hosts.hosts.push_back(HostEntry{.name = "alice", .kind = HostKind::operator_});
  auto decoded = decode_reply(encode(Reply{hosts}));
  ASSERT_TRUE(decoded) << decoded.error();
  const auto& back = std::get<Hosts>(*decoded);
  EXPECT_EQ(back.request_id, "id-1");
  EXPECT_EQ(back.sequence, 42u);
  ASSERT_EQ(back.hosts.size(), 3u);
  EXPECT_FALSE(back.hosts[0].lag);
  EXPECT_FALSE(back.hosts[0].subscriber_seen_at);
  EXPECT_TRUE(back.hosts[0].stale);
  EXPECT_EQ(back.hosts[1].lag, 0u);
  EXPECT_EQ(back.hosts[1].spool_max_bytes, 0u);
  EXPECT_EQ(back.hosts[1].events_24h, 7u);
  EXPECT_EQ(back.hosts[2].kind, HostKind::operator_);
  // The same document, whichever side of the wire builds it.
  EXPECT_EQ(hosts_json(back), hosts_json(hosts));
}

TEST(HostsJson, NeverSeenIsNullAndTimesAreUnixSeconds) {
  Hosts hosts{"", from_unix(1'795'650'000), 42, {}};
  hosts.hosts.push_back(HostEntry{.name = "web-01", .kind = HostKind::host, .stale = true});
  hosts.hosts.push_back(HostEntry{.name = "web-02",
                                  .kind = HostKind::host,
                                  .last_event_at = from_unix(1'795'649'000),
                                  .events_24h = 7,
                                  .subscriber_seen_at = from_unix(1'795'649'990),
                                  .subscriber_sequence = 40,
                                  .lag = 2,
                                  .backend_error = "",
                                  .spool_bytes = 0,
                                  .spool_max_bytes = 100,
                                  .version = "0.1.0"});
  EXPECT_EQ(
      hosts_json(hosts),
      R"({"hosts":[{"name":"web-01","kind":"host","last_event_at":null,"events_24h":0,"subscriber_seen_at":null,)"
      R"("subscriber_sequence":null,"lag":null,"backend_error":null,"spool_bytes":null,"spool_max_bytes":null,)"
      R"("version":null,"stale":true,"behind":false},)"
      R"({"name":"web-02","kind":"host","last_event_at":1795649000,"events_24h":7,"subscriber_seen_at":1795649990,)"
      R"("subscriber_sequence":40,"lag":2,"backend_error":"","spool_bytes":0,"spool_max_bytes":100,)"
      R"("version":"0.1.0","stale":false,"behind":false}]})");
}

}  // namespace
