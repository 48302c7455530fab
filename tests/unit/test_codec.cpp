#include "common/codec.hpp"

#include <gtest/gtest.h>

#include <limits>

#include <random>

#include <google/protobuf/stubs/logging.h>

#include "fleetban.pb.h"
#include "printers.hpp"

namespace {

namespace pb = ::fleetban::v1;
using namespace fleetban::common;

IpPrefix p(std::string_view text) { return *IpPrefix::parse(text); }

Event sample_event() {
  Event e;
  for (std::size_t i = 0; i < e.id.size(); ++i) e.id[i] = static_cast<std::uint8_t>(0xa0 + i);
  e.kind = EventKind::ban;
  e.prefix = p("192.0.2.7");
  e.jail = "sshd";
  e.host_id = "web-01";
  e.bantime = std::chrono::seconds(600);
  e.failures = 5;
  e.bancount = 2;
  e.time = from_unix_ms(1795652765907);
  e.created = from_unix_ms(1795652766123);
  e.reason = "brute force";
  return e;
}

Decision sample_decision(bool permanent) {
  Decision d;
  d.sequence = 42;
  d.prefix = p("2001:db8::/48");
  d.active = true;
  d.banned_at = from_unix(1795650000);
  if (!permanent) d.expires_at = from_unix(1795653600);
  d.reporters = {"web-01", "web-02"};
  d.jails = {"sshd", "nginx-http-auth"};
  d.ban_count = 3;
  d.reason = "operator";
  return d;
}

void expect_same(const Event& a, const Event& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.prefix, b.prefix);
  EXPECT_EQ(a.jail, b.jail);
  EXPECT_EQ(a.host_id, b.host_id);
  EXPECT_EQ(a.bantime, b.bantime);
  EXPECT_EQ(a.failures, b.failures);
  EXPECT_EQ(a.bancount, b.bancount);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.operator_action, b.operator_action);
}

void expect_same(const Decision& a, const Decision& b) {
  EXPECT_EQ(a.sequence, b.sequence);
  EXPECT_EQ(a.prefix, b.prefix);
  EXPECT_EQ(a.active, b.active);
  EXPECT_EQ(a.banned_at, b.banned_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.permanent(), b.permanent());
  EXPECT_EQ(a.reporters, b.reporters);
  EXPECT_EQ(a.jails, b.jails);
  EXPECT_EQ(a.ban_count, b.ban_count);
  EXPECT_EQ(a.reason, b.reason);
}

// A valid event as protobuf, to be broken one field at a time.
pb::Request valid_request() {
  pb::Request request;
  pb::Event& e = *request.mutable_event();
  e.set_event_id(std::string(16, '\x01'));
  e.set_kind(pb::Event::BAN);
  e.mutable_prefix()->set_address(std::string("\xc0\x00\x02\x07", 4));
  e.mutable_prefix()->set_length(32);
  e.set_jail("sshd");
  e.set_host_id("web-01");
  e.set_bantime(600);
  e.set_time_ms(1795652765000);
  e.set_created_ms(1795652766000);
  return request;
}

// decode_request of the request, which must not throw.
Expected<Request> decode(const pb::Request& request) {
  std::string frame = request.SerializeAsString();
  return decode_request(frame);
}

TEST(Codec, ValidHandCraftedEventDecodes) {
  // The baseline every malformed case below departs from by one field.
  auto decoded = decode(valid_request());
  ASSERT_TRUE(decoded) << decoded.error();
  const Event& e = std::get<Event>(*decoded);
  EXPECT_EQ(e.prefix, p("192.0.2.7"));
  EXPECT_EQ(e.bantime, std::chrono::seconds(600));
  EXPECT_EQ(to_unix_ms(e.time), 1795652765000);
}

TEST(Codec, EventRoundTrips) {
  Event event = sample_event();
  auto decoded = decode_request(encode(Request{event}));
  ASSERT_TRUE(decoded) << decoded.error();
  ASSERT_TRUE(std::holds_alternative<Event>(*decoded));
  expect_same(std::get<Event>(*decoded), event);
}

