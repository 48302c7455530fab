#pragma once
// GET /api/v1/blocklist.txt's rules, apart from the serving: which family a request asks for, the
// list's ETag and whether a client's If-None-Match already names it. The ETag comes from the
// state's incarnation and sequence (which moves with every change of any decision), so a poller
// whose list is current is answered 304 without a walk of the state or a hash of the list.

#include <optional>
#include <string>
#include <string_view>

#include "aggregator/state_view.hpp"
#include "common/ip_prefix.hpp"

namespace fleetban::aggregator {

// The prefixes a list of this many bytes at most is sent in, one loop turn each.
inline constexpr std::size_t kBlocklistChunk = 10'000;

struct FamilyChoice {
  bool valid = true;
  std::optional<common::Family> family;  // none: both
};
// `family=` as given: "4", "6", or absent (both); anything else is not valid.
FamilyChoice parse_family(const std::optional<std::string>& value);

// A strong ETag, quoted, for the list of `family` at `version`.
std::string blocklist_etag(const StateView::Version& version, std::optional<common::Family> family);

// Whether an If-None-Match header ("*", or a comma-separated list of tags, weak or strong) names `etag`.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

}  // namespace fleetban::aggregator
