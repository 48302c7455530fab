#include "common/bans_json.hpp"

#include <algorithm>
#include <cstdio>

#include "common/active_decisions.hpp"

namespace fleetban::common {

namespace {

// A JSON string. Names are validated to [A-Za-z0-9._@:-] and addresses are canonical text, but
// escaping here keeps this writer correct whatever it is given.
void append_string(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_names(std::string& out, const std::vector<std::string>& names) {
  out += '[';
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    append_string(out, names[i]);
  }
  out += ']';
}

// With GeoIP on: "country" (ISO code), "asn" and "as_org", each null when the databases do not know.
void append_string_or_null(std::string& out, std::string_view text) {
  if (text.empty()) {
    out += "null";
  } else {
    append_string(out, text);
  }
}

void append_geo(std::string& out, const Geo& geo) {
  out += ",\"country\":";
  append_string_or_null(out, geo.country);
  out += ",\"asn\":";
  out += geo.asn != 0 ? std::to_string(geo.asn) : "null";
  out += ",\"as_org\":";
  append_string_or_null(out, geo.as_org);
}

void append_ban(std::string& out, const Decision& d) {
  out += "{\"ip\":";
  append_string(out, d.prefix.to_string());
  out += ",\"expires_at\":";
  out += d.expires_at ? std::to_string(to_unix(*d.expires_at)) : "null";
  out += ",\"reporters\":";
  append_names(out, d.reporters);
  out += ",\"jails\":";
  append_names(out, d.jails);
  // The lists hold the first 64 names; the totals count them all (common/decision.hpp).
  out += ",\"reporter_count\":";
  out += std::to_string(std::max(d.reporter_count, static_cast<std::uint32_t>(d.reporters.size())));
  out += ",\"jail_count\":";
  out += std::to_string(std::max(d.jail_count, static_cast<std::uint32_t>(d.jails.size())));
  out += ",\"ban_count\":";
  out += std::to_string(d.ban_count);
  if (d.geo) append_geo(out, *d.geo);
  out += '}';
}

}  // namespace

// Written by hand rather than through a JSON tree: with a million bans the tree cost seconds and
// hundreds of MB, the text costs one pass.
std::string bans_json(const std::vector<Decision>& decisions) {
  std::vector<const Decision*> active = active_by_prefix(decisions);
  std::string out;
  out.reserve(16 + active.size() * 96);
  out += "{\"bans\":[";
  for (std::size_t i = 0; i < active.size(); ++i) {
    if (i > 0) out += ',';
    append_ban(out, *active[i]);
  }
  out += "]}";
  return out;
}

std::string bans_page_json(const std::vector<Decision>& page, const std::optional<IpPrefix>& next) {
  std::string out;
  out.reserve(32 + page.size() * 96);
  out += "{\"bans\":[";
  bool first = true;
  for (const auto& d : page) {
    if (!d.active) continue;
    if (!first) out += ',';
    first = false;
    append_ban(out, d);
  }
  out += "],\"next\":";
  if (next) {
    append_string(out, next->to_string());
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

void append_json_string(std::string& out, std::string_view text) { append_string(out, text); }
void append_ban_json(std::string& out, const Decision& decision) { append_ban(out, decision); }

}  // namespace fleetban::common