TEST(Codec, UnbanEventWithIpv6PrefixAndSpecialBantimesRoundTrips) {
  for (auto bantime : {kPermanentBan, kBantimeNotGiven, kMaxBantime}) {
    Event event = sample_event();
    event.kind = EventKind::unban;
    event.prefix = p("2001:db8:1::/64");
    event.bantime = bantime;
    event.reason.clear();
    auto decoded = decode_request(encode(Request{event}));
    ASSERT_TRUE(decoded) << decoded.error();
    expect_same(std::get<Event>(*decoded), event);
  }
}

TEST(Codec, OperatorEventRoundTrips) {
  Event event = sample_event();
  event.operator_action = true;
  event.reason = "seen in the web logs";
  auto decoded = decode_request(encode(Request{event}));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_TRUE(std::get<Event>(*decoded).operator_action);
  expect_same(std::get<Event>(*decoded), event);
}

TEST(Codec, EventAloneRoundTrips) {
  Event event = sample_event();
  auto decoded = decode_event(encode_event(event));
  ASSERT_TRUE(decoded) << decoded.error();
  expect_same(*decoded, event);
}

TEST(Codec, LargestValidEventFitsTheBoundTheSpoolCountsOn) {
  Event event = sample_event();
  event.prefix = p("2001:db8:ffff:ffff:ffff:ffff:ffff:fffe");
  event.jail = std::string(64, 'j');
  event.host_id = std::string(64, 'h');
  event.bantime = std::chrono::seconds(-1);  // a negative int64 takes ten bytes
  event.failures = std::numeric_limits<std::uint32_t>::max();
  event.bancount = std::numeric_limits<std::uint32_t>::max();
  event.time = from_unix_ms(7258118400000LL);  // the latest time the codec accepts (year 2200)
  event.created = event.time;
  event.reason = std::string(256, 'r');
  event.operator_action = true;
  std::string bytes = encode_event(event);
  ASSERT_TRUE(decode_event(bytes)) << "the largest event should still be valid";
  EXPECT_LE(bytes.size(), kMaxEncodedEventBytes);
  event.reason += "r";
  EXPECT_FALSE(decode_event(encode_event(event))) << "a longer reason is refused, so never spooled";
}

TEST(Codec, SnapshotRequestRoundTrips) {
  for (const std::string& id : {std::string(), std::string("abc"), std::string(32, '\xff')}) {
    auto decoded = decode_request(encode(Request{SnapshotRequest{id}}));
    ASSERT_TRUE(decoded) << decoded.error();
    ASSERT_TRUE(std::holds_alternative<SnapshotRequest>(*decoded));
    EXPECT_EQ(std::get<SnapshotRequest>(*decoded).request_id, id);
  }
}

TEST(Codec, AckRoundTripsWithEveryOutcome) {
  for (auto outcome : {AckOutcome::applied, AckOutcome::duplicate, AckOutcome::refused, AckOutcome::throttled}) {
    Ack ack{sample_event().id, outcome, outcome == AckOutcome::refused ? "allowlisted" : ""};
    auto decoded = decode_reply(encode(Reply{ack}));
    ASSERT_TRUE(decoded) << decoded.error();
    ASSERT_TRUE(std::holds_alternative<Ack>(*decoded));
    const Ack& got = std::get<Ack>(*decoded);
    EXPECT_EQ(got.event_id, ack.event_id);
    EXPECT_EQ(got.outcome, ack.outcome);
    EXPECT_EQ(got.reason, ack.reason);
  }
}

TEST(Codec, StatusRequestRoundTrips) {
  auto decoded = decode_request(encode(Request{StatusRequest{"status-1"}}));
  ASSERT_TRUE(decoded) << decoded.error();
  ASSERT_TRUE(std::holds_alternative<StatusRequest>(*decoded));
  EXPECT_EQ(std::get<StatusRequest>(*decoded).request_id, "status-1");
}

TEST(Codec, StatusRoundTrips) {
  Status status{"status-1", 77, std::string(16, '\x11'), 5, 3, 12, from_unix(1795600000)};
  auto decoded = decode_reply(encode(Reply{status}));
  ASSERT_TRUE(decoded) << decoded.error();
  ASSERT_TRUE(std::holds_alternative<Status>(*decoded));
  const auto& got = std::get<Status>(*decoded);
  EXPECT_EQ(got.request_id, status.request_id);
  EXPECT_EQ(got.sequence, 77u);
  EXPECT_EQ(got.incarnation, status.incarnation);
  EXPECT_EQ(got.active_bans, 5u);
  EXPECT_EQ(got.reporters, 3u);
  EXPECT_EQ(got.subscribers, 12u);
  EXPECT_EQ(got.started_at, status.started_at);
  EXPECT_EQ(got.member, "");  // SQLite state: no HA group
  EXPECT_EQ(got.epoch, 0u);
}

