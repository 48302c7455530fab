#include "common/history_json.hpp"

#include "common/bans_json.hpp"

namespace fleetban::common {

namespace {

void append_or_null(std::string& out, const std::string& text) {
  if (text.empty()) {
    out += "null";
  } else {
    append_json_string(out, text);
  }
}

}  // namespace

std::string history_json(const AddressHistory& history) {
  std::string out;
  out.reserve(128 + history.entries.size() * 128);
  out += "{\"ip\":";
  append_json_string(out, history.prefix.to_string());
  out += ",\"decision\":";
  if (history.decision) {
    append_ban_json(out, *history.decision);
  } else {
    out += "null";
  }
  out += ",\"ban_count\":";
  out += std::to_string(history.ban_count);
  out += ",\"history\":[";
  for (std::size_t i = 0; i < history.entries.size(); ++i) {
    const HistoryEntry& e = history.entries[i];
    if (i > 0) out += ',';
    out += "{\"at\":";
    out += std::to_string(to_unix(e.at));
    out += ",\"kind\":\"";
    out += history_kind_name(e.kind);
    out += "\",\"host\":";
    append_or_null(out, e.host);
    out += ",\"jail\":";
    append_or_null(out, e.jail);
    out += ",\"reason\":";
    append_or_null(out, e.reason);
    out += ",\"fleet\":";
    out += e.fleet ? "true" : "false";
    out += '}';
  }
  out += "],\"history_total\":";
  out += std::to_string(history.total);
  out += '}';
  return out;
}

}  // namespace fleetban::common
