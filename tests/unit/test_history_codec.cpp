// HistoryRequest and its History reply on the wire (common/history_codec, through the codec).

#include "common/history_codec.hpp"

#include <gtest/gtest.h>

#include "fleetban.pb.h"
#include "printers.hpp"

namespace {

using namespace fleetban::common;
namespace pb = fleetban::v1;

AddressHistory sample() {
  AddressHistory h;
  h.prefix = *IpPrefix::parse("192.0.2.7");
  Decision d;
  d.sequence = 9;
  d.prefix = h.prefix;
  d.active = true;
  d.reporters = {"web-01"};
  d.jails = {"sshd"};
  d.ban_count = 1;
  h.decision = d;
  h.ban_count = 1;
  h.entries = {{from_unix(1'795'650'000), HistoryKind::unban, true, "alice", "manual", "operator: lifted"}};
  h.total = 3;
  return h;
}

TEST(HistoryCodec, RequestAndReplyRoundTrip) {
  auto request = decode_request(encode(Request{HistoryRequest{"id-1", *IpPrefix::parse("::ffff:192.0.2.7")}}));
  ASSERT_TRUE(request) << request.error();
  const auto& asked = std::get<HistoryRequest>(*request);
  EXPECT_EQ(asked.request_id, "id-1");
  EXPECT_EQ(asked.prefix, *IpPrefix::parse("192.0.2.7"));

  auto reply = decode_reply(encode(Reply{HistoryReply{"id-1", sample()}}));
  ASSERT_TRUE(reply) << reply.error();
  const auto& got = std::get<HistoryReply>(*reply);
  EXPECT_EQ(got.request_id, "id-1");
  EXPECT_EQ(got.history.prefix, sample().prefix);
  ASSERT_TRUE(got.history.decision);
  EXPECT_EQ(got.history.decision->sequence, 9u);
  EXPECT_EQ(got.history.entries, sample().entries);
  EXPECT_EQ(got.history.total, 3u);
}

TEST(HistoryCodec, AMalformedPrefixOrRowIsRefused) {
  pb::Request request;
  request.mutable_history()->set_request_id("x");
  request.mutable_history()->mutable_prefix()->set_address("\x01\x02\x03");
  request.mutable_history()->mutable_prefix()->set_length(24);
  auto decoded = decode_request(request.SerializeAsString());
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error(), "history request: bad prefix");

  pb::Reply reply;
  history_to_proto(HistoryReply{"x", sample()}, *reply.mutable_history());
  reply.mutable_history()->mutable_entries(0)->set_host("bad name!");
  EXPECT_FALSE(decode_reply(reply.SerializeAsString()));
  reply.Clear();
  history_to_proto(HistoryReply{"x", sample()}, *reply.mutable_history());
  reply.mutable_history()->mutable_entries(0)->set_kind(static_cast<pb::HistoryEntry::Kind>(9));
  EXPECT_FALSE(decode_reply(reply.SerializeAsString()));
}

}  // namespace