TEST(Codec, StatusOfAnHaMemberRoundTripsAndAnOverlongNameIsAFailure) {
  Status status{"status-1", 77, std::string(16, '\x11'), 5, 3, 12, from_unix(1795600000)};
  status.member = "agg-2.example:4242";
  status.epoch = 3;
  status.active_since = from_unix(1795600100);
  auto decoded = decode_reply(encode(Reply{status}));
  ASSERT_TRUE(decoded) << decoded.error();
  const auto& got = std::get<Status>(*decoded);
  EXPECT_EQ(got.member, "agg-2.example:4242");
  EXPECT_EQ(got.epoch, 3u);
  EXPECT_EQ(got.active_since, from_unix(1795600100));

  pb::Reply long_member;
  long_member.mutable_status()->set_member(std::string(kMaxMemberBytes + 1, 'x'));
  EXPECT_FALSE(decode_reply(long_member.SerializeAsString()));
}

TEST(Codec, OverlongStatusIdsAreFailures) {
  pb::Request request;
  request.mutable_status()->set_request_id(std::string(200, 'x'));
  EXPECT_FALSE(decode(request));

  pb::Reply long_id;
  long_id.mutable_status()->set_request_id(std::string(200, 'x'));
  EXPECT_FALSE(decode_reply(long_id.SerializeAsString()));

  pb::Reply long_incarnation;
  long_incarnation.mutable_status()->set_incarnation(std::string(33, 'x'));
  EXPECT_FALSE(decode_reply(long_incarnation.SerializeAsString()));
}

TEST(Codec, SnapshotChunkWithSeveralDecisionsRoundTrips) {
  SnapshotChunk chunk;
  chunk.request_id = std::string(16, '\x07');
  chunk.sequence = 1234567890123ULL;
  chunk.incarnation = std::string(16, '\x5a');
  chunk.decisions = {sample_decision(false), sample_decision(true), sample_decision(false)};
  chunk.decisions[2].prefix = p("198.51.100.9");
  chunk.decisions[2].reporters = {"db-1"};
  chunk.decisions[2].jails = {"postfix"};
  chunk.decisions[2].sequence = 7;
  chunk.last = true;
  auto decoded = decode_reply(encode(Reply{chunk}));
  ASSERT_TRUE(decoded) << decoded.error();
  ASSERT_TRUE(std::holds_alternative<SnapshotChunk>(*decoded));
  const auto& got = std::get<SnapshotChunk>(*decoded);
  EXPECT_EQ(got.request_id, chunk.request_id);
  EXPECT_EQ(got.sequence, chunk.sequence);
  EXPECT_EQ(got.incarnation, chunk.incarnation);
  EXPECT_TRUE(got.last);
  ASSERT_EQ(got.decisions.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) expect_same(got.decisions[i], chunk.decisions[i]);
}

TEST(Codec, EmptyNonFinalSnapshotChunkRoundTrips) {
  SnapshotChunk chunk;
  chunk.request_id = "r";
  auto decoded = decode_reply(encode(Reply{chunk}));
  ASSERT_TRUE(decoded) << decoded.error();
  const auto& got = std::get<SnapshotChunk>(*decoded);
  EXPECT_TRUE(got.decisions.empty());
  EXPECT_FALSE(got.last);
}

TEST(Codec, TimedDecisionRoundTrips) {
  Decision d = sample_decision(false);
  auto decoded = decode_broadcast(encode(Broadcast{d}));
  ASSERT_TRUE(decoded) << decoded.error();
  ASSERT_TRUE(std::holds_alternative<Decision>(*decoded));
  const Decision& got = std::get<Decision>(*decoded);
  expect_same(got, d);
  EXPECT_FALSE(got.permanent());
}

TEST(Codec, PermanentDecisionRoundTrips) {
  Decision d = sample_decision(true);
  auto decoded = decode_broadcast(encode(Broadcast{d}));
  ASSERT_TRUE(decoded) << decoded.error();
  const Decision& got = std::get<Decision>(*decoded);
  expect_same(got, d);
  EXPECT_TRUE(got.permanent());
  EXPECT_FALSE(got.expires_at.has_value());
}

