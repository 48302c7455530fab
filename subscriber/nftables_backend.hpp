#pragma once
// The `nftables` backend: keeps its own table (`enforce.nft_table`, e.g. "inet fleetban") and
// changes it only through `nft -f FILE`, one transaction per call. The table holds
//
//   v4, v6        addresses  { type ipv4_addr/ipv6_addr; flags timeout; }            (a hash)
//   v4net, v6net  prefixes   { type ipv4_addr/ipv6_addr; flags interval, timeout; } (an rbtree)
//   chain input   { type filter hook input priority -10; policy accept; } dropping their sources
//
// (an `ip` or `ip6` table holds only its own family's sets and rules). Each element carries the
// decision's remaining time as its timeout, so the kernel lifts a ban at its end by itself.
//
// Why addresses and prefixes live apart (measured with nft 1.0.6, Debian 12): an interval set
// refuses overlapping elements, so an address inside a banned prefix could not be added; and nft
// 1.0.6 deletes interval elements in quadratic time (10,000 deletes: 33 s), against 0.1 s in a
// hash set. Prefixes are few (operator bans, promotions); the prefix sets are rewritten whole
// (flush + add, in the same transaction) whenever one changes, holding only the outermost of
// nested prefixes.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/seeded_hash.hpp"
#include "subscriber/backend.hpp"

namespace fleetban::subscriber {

// The table (`enforce.nft_table`) is parsed and checked where the config is loaded.
using common::NftFamily;
using common::NftTable;

// One set element: an address or a prefix, and how long the kernel keeps it.
struct NftElement {
  common::IpPrefix prefix;
  std::optional<std::chrono::seconds> timeout;  // nullopt: until removed

  friend bool operator==(const NftElement&, const NftElement&) = default;
};

// What one transaction does to the sets. Elements of a family the table does not hold are left out;
// an address appears in one list at most.
struct NftChange {
  bool replace_addresses = false;                   // flush the address sets first (a snapshot)
  std::vector<common::IpPrefix> remove;             // addresses to take out, whether present or not
  std::vector<NftElement> rewrite;                  // addresses that may be present (or expired): new timeout
  std::vector<NftElement> insert;                   // addresses new to this backend: a plain add
  std::optional<std::vector<NftElement>> prefixes;  // when set: the prefix sets' whole new content
};

class NftablesBackend final : public Backend {
 public:
  // `nft` is the command that runs nft, e.g. {"nft"} or {"/usr/sbin/nft"}. Runs nothing yet.
  NftablesBackend(NftTable table, std::vector<std::string> nft);

  // From the host config, with the nft command from the environment variable FLEETBAN_NFT
  // (default "nft"). Throws UsageError when FLEETBAN_NFT is not a command.
  static std::unique_ptr<NftablesBackend> from_config(const common::EnforceConfig& config);

  std::vector<common::Decision> ban(std::span<const common::Decision> decisions) override;
  std::vector<common::IpPrefix> unban(std::span<const common::IpPrefix> prefixes) override;
  // The four sets' elements, plus the prefixes this backend holds that a larger banned prefix
  // covers. Elements it did not know of (after a restart) join its record: a ban of such an address
  // rewrites its timeout, and rewriting the prefix sets keeps such a prefix until it is unbanned.
  std::optional<std::vector<common::IpPrefix>> enforced() override;
  // Replaces every set's content with these decisions in one transaction.
  bool replace_all(std::span<const common::Decision> decisions) override;
  // Whether the table still exists (`nft list tables`: names only, however many elements). When it
  // does not, the next change sets it up again. true when nft cannot tell.
  bool intact() override;

  // Creates the table, its sets and chain if missing. A change is sent with this setup in front the
  // first time, and again once after a failure (the table deleted by a firewall reload's `nft flush
  // ruleset`), but not otherwise: it doubles the time of a small change. Throws RuntimeError.
  void setup();
  // Deletes the table (fine when it does not exist). Throws RuntimeError.
  void cleanup();

  const NftTable& table() const { return table_; }

  // ---- Pure helpers, the whole text nft is given (tested without nft).

  // The element a decision becomes at `now`: its remaining seconds (at least 1), or no timeout when
  // permanent or longer than kMaxTimeout (then the Enforcer lifts it at its expiry).
  static NftElement element_for(const common::Decision& decision, common::UnixSeconds now);
  // nft 1.0.6 refuses timeouts from 100,000,000 s up; a year is far inside that.
  static constexpr std::chrono::seconds kMaxTimeout{365LL * 24 * 3600};

  // The prefix sets' content for these prefix decisions: the live ones not inside another live one.
  static std::vector<NftElement> prefix_elements(const std::map<common::IpPrefix, common::Decision>& prefixes,
                                                 common::UnixSeconds now);

  // Idempotent setup: add table/sets/chain, flush the chain, add its rules.
  static std::string setup_text(const NftTable& table);
  // The change, as nft commands. Removals and rewrites use "add, delete[, add]": adding an element
  // that is there is a no-op, so the delete after it can never fail (a missing element, say one the
  // kernel has just expired, would otherwise fail the whole transaction), and the last add sets the
  // new timeout, which a plain add of an existing element leaves unchanged on Debian 12's kernel
  // 6.1. Inserts are one plain add (a third of the work): harmless even if the element is there.
  static std::string change_text(const NftTable& table, const NftChange& change);
  // Whether `nft list tables` output names this table.
  static bool lists_table(std::string_view listing, const NftTable& table);
  // "add table" then "delete table": deleting a table that is not there is not an error.
  static std::string cleanup_text(const NftTable& table);
  // The elements of the four sets in `nft -j list table ...` output, each with the time it has
  // left ("expires"), none when it has no timeout; nullopt if the text is not such a listing.
  static std::optional<std::vector<NftElement>> parse_listing(std::string_view json);

 private:
  enum class LogFailure { no, yes };
  // Runs `nft -f TEMPFILE` with the text, one transaction; false on failure.
  bool run_batch(const std::string& text, std::string_view what, std::size_t count, LogFailure log);
  // Runs the change, with the setup in front when needed (see setup()).
  bool run_change(const NftChange& change, std::string_view what, std::size_t count);

  NftTable table_;
  std::vector<std::string> nft_;
  bool set_up_ = false;  // the table was set up by this backend, and no batch has failed since
  // The addresses written (or found by enforced()) and not removed since: a ban of one of these
  // is a rewrite, of any other an insert. Seeded, as the addresses are the fleet's decisions.
  std::unordered_set<common::IpPrefix, common::SeededPrefixHash> addresses_;
  // The prefix decisions enforced: the prefix sets are rewritten from this map.
  std::map<common::IpPrefix, common::Decision> prefixes_;
};

}  // namespace fleetban::subscriber
