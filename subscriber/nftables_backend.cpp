#include "subscriber/nftables_backend.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/errors.hpp"
#include "subscriber/command.hpp"

namespace fleetban::subscriber {

using common::Decision;
using common::Family;
using common::IpPrefix;

namespace {

// A batch of 100,000 elements takes about a second; this is only a guard against a hung nft.
constexpr auto kNftTimeout = std::chrono::seconds(120);

struct SetNames {
  std::string_view addresses;
  std::string_view prefixes;
  std::string_view type;
  std::string_view match;  // the rule's source selector
};

SetNames set_names(Family family) {
  if (family == Family::v4) return {"v4", "v4net", "ipv4_addr", "ip saddr"};
  return {"v6", "v6net", "ipv6_addr", "ip6 saddr"};
}

// The address families the table holds, in the order their sets are written.
std::vector<Family> families_of(const NftTable& table) {
  std::vector<Family> families;
  if (table.holds(Family::v4)) families.push_back(Family::v4);
  if (table.holds(Family::v6)) families.push_back(Family::v6);
  return families;
}

// "192.0.2.7 timeout 600s", or "192.0.2.7" with no timeout.
void append_element(std::string& out, const NftElement& element) {
  out += element.prefix.to_string();
  if (element.timeout) fmt::format_to(std::back_inserter(out), " timeout {}s", element.timeout->count());
}

// "VERB element TABLE SET {\n  a,\n  b\n}\n"; nothing for no elements. One element a line, so that
// nft's error message points at the element at fault.
template <typename Range, typename Write>
void append_elements(std::string& out, std::string_view verb, const NftTable& table, std::string_view set,
                     const Range& elements, Write write) {
  if (elements.empty()) return;
  fmt::format_to(std::back_inserter(out), "{} element {} {} {{\n", verb, table.to_string(), set);
  bool first = true;
  for (const auto& element : elements) {
    if (!first) out += ",\n";
    first = false;
    out += "  ";
    write(out, element);
  }
  out += "\n}\n";
}

// A temporary file holding a ruleset, removed when it goes out of scope. nft reads it with -f, so
// run_command needs no stdin.
class RulesetFile {
 public:
  explicit RulesetFile(const std::string& text) {
    std::error_code ec;
    auto dir = std::filesystem::temp_directory_path(ec);
    if (ec) dir = "/tmp";
    std::string pattern = (dir / "fleetban-nft-XXXXXX").string();
    int fd = mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) {
      error_ = pattern + ": " + std::strerror(errno);
      return;
    }
    path_ = pattern;
    std::string_view rest = text;
    while (!rest.empty()) {
      ssize_t n = ::write(fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = path_ + ": " + std::strerror(errno);
        break;
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::close(fd) != 0 && error_.empty()) error_ = path_ + ": " + std::strerror(errno);
  }
  ~RulesetFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  RulesetFile(const RulesetFile&) = delete;
  RulesetFile& operator=(const RulesetFile&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string error_;
};

std::optional<IpPrefix> element_prefix(const nlohmann::json& value) {
  if (value.is_string()) return IpPrefix::parse(value.get<std::string>());
  auto prefix = value.is_object() ? value.find("prefix") : value.end();
  if (prefix == value.end() || !prefix->is_object()) return std::nullopt;  // a range, or what fleetban never writes
  auto addr = prefix->find("addr");
  auto len = prefix->find("len");
  if (addr == prefix->end() || len == prefix->end() || !addr->is_string() || !len->is_number_unsigned()) {
    return std::nullopt;
  }
  return IpPrefix::parse(addr->get<std::string>() + "/" + std::to_string(len->get<unsigned>()));
}

// An element of a listing: "192.0.2.7", {"prefix": ...}, or {"elem": {"val": ..., "expires": S}}.
std::optional<NftElement> listed_element(const nlohmann::json& element) {
  auto inner = element.is_object() ? element.find("elem") : element.end();
  if (inner == element.end()) {
    auto prefix = element_prefix(element);
    if (!prefix) return std::nullopt;
    return NftElement{*prefix, std::nullopt};
  }
  if (!inner->is_object() || !inner->contains("val")) return std::nullopt;
  auto prefix = element_prefix((*inner)["val"]);
  if (!prefix) return std::nullopt;
  NftElement listed{*prefix, std::nullopt};
  for (const char* key : {"expires", "timeout"}) {
    auto it = inner->find(key);
    if (it != inner->end() && it->is_number_unsigned()) {
      listed.timeout = std::chrono::seconds(it->get<std::int64_t>());
      break;
    }
  }
  return listed;
}

}  // namespace

// ---------------------------------------------------------------- pure helpers

NftElement NftablesBackend::element_for(const Decision& decision, common::UnixSeconds now) {
  NftElement element{decision.prefix, std::nullopt};
  if (decision.expires_at) {
    auto left = std::max(std::chrono::seconds(1), *decision.expires_at - now);
    if (left <= kMaxTimeout) element.timeout = left;
  }
  return element;
}

std::vector<NftElement> NftablesBackend::prefix_elements(const std::map<IpPrefix, Decision>& prefixes,
                                                         common::UnixSeconds now) {
  auto live = [&](const Decision& d) { return !d.expires_at || *d.expires_at > now; };
  // The prefix lengths present, per family: a prefix is covered when one of its truncations to a
  // shorter present length is itself a live prefix decision.
  std::set<unsigned> lengths_v4;
  std::set<unsigned> lengths_v6;
  for (const auto& [prefix, d] : prefixes) {
    if (live(d)) (prefix.family() == Family::v4 ? lengths_v4 : lengths_v6).insert(prefix.length());
  }
  std::vector<NftElement> elements;
  for (const auto& [prefix, d] : prefixes) {
    if (!live(d)) continue;
    const auto& lengths = prefix.family() == Family::v4 ? lengths_v4 : lengths_v6;
    bool covered = false;
    for (unsigned length : lengths) {
      if (length >= prefix.length()) break;
      auto outer = prefixes.find(prefix.truncated(length));
      if (outer != prefixes.end() && live(outer->second)) {
        covered = true;
        break;
      }
    }
    if (!covered) elements.push_back(element_for(d, now));
  }
  return elements;
}

std::string NftablesBackend::setup_text(const NftTable& table) {
  const std::string t = table.to_string();
  std::string out = fmt::format("add table {}\n", t);
  for (Family f : families_of(table)) {
    auto s = set_names(f);
    fmt::format_to(std::back_inserter(out), "add set {} {} {{ type {}; flags timeout; }}\n", t, s.addresses, s.type);
    fmt::format_to(std::back_inserter(out), "add set {} {} {{ type {}; flags interval, timeout; }}\n", t, s.prefixes,
                   s.type);
  }
  fmt::format_to(std::back_inserter(out),
                 "add chain {0} input {{ type filter hook input priority -10; policy accept; }}\n"
                 "flush chain {0} input\n",
                 t);
  for (Family f : families_of(table)) {
    auto s = set_names(f);
    fmt::format_to(std::back_inserter(out), "add rule {} input {} @{} drop\n", t, s.match, s.addresses);
    fmt::format_to(std::back_inserter(out), "add rule {} input {} @{} drop\n", t, s.match, s.prefixes);
  }
  return out;
}

std::string NftablesBackend::change_text(const NftTable& table, const NftChange& change) {
  std::string out;
  const std::string t = table.to_string();
  for (Family f : families_of(table)) {
    auto s = set_names(f);
    auto of_family = [f](const IpPrefix& p) { return p.family() == f; };

    // Each element's text once: "192.0.2.7" and "192.0.2.7 timeout 600s".
    std::vector<std::string> bare;   // removals, then rewrites
    std::vector<std::string> timed;  // rewrites, then inserts
    if (!change.replace_addresses) {
      for (const auto& p : change.remove) {
        if (of_family(p)) bare.push_back(p.to_string());
      }
    }
    auto add_element = [&](const NftElement& e, bool rewritten) {
      if (!of_family(e.prefix)) return;
      if (rewritten && !change.replace_addresses) bare.push_back(e.prefix.to_string());
      std::string text;
      append_element(text, e);
      timed.push_back(std::move(text));
    };
    for (const auto& e : change.rewrite) add_element(e, true);
    for (const auto& e : change.insert) add_element(e, false);

    auto verbatim = [](std::string& o, const std::string& text) { o += text; };
    if (change.replace_addresses) fmt::format_to(std::back_inserter(out), "flush set {} {}\n", t, s.addresses);
    append_elements(out, "add", table, s.addresses, bare, verbatim);
    append_elements(out, "delete", table, s.addresses, bare, verbatim);
    append_elements(out, "add", table, s.addresses, timed, verbatim);
    if (change.prefixes) {
      // Flushed and refilled in the same transaction: no moment without the prefixes, and no
      // element deletes (slow in interval sets, and failing for elements already expired).
      std::vector<NftElement> prefixes;
      std::copy_if(change.prefixes->begin(), change.prefixes->end(), std::back_inserter(prefixes),
                   [&](const NftElement& e) { return of_family(e.prefix); });
      fmt::format_to(std::back_inserter(out), "flush set {} {}\n", t, s.prefixes);
      append_elements(out, "add", table, s.prefixes, prefixes, append_element);
    }
  }
  return out;
}

std::string NftablesBackend::cleanup_text(const NftTable& table) {
  return fmt::format("add table {0}\ndelete table {0}\n", table.to_string());
}

std::optional<std::vector<NftElement>> NftablesBackend::parse_listing(std::string_view json) {
  auto document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) return std::nullopt;
  auto items = document.find("nftables");
  if (items == document.end() || !items->is_array()) return std::nullopt;
  static const std::set<std::string, std::less<>> kSets = {"v4", "v4net", "v6", "v6net"};
  std::vector<NftElement> listed;
  for (const auto& item : *items) {
    if (!item.is_object()) continue;
    auto set = item.find("set");
    if (set == item.end() || !set->is_object()) continue;
    auto name = set->find("name");
    if (name == set->end() || !name->is_string() || !kSets.contains(name->get<std::string>())) continue;
    auto elements = set->find("elem");
    if (elements == set->end() || !elements->is_array()) continue;  // an empty set has no "elem"
    for (const auto& element : *elements) {
      if (auto e = listed_element(element)) listed.push_back(*e);
    }
  }
  return listed;
}

// ---------------------------------------------------------------- the backend

NftablesBackend::NftablesBackend(NftTable table, std::vector<std::string> nft)
    : table_(std::move(table)), nft_(std::move(nft)) {}

std::unique_ptr<NftablesBackend> NftablesBackend::from_config(const common::EnforceConfig& config) {
  const char* program = std::getenv("FLEETBAN_NFT");
  std::string text = (program != nullptr && *program != '\0') ? program : "nft";
  auto command = CommandTemplate::parse(text);
  if (!command || command->empty()) throw common::UsageError("FLEETBAN_NFT: '" + text + "' is not a command");
  return std::make_unique<NftablesBackend>(config.nft_table, command->words());
}

bool NftablesBackend::run_batch(const std::string& text, std::string_view what, std::size_t count, LogFailure log) {
  RulesetFile file(text);
  if (!file.ok()) {
    spdlog::error("nft_failed op={} table=\"{}\" elements={} error=\"cannot write {}\"", what, table_.to_string(),
                  count, file.error());
    return false;
  }
  auto argv = nft_;
  argv.insert(argv.end(), {"-f", file.path()});
  auto result = run_command(argv, kNftTimeout);
  if (result.exit_code != 0) {
    // nft prints what it refused, with the line, on our stderr.
    if (log == LogFailure::yes) {
      spdlog::error("nft_failed op={} table=\"{}\" elements={} exit={} timed_out={} error=\"{}\"", what,
                    table_.to_string(), count, result.exit_code, result.timed_out, result.error);
    }
    return false;
  }
  spdlog::info("nft_{} table=\"{}\" elements={}", what, table_.to_string(), count);
  return true;
}

bool NftablesBackend::run_change(const NftChange& change, std::string_view what, std::size_t count) {
  auto text = change_text(table_, change);
  if (set_up_) {
    if (run_batch(text, what, count, LogFailure::no)) return true;
    spdlog::warn("nft_failed op={} table=\"{}\" elements={} retry=\"with the table set up again\"", what,
                 table_.to_string(), count);
  }
  set_up_ = run_batch(setup_text(table_) + text, what, count, LogFailure::yes);
  return set_up_;
}

std::vector<Decision> NftablesBackend::ban(std::span<const Decision> decisions) {
  auto now = common::now_seconds();
  std::map<IpPrefix, NftElement> addresses;  // one element per address, the last decision winning
  std::optional<std::map<IpPrefix, Decision>> prefixes;
  std::size_t held = 0;
  for (const auto& d : decisions) {
    if (!table_.holds(d.prefix.family())) {
      spdlog::debug("not_enforced ip={} reason=\"the table {} holds no such family\"", d.prefix.to_string(),
                    table_.to_string());
      continue;
    }
    ++held;
    if (d.prefix.is_address()) {
      addresses.insert_or_assign(d.prefix, element_for(d, now));
    } else {
      if (!prefixes) prefixes = prefixes_;
      prefixes->insert_or_assign(d.prefix, d);
    }
  }
  if (held == 0) return {};
  NftChange change;
  for (auto& [prefix, element] : addresses) {
    (addresses_.contains(prefix) ? change.rewrite : change.insert).push_back(element);
  }
  if (prefixes) change.prefixes = prefix_elements(*prefixes, now);
  if (!run_change(change, "ban", held)) {
    std::vector<Decision> failed;
    std::copy_if(decisions.begin(), decisions.end(), std::back_inserter(failed),
                 [&](const Decision& d) { return table_.holds(d.prefix.family()); });
    return failed;
  }
  for (const auto& [prefix, element] : addresses) addresses_.insert(prefix);
  if (prefixes) prefixes_ = std::move(*prefixes);
  return {};
}

std::vector<IpPrefix> NftablesBackend::unban(std::span<const IpPrefix> prefixes) {
  auto now = common::now_seconds();
  std::set<IpPrefix> addresses;
  std::optional<std::map<IpPrefix, Decision>> kept;
  std::vector<IpPrefix> held;
  for (const auto& p : prefixes) {
    if (!table_.holds(p.family())) continue;
    held.push_back(p);
    if (p.is_address()) {
      addresses.insert(p);
    } else {
      // Also for a prefix this backend never banned: the rewrite drops it from the set if it is there.
      if (!kept) kept = prefixes_;
      kept->erase(p);
    }
  }
  if (held.empty()) return {};
  NftChange change;
  change.remove.assign(addresses.begin(), addresses.end());
  if (kept) change.prefixes = prefix_elements(*kept, now);
  if (!run_change(change, "unban", held.size())) return held;
  for (const auto& p : addresses) addresses_.erase(p);
  if (kept) prefixes_ = std::move(*kept);
  return {};
}

bool NftablesBackend::replace_all(std::span<const Decision> decisions) {
  auto now = common::now_seconds();
  std::map<IpPrefix, NftElement> addresses;
  std::map<IpPrefix, Decision> prefixes;
  for (const auto& d : decisions) {
    if (!d.active || !table_.holds(d.prefix.family())) continue;
    if (d.prefix.is_address()) {
      addresses.insert_or_assign(d.prefix, element_for(d, now));
    } else {
      prefixes.insert_or_assign(d.prefix, d);
    }
  }
  NftChange change;
  change.replace_addresses = true;
  for (auto& [prefix, element] : addresses) change.insert.push_back(element);
  change.prefixes = prefix_elements(prefixes, now);
  if (!run_change(change, "replace", addresses.size() + prefixes.size())) return false;
  addresses_.clear();
  for (const auto& [prefix, element] : addresses) addresses_.insert(prefix);
  prefixes_ = std::move(prefixes);
  return true;
}

std::optional<std::vector<IpPrefix>> NftablesBackend::enforced() {
  // Setting up first makes "no table yet" an empty answer rather than a failure.
  set_up_ = run_batch(setup_text(table_), "setup", 0, LogFailure::yes);
  if (!set_up_) return std::nullopt;
  auto argv = nft_;
  argv.insert(argv.end(), {"-j", "list", "table", std::string(table_.family_name()), table_.name});
  auto result = run_command(argv, kNftTimeout, CaptureOutput::yes);
  if (result.exit_code != 0) {
    spdlog::warn("nft_failed op=list table=\"{}\" exit={} error=\"{}\"", table_.to_string(), result.exit_code,
                 result.error);
    return std::nullopt;
  }
  auto listed = parse_listing(result.output);
  if (!listed) {
    spdlog::warn("nft_failed op=list table=\"{}\" error=\"unexpected JSON\"", table_.to_string());
    return std::nullopt;
  }
  auto now = common::now_seconds();
  std::vector<IpPrefix> held;
  std::set<IpPrefix> in_sets;
  for (const auto& element : *listed) {
    held.push_back(element.prefix);
    in_sets.insert(element.prefix);
    if (element.prefix.is_address()) {
      addresses_.insert(element.prefix);
    } else if (!prefixes_.contains(element.prefix)) {
      Decision adopted;
      adopted.prefix = element.prefix;
      adopted.active = true;
      adopted.banned_at = now;
      if (element.timeout) adopted.expires_at = now + *element.timeout;
      prefixes_.emplace(element.prefix, std::move(adopted));
    }
  }
  // A prefix inside a larger banned prefix has no element of its own, yet is enforced.
  for (const auto& [prefix, d] : prefixes_) {
    if (in_sets.contains(prefix)) continue;
    for (unsigned length = 0; length < prefix.length(); ++length) {
      if (in_sets.contains(prefix.truncated(length))) {
        held.push_back(prefix);
        break;
      }
    }
  }
  return held;
}

bool NftablesBackend::lists_table(std::string_view listing, const NftTable& table) {
  const std::string wanted = "table " + table.to_string();
  while (!listing.empty()) {
    auto end = listing.find('\n');
    std::string_view line = listing.substr(0, end);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    if (line == wanted) return true;
    if (end == std::string_view::npos) break;
    listing.remove_prefix(end + 1);
  }
  return false;
}

bool NftablesBackend::intact() {
  auto argv = nft_;
  argv.insert(argv.end(), {"list", "tables"});
  auto result = run_command(argv, kNftTimeout, CaptureOutput::yes);
  if (result.exit_code != 0) return true;  // nft cannot tell now; a change that fails will say so
  if (lists_table(result.output, table_)) return true;
  set_up_ = false;
  return false;
}

void NftablesBackend::setup() {
  set_up_ = run_batch(setup_text(table_), "setup", 0, LogFailure::yes);
  if (!set_up_) {
    throw common::RuntimeError("nftables: cannot set up the table " + table_.to_string() + " with '" +
                               fmt::format("{}", fmt::join(nft_, " ")) + " -f' (see nft's message above)");
  }
}

void NftablesBackend::cleanup() {
  set_up_ = false;
  if (!run_batch(cleanup_text(table_), "cleanup", 0, LogFailure::yes)) {
    throw common::RuntimeError("nftables: cannot delete the table " + table_.to_string() + " with '" +
                               fmt::format("{}", fmt::join(nft_, " ")) + " -f' (see nft's message above)");
  }
  addresses_.clear();
  prefixes_.clear();
}

}  // namespace fleetban::subscriber