TEST(Codec, EndedDecisionRoundTrips) {
  Decision d = sample_decision(false);
  d.active = false;
  d.reporters.clear();
  auto decoded = decode_broadcast(encode(Broadcast{d}));
  ASSERT_TRUE(decoded) << decoded.error();
  expect_same(std::get<Decision>(*decoded), d);
}

TEST(Codec, DecisionRoundTripsThroughTheStorageHelpers) {
  Decision d = sample_decision(false);
  pb::Decision proto;
  decision_to_proto(d, proto);
  EXPECT_EQ(proto.expires_at(), 1795653600);
  EXPECT_FALSE(proto.permanent());
  auto back = decision_from_proto(proto);
  ASSERT_TRUE(back) << back.error();
  expect_same(*back, d);
}

TEST(Codec, DecisionTotalsRoundTripAndNeverFallBelowTheLists) {
  Decision d = sample_decision(false);
  d.reporter_count = 1030;
  d.jail_count = 1100;
  auto decoded = decode_broadcast(encode(Broadcast{d}));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(std::get<Decision>(*decoded).reporter_count, 1030u);
  EXPECT_EQ(std::get<Decision>(*decoded).jail_count, 1100u);

  // An older aggregator sends no totals: they are the lists' sizes.
  pb::Broadcast old;
  decision_to_proto(sample_decision(false), *old.mutable_decision());
  old.mutable_decision()->clear_reporter_count();
  old.mutable_decision()->clear_jail_count();
  auto from_old = decode_broadcast(old.SerializeAsString());
  ASSERT_TRUE(from_old) << from_old.error();
  EXPECT_EQ(std::get<Decision>(*from_old).reporter_count, 2u);
  EXPECT_EQ(std::get<Decision>(*from_old).jail_count, 2u);
}

