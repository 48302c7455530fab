#include "subscriber/enforcer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "common/logging.hpp"
#include "common/own_addresses.hpp"

namespace fleetban::subscriber {

using common::Decision;
using common::IpPrefix;

namespace {

// Two decisions that a backend would enforce the same way.
bool same_enforcement(const Decision& a, const Decision& b) {
  return a.active == b.active && a.expires_at == b.expires_at && a.reporters == b.reporters && a.jails == b.jails;
}

bool expired(const Decision& d, common::UnixSeconds now) { return d.expires_at && *d.expires_at <= now; }

}  // namespace

Enforcer::Enforcer(std::unique_ptr<Backend> backend, std::vector<IpPrefix> allowlist, std::vector<IpPrefix> aggregator)
    : backend_(std::move(backend)), allowlist_(std::move(allowlist)), aggregator_(std::move(aggregator)) {}

const char* Enforcer::not_enforced(const IpPrefix& prefix) const {
  auto covers = [&](const std::vector<IpPrefix>& list) {
    return std::any_of(list.begin(), list.end(), [&](const IpPrefix& p) { return p.overlaps(prefix); });
  };
  if (covers(allowlist_)) return "host allowlist";
  if (covers(common::loopback_prefixes())) return "loopback";
  if (covers(aggregator_)) return "the aggregator's address";
  return nullptr;
}

void Enforcer::apply(const Decision& decision, common::UnixSeconds now) { apply(std::span(&decision, 1), now); }

void Enforcer::apply(std::span<const Decision> decisions, common::UnixSeconds now,
                     std::span<const std::int64_t> received_us) {
  // A decision is the whole state of its prefix, so within a batch the last one per prefix wins,
  // and the backend gets one call for all the bans and one for all the unbans. A sorted list
  // rather than a map: most batches hold one decision, and this runs for each on every host.
  std::vector<const Decision*> latest;
  latest.reserve(decisions.size());
  for (const auto& d : decisions) latest.push_back(&d);
  // By prefix, then by place in the batch (the pointers run in its order): std::sort, as
  // std::stable_sort would allocate a buffer even for a batch of one.
  std::sort(latest.begin(), latest.end(), [](const Decision* a, const Decision* b) {
    return a->prefix != b->prefix ? a->prefix < b->prefix : std::less<>()(a, b);
  });
  // Of each run of one prefix, the last in the batch.
  auto last_of_run = [&](std::size_t i) {
    return i + 1 == latest.size() || latest[i + 1]->prefix != latest[i]->prefix;
  };
  std::vector<Decision> to_ban;
  std::vector<IpPrefix> to_unban;
  const bool traced = received_us.size() == decisions.size();
  std::vector<std::uint64_t> ban_sequences, unban_sequences;  // of to_ban's and to_unban's decisions, if traced
  for (std::size_t i = 0; i < latest.size(); ++i) {
    if (!last_of_run(i)) continue;
    const Decision* decision = latest[i];
    const IpPrefix& prefix = decision->prefix;
    // A newer decision replaces any retry still pending for the same prefix.
    failed_bans_.erase(prefix);
    failed_unbans_.erase(prefix);
    auto it = enforced_.find(prefix);
    if (!decision->active || expired(*decision, now)) {
      if (it != enforced_.end()) {
        to_unban.push_back(prefix);
        if (traced) unban_sequences.push_back(decision->sequence);
      }
    } else if (const char* why = not_enforced(prefix)) {
      spdlog::info("not_enforced ip={} reason=\"{}\"", prefix.to_string(), why);
    } else if (it != enforced_.end() && same_enforcement(it->second, *decision)) {
      it->second.sequence = decision->sequence;
    } else {
      if (traced) ban_sequences.push_back(decision->sequence);
      to_ban.push_back(*decision);
    }
  }
  if (!traced) {
    // Bans first: a prefix promoted over its addresses is in place before they are lifted.
    ban(std::move(to_ban));
    unban(std::move(to_unban));
    return;
  }
  // Traced: the same, with the times each decision was handed to the backend and back from it.
  std::sort(ban_sequences.begin(), ban_sequences.end());
  std::sort(unban_sequences.begin(), unban_sequences.end());
  const std::int64_t ban_handed_us = common::trace_clock_us();
  ban(std::move(to_ban));
  const std::int64_t unban_handed_us = common::trace_clock_us();
  unban(std::move(to_unban));
  const std::int64_t unbanned_us = common::trace_clock_us();
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    const auto seq = decisions[i].sequence;
    const bool ban = std::binary_search(ban_sequences.begin(), ban_sequences.end(), seq);
    if (ban || std::binary_search(unban_sequences.begin(), unban_sequences.end(), seq)) {
      spdlog::debug("trace seq={} received_us={} handed_us={} applied_us={}", seq, received_us[i],
                    ban ? ban_handed_us : unban_handed_us, ban ? unban_handed_us : unbanned_us);
    } else {
      // Nothing for the backend to do: already enforced the same way, allowlisted, or superseded.
      spdlog::debug("trace seq={} received_us={} backend=none", seq, received_us[i]);
    }
  }
}

