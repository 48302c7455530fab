#include "aggregator/stored_record.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <random>

#include "common/codec.hpp"
#include "fleetban.pb.h"

namespace fleetban::aggregator {

namespace {

namespace pb = ::fleetban::v1;

// Keeps the first kMaxDecisionNames of a stored list; returns its total (at least what it held).
std::uint32_t cap_names(google::protobuf::RepeatedPtrField<std::string>& names, std::uint32_t total) {
  constexpr int kMax = static_cast<int>(common::kMaxDecisionNames);
  total = std::max(total, static_cast<std::uint32_t>(names.size()));
  if (names.size() > kMax) names.DeleteSubrange(kMax, names.size() - kMax);
  return total;
}

constexpr std::string_view kLastEventKey = "last_event:";

}  // namespace

std::string last_event_meta_key(const std::string& host_key) { return std::string(kLastEventKey) + host_key; }

void read_meta_row(std::string_view key, std::string_view value, StoredState& state) {
  auto number = [&](std::int64_t& out) {
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
    return error == std::errc() && end == value.data() + value.size();
  };
  std::int64_t n = 0;
  if (key == "sequence" && number(n)) state.sequence = static_cast<std::uint64_t>(n);
  if (key == "incarnation") state.incarnation = std::string(value);
  if (key.starts_with(kLastEventKey) && number(n)) {
    state.last_events[std::string(key.substr(kLastEventKey.size()))] = common::from_unix(n);
  }
}

void append_event_ids(std::string_view ids, std::vector<common::EventId>& out) {
  common::EventId id{};
  for (std::size_t offset = 0; offset + id.size() <= ids.size(); offset += id.size()) {
    std::memcpy(id.data(), ids.data() + offset, id.size());
    out.push_back(id);
  }
}

void sort_unique(std::vector<common::EventId>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

std::string storage_key(const common::IpPrefix& prefix) {
  std::string key(prefix.bytes());
  key += static_cast<char>(prefix.length());
  return key;
}

std::string encode_record(const FleetRecord& record) {
  pb::Record out;
  common::decision_to_proto(record.decision, *out.mutable_decision());
  for (const auto& r : record.reports) {
    pb::Report& report = *out.add_reports();
    report.set_host_id(r.host_id);
    report.set_jail(r.jail);
    report.set_at(common::to_unix(r.at));
    report.set_bantime(r.bantime.count());
  }
  out.set_last_duration(record.last_duration.count());
  out.set_changed_at(common::to_unix(record.changed_at));
  return out.SerializeAsString();
}

common::Expected<FleetRecord> decode_record(const void* data, int size) {
  pb::Record in;
  if (!in.ParseFromArray(data, size)) return common::Failure{"unparsable record"};
  // A database written before decisions were capped may hold more names than a decoder takes:
  // keep the first ones and their totals, so such a database still loads (and heals when written).
  pb::Decision& stored = *in.mutable_decision();
  stored.set_reporter_count(cap_names(*stored.mutable_reporters(), stored.reporter_count()));
  stored.set_jail_count(cap_names(*stored.mutable_jails(), stored.jail_count()));
  if (in.reports_size() > static_cast<int>(kMaxReportsPerRecord)) {
    in.mutable_reports()->DeleteSubrange(0, in.reports_size() - static_cast<int>(kMaxReportsPerRecord));
  }
  auto decision = common::decision_from_proto(in.decision());
  if (!decision) return common::Failure{decision.error()};
  FleetRecord record;
  record.decision = std::move(*decision);
  for (const auto& r : in.reports()) {
    record.reports.push_back({r.host_id(), r.jail(), common::from_unix(r.at()), std::chrono::seconds(r.bantime())});
  }
  record.last_duration = std::chrono::seconds(in.last_duration());
  record.changed_at = common::from_unix(in.changed_at());
  return record;
}

std::string random_incarnation() {
  std::random_device device;
  std::string id;
  for (int i = 0; i < 4; ++i) {
    std::uint32_t word = device();
    id.append(reinterpret_cast<const char*>(&word), sizeof word);
  }
  return id;
}

}  // namespace fleetban::aggregator