// The largest decision the aggregator makes (64 names of 64 bytes each, a 256-byte reason) fits
// the bound a snapshot chunk is cut by, and a chunk cut at 4 MiB fits what a client accepts.
TEST(Codec, EncodedSizeBoundHoldsForTheLargestDecision) {
  Decision d = sample_decision(false);
  d.sequence = UINT64_MAX;
  d.prefix = p("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
  d.reporters.clear();
  d.jails.clear();
  for (std::size_t i = 0; i < kMaxDecisionNames; ++i) {
    d.reporters.push_back(std::string(60, 'h') + std::to_string(1000 + i));
    d.jails.push_back(std::string(60, 'j') + std::to_string(1000 + i));
  }
  d.reporter_count = UINT32_MAX;
  d.jail_count = UINT32_MAX;
  d.ban_count = UINT32_MAX;
  d.banned_at = from_unix(-1);
  d.expires_at = from_unix(-1);
  d.reason = std::string(256, 'r');
  SnapshotChunk empty{.request_id = std::string(32, 'q'), .sequence = UINT64_MAX, .incarnation = std::string(32, 'i')};
  std::size_t header = encode(Reply{empty}).size();
  SnapshotChunk one = empty;
  one.decisions = {d};
  std::size_t with_one = encode(Reply{one}).size();
  EXPECT_LE(with_one - header, encoded_size_bound(d));
  SnapshotChunk many = empty;
  many.decisions.assign(100, d);
  many.last = true;
  EXPECT_LE(encode(Reply{many}).size() - header - 2, 100 * encoded_size_bound(d));
  auto decoded = decode_reply(encode(Reply{many}));
  ASSERT_TRUE(decoded) << decoded.error();
}

TEST(Codec, HeartbeatRoundTrips) {
  Heartbeat hb{987654321, std::string(16, '\x33'), from_unix(1795650000)};
  auto decoded = decode_broadcast(encode(Broadcast{hb}));
  ASSERT_TRUE(decoded) << decoded.error();
  ASSERT_TRUE(std::holds_alternative<Heartbeat>(*decoded));
  const auto& got = std::get<Heartbeat>(*decoded);
  EXPECT_EQ(got.sequence, hb.sequence);
  EXPECT_EQ(got.incarnation, hb.incarnation);
  EXPECT_EQ(got.time, hb.time);
}

// decode_broadcast parses into one message per thread, again and again: nothing of one broadcast
// may show in the next, whatever came between (a larger decision, a heartbeat, a broken frame).
TEST(Codec, NothingOfOneBroadcastShowsInTheNext) {
  Decision large = sample_decision(false);
  large.reporters = {"web-01", "web-02", "web-03", std::string(64, 'w')};
  large.reason = std::string(256, 'r');
  large.geo = std::make_shared<const Geo>(Geo{"NL", 64496, "Example AS"});
  Decision small = sample_decision(true);
  small.prefix = p("192.0.2.7");
  small.sequence = 43;
  small.reporters = {"db-1"};
  small.jails.clear();
  small.reason.clear();
  const Heartbeat hb{99, std::string(16, '\x33'), from_unix(1795650000)};
  std::string truncated = encode(Broadcast{large});
  truncated.resize(truncated.size() / 2);
  for (int round = 0; round < 2; ++round) {
    auto first = decode_broadcast(encode(Broadcast{large}));
    ASSERT_TRUE(first) << first.error();
    EXPECT_EQ(std::get<Decision>(*first).reporters, large.reporters);
    ASSERT_TRUE(std::get<Decision>(*first).geo);
    EXPECT_FALSE(decode_broadcast(truncated));
    auto second = decode_broadcast(encode(Broadcast{small}));
    ASSERT_TRUE(second) << second.error();
    expect_same(std::get<Decision>(*second), small);
    EXPECT_FALSE(std::get<Decision>(*second).geo);
    auto beat = decode_broadcast(encode(Broadcast{hb}));
    ASSERT_TRUE(beat) << beat.error();
    ASSERT_TRUE(std::holds_alternative<Heartbeat>(*beat));
    EXPECT_EQ(std::get<Heartbeat>(*beat).sequence, 99u);
    auto third = decode_broadcast(encode(Broadcast{small}));
    ASSERT_TRUE(third) << third.error();
    expect_same(std::get<Decision>(*third), small);
  }
}

TEST(Codec, EmptyFramesAreFailures) {
  EXPECT_FALSE(decode_request(""));
  EXPECT_FALSE(decode_reply(""));
  EXPECT_FALSE(decode_broadcast(""));
  EXPECT_FALSE(decode_event(""));
}

TEST(Codec, GarbageBytesAreFailuresNeverThrows) {
  for (const std::string& frame :
       {std::string("hello world"), std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
        std::string(1, '\0'), std::string("\x0a\xff\xff\xff\xff\x0f", 6), std::string("\x0a\x05\x0a\x03", 4),
        std::string(1000, '\x0a')}) {
    EXPECT_FALSE(decode_request(frame));
    EXPECT_FALSE(decode_reply(frame));
    EXPECT_FALSE(decode_broadcast(frame));
    EXPECT_FALSE(decode_event(frame));
  }
}

TEST(Codec, RandomBytesNeverCrashOrThrow) {
  google::protobuf::LogSilencer quiet;  // protobuf logs each invalid UTF-8 string it meets
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> size(0, 64);
  for (int i = 0; i < 5000; ++i) {
    std::string frame(static_cast<std::size_t>(size(random)), '\0');
    for (char& c : frame) c = static_cast<char>(byte(random));
    EXPECT_NO_THROW({
      (void)decode_request(frame);
      (void)decode_reply(frame);
      (void)decode_broadcast(frame);
      (void)decode_event(frame);
    });
  }
}

TEST(Codec, TruncatedValidFramesNeverCrashOrThrow) {
  std::string frame = encode(Request{sample_event()});
  for (std::size_t n = 0; n < frame.size(); ++n) {
    EXPECT_NO_THROW((void)decode_request(frame.substr(0, n))) << n;
  }
  std::string chunk = encode(Reply{SnapshotChunk{"r", 1, "i", {sample_decision(false)}, true}});
  for (std::size_t n = 0; n < chunk.size(); ++n) {
    EXPECT_NO_THROW((void)decode_reply(chunk.substr(0, n))) << n;
  }
}

TEST(Codec, MappedAddressOnTheWireIsIpv4) {
  auto request = valid_request();
  std::string mapped(10, '\0');
  mapped += std::string("\xff\xff\x0a\x00\x00\x01", 6);
  request.mutable_event()->mutable_prefix()->set_address(mapped);
  request.mutable_event()->mutable_prefix()->set_length(128);
  auto decoded = decode(request);
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(std::get<Event>(*decoded).prefix, p("10.0.0.1"));
  EXPECT_EQ(std::get<Event>(*decoded).prefix.family(), Family::v4);
}

TEST(Codec, EventWithThreeByteAddressIsAFailure) {
  auto request = valid_request();
  request.mutable_event()->mutable_prefix()->set_address(std::string("\xc0\x00\x02", 3));
  request.mutable_event()->mutable_prefix()->set_length(24);
  EXPECT_FALSE(decode(request));
}

TEST(Codec, EventWithoutPrefixIsAFailure) {
  auto request = valid_request();
  request.mutable_event()->clear_prefix();
  EXPECT_FALSE(decode(request));
}

TEST(Codec, PrefixLengthBeyondTheFamilyIsAFailure) {
  auto v4 = valid_request();
  v4.mutable_event()->mutable_prefix()->set_length(33);
  EXPECT_FALSE(decode(v4));

  auto v6 = valid_request();
  v6.mutable_event()->mutable_prefix()->set_address(std::string(16, '\x20'));
  v6.mutable_event()->mutable_prefix()->set_length(129);
  EXPECT_FALSE(decode(v6));
}

TEST(Codec, BadEventIdIsAFailure) {
  for (std::size_t size : {0u, 15u, 17u}) {
    auto request = valid_request();
    request.mutable_event()->set_event_id(std::string(size, '\x01'));
    EXPECT_FALSE(decode(request)) << size;
  }
}

TEST(Codec, UnspecifiedOrUnknownKindIsAFailure) {
  auto unspecified = valid_request();
  unspecified.mutable_event()->set_kind(pb::Event::KIND_UNSPECIFIED);
  EXPECT_FALSE(decode(unspecified));

  auto unknown = valid_request();
  unknown.mutable_event()->set_kind(static_cast<pb::Event::Kind>(7));
  EXPECT_FALSE(decode(unknown));
}

TEST(Codec, BadJailNamesAreFailures) {
  for (const std::string& jail : {std::string(), std::string("ss hd"), std::string("sshd\n"), std::string("-sshd"),
                                  std::string(65, 'a'), std::string("ssh/d"), std::string("sshd\0x", 6)}) {
    auto request = valid_request();
    request.mutable_event()->set_jail(jail);
    EXPECT_FALSE(decode(request)) << "jail '" << jail << "'";
  }
  auto longest = valid_request();
  longest.mutable_event()->set_jail(std::string(64, 'a'));
  EXPECT_TRUE(decode(longest));
}

TEST(Codec, BadHostIdIsAFailure) {
  for (const std::string& host : {std::string(), std::string("web 01"), std::string("web-01;rm")}) {
    auto request = valid_request();
    request.mutable_event()->set_host_id(host);
    EXPECT_FALSE(decode(request)) << "host '" << host << "'";
  }
}

TEST(Codec, BantimeOutsideTheValidRangeIsAFailure) {
  for (std::int64_t bantime : {std::int64_t{-2}, std::int64_t{INT64_MIN}, kMaxBantime.count() + 1}) {
    auto request = valid_request();
    request.mutable_event()->set_bantime(bantime);
    EXPECT_FALSE(decode(request)) << bantime;
  }
  for (std::int64_t bantime : {std::int64_t{-1}, std::int64_t{0}, kMaxBantime.count()}) {
    auto request = valid_request();
    request.mutable_event()->set_bantime(bantime);
    EXPECT_TRUE(decode(request)) << bantime;
  }
}

TEST(Codec, ImplausibleTimesAreFailures) {
  for (std::int64_t ms : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{946684799999}, std::int64_t{7258118400001},
                          std::int64_t{INT64_MAX}}) {
    auto time = valid_request();
    time.mutable_event()->set_time_ms(ms);
    EXPECT_FALSE(decode(time)) << "time " << ms;

    auto created = valid_request();
    created.mutable_event()->set_created_ms(ms);
    EXPECT_FALSE(decode(created)) << "created " << ms;
  }
}

