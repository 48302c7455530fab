#include "aggregator/blocklist.hpp"

namespace fleetban::aggregator {

FamilyChoice parse_family(const std::optional<std::string>& value) {
  if (!value) return {};
  if (*value == "4") return {.family = common::Family::v4};
  if (*value == "6") return {.family = common::Family::v6};
  return {.valid = false};
}

std::string blocklist_etag(const StateView::Version& version, std::optional<common::Family> family) {
  // The incarnation is raw bytes: written in hex, as an ETag holds only printable characters.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (char c : version.incarnation) {
    auto byte = static_cast<unsigned char>(c);
    tag += kHex[byte >> 4];
    tag += kHex[byte & 0x0f];
  }
  tag += "-" + std::to_string(version.sequence);
  if (family) tag += family == common::Family::v4 ? "-v4" : "-v6";
  return tag + "\"";
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  constexpr std::string_view kSpaces = " \t";
  while (!if_none_match.empty()) {
    auto comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    if_none_match = comma == std::string_view::npos ? std::string_view{} : if_none_match.substr(comma + 1);
    auto first = tag.find_first_not_of(kSpaces);
    if (first == std::string_view::npos) continue;
    tag = tag.substr(first, tag.find_last_not_of(kSpaces) - first + 1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // If-None-Match compares weakly
    if (tag == etag) return true;
  }
  return false;
}

}  // namespace fleetban::aggregator