void Enforcer::reconcile(const std::vector<Decision>& snapshot, common::UnixSeconds now) {
  std::map<IpPrefix, const Decision*> fleet;
  for (const auto& d : snapshot) {
    if (!d.active || expired(d, now)) continue;
    if (const char* why = not_enforced(d.prefix)) {
      spdlog::info("not_enforced ip={} reason=\"{}\"", d.prefix.to_string(), why);
      continue;
    }
    fleet.emplace(d.prefix, &d);
  }
  failed_bans_.clear();
  failed_unbans_.clear();
  std::vector<Decision> wanted;
  for (const auto& [prefix, d] : fleet) wanted.push_back(*d);
  if (backend_->replace_all(wanted)) {
    // The backend swapped its whole state in one step (nftables).
    enforced_.clear();
    expiries_ = {};
    for (auto& d : wanted) {
      track_expiry(d);
      enforced_.emplace(d.prefix, std::move(d));
    }
    spdlog::info("reconciled fleet={} replaced=all", enforced_.size());
    return;
  }
  std::set<IpPrefix> actual;
  if (auto held = backend_->enforced()) {
    actual.insert(held->begin(), held->end());
  } else {
    for (const auto& [prefix, d] : enforced_) actual.insert(prefix);
  }

  std::vector<IpPrefix> to_unban;
  for (const auto& prefix : actual) {
    if (!fleet.contains(prefix)) to_unban.push_back(prefix);
  }
  std::vector<Decision> to_ban;
  for (const auto& [prefix, d] : fleet) {
    auto known = enforced_.find(prefix);
    if (!actual.contains(prefix) || known == enforced_.end() || !same_enforcement(known->second, *d)) {
      to_ban.push_back(*d);
    } else {
      known->second.sequence = d->sequence;
    }
  }
  // Forget what the backend does not hold any more (a restarted Fail2Ban), so it is banned again.
  std::erase_if(enforced_, [&](const auto& entry) { return !actual.contains(entry.first); });
  spdlog::info("reconciled fleet={} ban={} unban={}", fleet.size(), to_ban.size(), to_unban.size());
  unban(std::move(to_unban));
  ban(std::move(to_ban));
}

void Enforcer::tick(common::UnixSeconds now) {
  take_late_failures();
  std::vector<IpPrefix> ended;
  while (!expiries_.empty() && expiries_.top().first <= now) {
    auto [at, prefix] = expiries_.top();
    expiries_.pop();
    auto it = enforced_.find(prefix);
    // Stale unless the ban enforced now still ends then.
    if (it != enforced_.end() && it->second.expires_at == at) ended.push_back(prefix);
  }
  if (!ended.empty()) {
    std::sort(ended.begin(), ended.end());
    ended.erase(std::unique(ended.begin(), ended.end()), ended.end());
    unban(std::move(ended));
  }
  if (failed_bans_.empty() && failed_unbans_.empty()) {
    retry_delay_ = std::chrono::seconds(1);
    next_retry_ = {};  // the next failure is retried at once, then after 1 s
    return;
  }
  if (now < next_retry_) return;
  next_retry_ = now + retry_delay_;
  retry_delay_ = std::min(retry_delay_ * 2, std::chrono::seconds(60));
  spdlog::info("retrying bans={} unbans={} next_in={}s", failed_bans_.size(), failed_unbans_.size(),
               retry_delay_.count());
  if (!failed_bans_.empty()) {
    std::vector<Decision> retry;
    retry.reserve(failed_bans_.size());
    for (auto& [prefix, d] : failed_bans_) {
      if (!expired(d, now)) retry.push_back(std::move(d));
    }
    failed_bans_.clear();
    ban(std::move(retry));
  }
  if (!failed_unbans_.empty()) {
    std::vector<IpPrefix> retry(failed_unbans_.begin(), failed_unbans_.end());
    failed_unbans_.clear();
    unban(std::move(retry));
  }
}

std::string Enforcer::backend_error() const {
  if (failed_bans_.empty() && failed_unbans_.empty()) return {};
  return fmt::format("{} ban(s) and {} unban(s) failed; retrying", failed_bans_.size(), failed_unbans_.size());
}

void Enforcer::take_late_failures() {
  auto late = backend_->take_failures();
  for (auto& d : late.bans) {
    // Retried only while it is still what this host should enforce: a later decision replaces it.
    auto it = enforced_.find(d.prefix);
    if (it == enforced_.end() || !same_enforcement(it->second, d)) continue;
    enforced_.erase(it);
    IpPrefix prefix = d.prefix;
    failed_bans_.insert_or_assign(prefix, std::move(d));
  }
  for (auto& p : late.unbans) {
    if (!enforced_.contains(p)) failed_unbans_.insert(p);
  }
}

void Enforcer::ban(std::vector<Decision> decisions) {
  if (decisions.empty()) return;
  auto failed = backend_->ban(decisions);
  std::set<IpPrefix> failed_prefixes;
  for (const auto& d : failed) failed_prefixes.insert(d.prefix);
  for (auto& d : decisions) {
    if (failed_prefixes.contains(d.prefix)) continue;
    track_expiry(d);
    enforced_.insert_or_assign(d.prefix, std::move(d));
  }
  for (auto& d : failed) {
    IpPrefix prefix = d.prefix;
    failed_bans_.insert_or_assign(prefix, std::move(d));
  }
}

void Enforcer::track_expiry(const Decision& decision) {
  if (!decision.expires_at) return;  // permanent
  if (expiries_.size() > 2 * enforced_.size() + 1024) {
    // Mostly stale: start again from what is enforced.
    expiries_ = {};
    for (const auto& [prefix, d] : enforced_) {
      if (d.expires_at) expiries_.emplace(*d.expires_at, prefix);
    }
  }
  expiries_.emplace(*decision.expires_at, decision.prefix);
}

void Enforcer::unban(std::vector<IpPrefix> prefixes) {
  if (prefixes.empty()) return;
  auto failed = backend_->unban(prefixes);
  std::set<IpPrefix> failed_set(failed.begin(), failed.end());
  for (const auto& p : prefixes) {
    if (!failed_set.contains(p)) enforced_.erase(p);
  }
  failed_unbans_.insert(failed.begin(), failed.end());
}

}  // namespace fleetban::subscriber