TEST(Codec, OverlongReasonIsAFailure) {
  auto request = valid_request();
  request.mutable_event()->set_reason(std::string(257, 'r'));
  EXPECT_FALSE(decode(request));
  request.mutable_event()->set_reason(std::string(256, 'r'));
  EXPECT_TRUE(decode(request));
}

TEST(Codec, OverlongSnapshotRequestIdIsAFailure) {
  pb::Request request;
  request.mutable_snapshot()->set_request_id(std::string(200, 'x'));
  EXPECT_FALSE(decode(request));
  request.mutable_snapshot()->set_request_id(std::string(33, 'x'));
  EXPECT_FALSE(decode(request));
}

TEST(Codec, RequestWithNoBodyIsAFailure) {
  pb::Request request;
  EXPECT_FALSE(decode(request));
}

TEST(Codec, MalformedAcksAreFailures) {
  pb::Reply short_id;
  short_id.mutable_ack()->set_event_id("abc");
  short_id.mutable_ack()->set_outcome(pb::Ack::APPLIED);
  EXPECT_FALSE(decode_reply(short_id.SerializeAsString()));

  pb::Reply no_outcome;
  no_outcome.mutable_ack()->set_event_id(std::string(16, '\x01'));
  EXPECT_FALSE(decode_reply(no_outcome.SerializeAsString()));
}

TEST(Codec, OverlongAckReasonIsCutNotRefused) {
  pb::Reply reply;
  reply.mutable_ack()->set_event_id(std::string(16, '\x01'));
  reply.mutable_ack()->set_outcome(pb::Ack::REFUSED);
  reply.mutable_ack()->set_reason(std::string(1000, 'r'));
  auto decoded = decode_reply(reply.SerializeAsString());
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(std::get<Ack>(*decoded).reason, std::string(256, 'r'));
}

TEST(Codec, MalformedSnapshotChunksAreFailures) {
  pb::Reply long_request_id;
  long_request_id.mutable_chunk()->set_request_id(std::string(200, 'x'));
  EXPECT_FALSE(decode_reply(long_request_id.SerializeAsString()));

  pb::Reply long_incarnation;
  long_incarnation.mutable_chunk()->set_incarnation(std::string(33, 'x'));
  EXPECT_FALSE(decode_reply(long_incarnation.SerializeAsString()));

  pb::Reply bad_decision;
  Decision d = sample_decision(false);
  decision_to_proto(d, *bad_decision.mutable_chunk()->add_decisions());
  decision_to_proto(d, *bad_decision.mutable_chunk()->add_decisions());
  bad_decision.mutable_chunk()->mutable_decisions(1)->mutable_prefix()->set_length(129);
  EXPECT_FALSE(decode_reply(bad_decision.SerializeAsString()));

  pb::Reply empty;
  EXPECT_FALSE(decode_reply(empty.SerializeAsString()));
}

TEST(Codec, MalformedDecisionsAreFailures) {
  Decision d = sample_decision(false);
  auto broken = [&](auto&& mutate) {
    pb::Broadcast broadcast;
    decision_to_proto(d, *broadcast.mutable_decision());
    mutate(*broadcast.mutable_decision());
    return decode_broadcast(broadcast.SerializeAsString());
  };
  EXPECT_FALSE(broken([](pb::Decision& m) { m.mutable_prefix()->set_address("abc"); }));
  EXPECT_FALSE(broken([](pb::Decision& m) { m.clear_prefix(); }));
  EXPECT_FALSE(broken([](pb::Decision& m) { m.add_reporters("bad name"); }));
  EXPECT_FALSE(broken([](pb::Decision& m) { m.add_jails(""); }));
  EXPECT_FALSE(broken([](pb::Decision& m) { m.set_reason(std::string(257, 'r')); }));
  EXPECT_FALSE(broken([](pb::Decision& m) {
    for (int i = 0; i < 1025; ++i) m.add_reporters("h" + std::to_string(i));
  }));
  EXPECT_TRUE(broken([](pb::Decision&) {}));
}

TEST(Codec, MalformedHeartbeatIsAFailure) {
  pb::Broadcast broadcast;
  broadcast.mutable_heartbeat()->set_incarnation(std::string(200, 'i'));
  EXPECT_FALSE(decode_broadcast(broadcast.SerializeAsString()));

  pb::Broadcast empty;
  EXPECT_FALSE(decode_broadcast(empty.SerializeAsString()));
}

TEST(Codec, RefusedEventStillGivesItsIdAndTheValueAtFault) {
  auto request = valid_request();
  request.mutable_event()->set_time_ms(100'000);  // a clock at 1970, before NTP
  std::string frame = request.SerializeAsString();
  auto decoded = decode_request(frame);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().find("time 100 "), std::string::npos) << decoded.error();
  auto id = event_id_of_request(frame);
  ASSERT_TRUE(id);
  EventId expected{};
  expected.fill(0x01);
  EXPECT_EQ(*id, expected);
}

TEST(Codec, EventIdOfRequestIsNothingWithoutAnEventId) {
  auto short_id = valid_request();
  short_id.mutable_event()->set_event_id("abc");
  EXPECT_FALSE(event_id_of_request(short_id.SerializeAsString()));
  pb::Request snapshot;
  snapshot.mutable_snapshot()->set_request_id("r1");
  EXPECT_FALSE(event_id_of_request(snapshot.SerializeAsString()));
  EXPECT_FALSE(event_id_of_request("\xff\xff garbage"));
}

TEST(Codec, CheckEventAppliesTheDecodersRules) {
  EXPECT_FALSE(check_event(sample_event()));
  Event at_1970 = sample_event();
  at_1970.time = from_unix_ms(100'000);
  auto bad = check_event(at_1970);
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("before 2000"), std::string::npos) << *bad;
  Event bad_host = sample_event();
  bad_host.host_id = "web 01";
  ASSERT_TRUE(check_event(bad_host));
  EXPECT_NE(check_event(bad_host)->find("web 01"), std::string::npos);
  EXPECT_FALSE(check_event_time("time", from_unix_ms(kMinEventTimeMs)));
  EXPECT_TRUE(check_event_time("time", from_unix_ms(kMinEventTimeMs - 1)));
  EXPECT_FALSE(check_event_time("time", from_unix_ms(kMaxEventTimeMs)));
  EXPECT_TRUE(check_event_time("time", from_unix_ms(kMaxEventTimeMs + 1)));
}

// --- GeoIP on snapshots for `fleetban list` (with_geo) ------------------------------------------

TEST(Codec, SnapshotRequestCarriesWithGeo) {
  for (bool with_geo : {false, true}) {
    auto decoded = decode_request(encode(Request{SnapshotRequest{.request_id = "r1", .with_geo = with_geo}}));
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_EQ(std::get<SnapshotRequest>(*decoded).with_geo, with_geo);
  }
}

TEST(Codec, DecisionGeoRoundTripsAndStaysAbsentWhenNotSet) {
  SnapshotChunk chunk{.request_id = "r", .decisions = {sample_decision(false), sample_decision(false)}};
  chunk.decisions[0].geo = std::make_shared<const Geo>(Geo{"NL", 64496, "Example Net"});
  auto decoded = decode_reply(encode(Reply{chunk}));
  ASSERT_TRUE(decoded) << decoded.error();
  const auto& got = std::get<SnapshotChunk>(*decoded).decisions;
  ASSERT_EQ(got.size(), 2u);
  ASSERT_NE(got[0].geo, nullptr);
  EXPECT_EQ(got[0].geo->country, "NL");
  EXPECT_EQ(got[0].geo->asn, 64496u);
  EXPECT_EQ(got[0].geo->as_org, "Example Net");
  EXPECT_EQ(got[1].geo, nullptr) << "no geo sent, none received";

  // GeoIP on but the address unknown: present, empty.
  chunk.decisions[0].geo = std::make_shared<const Geo>();
  decoded = decode_reply(encode(Reply{chunk}));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_NE(std::get<SnapshotChunk>(*decoded).decisions[0].geo, nullptr);
}

TEST(Codec, LargestGeoFitsTheSizeBoundAndLongerIsAFailure) {
  Decision d = sample_decision(false);
  d.geo = std::make_shared<const Geo>(Geo{std::string(8, 'C'), UINT32_MAX, std::string(256, 'o')});
  SnapshotChunk empty{.request_id = "r"};
  SnapshotChunk one = empty;
  one.decisions = {d};
  EXPECT_LE(encode(Reply{one}).size() - encode(Reply{empty}).size(), encoded_size_bound(d));
  ASSERT_TRUE(decode_reply(encode(Reply{one})));

  for (const Geo& overlong : {Geo{std::string(9, 'C'), 1, ""}, Geo{"NL", 1, std::string(257, 'o')}}) {
    one.decisions[0].geo = std::make_shared<const Geo>(overlong);
    EXPECT_FALSE(decode_reply(encode(Reply{one}))) << overlong.country << " " << overlong.as_org.size();
  }
}

}  // namespace
