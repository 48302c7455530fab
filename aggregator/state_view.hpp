#pragma once
// A read-only copy of the fleet's decisions for readers on other threads (the HTTP server). The
// service loop owns FleetState and never shares it; a reader asks for a fresh copy, and the loop
// makes one at the end of its next batch (within its 200 ms poll), only when asked. A copy of a
// large fleet is large (a million bans: ~250 MB), so the view lets go of it once it is no longer
// fresh; readers hold their own reference while they use it.
//
// A reader that needs only part of the list asks for a page instead: the loop fills it by walking
// its record table from the record after the page's `after`, in table order, so a page costs what
// it holds (plus the inactive records it skips, at most kPageScan of them) and no copy of the rest.
// A reader's request also wakes the loop (wake_fd()), so a page is answered in milliseconds.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/hosts_view.hpp"
#include "common/decision.hpp"

namespace fleetban::aggregator {

class FleetState;

class StateView {
 public:
  using Decisions = std::shared_ptr<const std::vector<common::Decision>>;
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kKeepFor{10};

  // Reader side: active decisions no older than the loop's next batch; the last copy if the loop
  // does not answer within `wait` (an empty list if there is none from the last kKeepFor).
  Decisions decisions(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));

  // Records one page request looks at at most, active or not (a few ms of the loop's time).
  static constexpr std::size_t kPageScan = 100'000;

  // Which records a page holds: the fleet's bans, or also (or only) the ended ones the aggregator
  // still remembers (until forget_after).
  enum class Records { active, ended, all };
  struct PageRequest {
    std::optional<common::IpPrefix> after;  // none: from the start
    std::size_t limit = 100;
    bool prefixes_only = false;            // fill Page::prefixes rather than Page::decisions
    std::optional<common::Family> family;  // only decisions of this family
    std::size_t scan = kPageScan;          // records to look at at most, beyond `limit`
    Records records = Records::active;
    // Only decisions it keeps (the dashboard's search). It runs on the loop's thread, on a copy of
    // each record looked at: a request with one should ask for a smaller `scan`.
    std::function<bool(const common::Decision&)> filter;
    // The record of this one prefix, active or not, and nothing else (no `next`).
    std::optional<common::IpPrefix> exact;
  };
  struct Page {
    std::vector<common::Decision> decisions;  // in table order
    std::vector<common::IpPrefix> prefixes;   // when prefixes_only
    // What to ask after for the next page; none once the walk reached the end of the table. A page
    // may hold fewer than `limit` entries with more to come (kPageScan records looked at).
    std::optional<common::IpPrefix> next;
    bool unknown_after = false;  // the table has no record of `after` (nothing else is filled)
  };
  // Reader side: one page from the loop's next turn, or nullopt if it does not answer within `wait`.
  std::optional<Page> page(PageRequest request, std::chrono::milliseconds wait = std::chrono::milliseconds(2000));

  // What the HTTP side can tell changes by without asking the loop: the state's incarnation and
  // sequence as of the loop's last turn (the sequence moves with every change of any decision).
  struct Version {
    std::string incarnation;
    std::uint64_t sequence = 0;
  };
  Version version();
  // The loop's side: at start (the loop updates the sequence at the end of every turn).
  void set_version(Version version);

  // An eventfd the loop polls: readable when a reader waits for it.
  int wake_fd() const { return wake_fd_; }

  // The host table's readers, woken through the same eventfd (GET /api/v1/hosts, /metrics).
  HostsView& hosts() { return hosts_; }

  StateView();
  ~StateView();
  StateView(const StateView&) = delete;
  StateView& operator=(const StateView&) = delete;

  // Service loop side: cheap unless a reader is waiting (or a copy has just grown old).
  void publish_if_requested(const FleetState& state, Clock::time_point now = Clock::now());

  bool holds_copy();  // whether the view still keeps the last copy

  // The walk a page request makes (public for tests).
  static Page fill_page(const FleetState& state, const PageRequest& request);

 private:
  struct PendingPage {
    PageRequest request;
    std::optional<Page> answer;
  };
  void wake_loop();
  void answer_pages(const FleetState& state);

  int wake_fd_ = -1;
  HostsView hosts_{wake_fd_};
  std::vector<std::shared_ptr<PendingPage>> pages_;  // asked, not yet answered
  Version version_;
  std::mutex mutex_;
  std::condition_variable fresh_;
  bool requested_ = false;
  std::uint64_t generation_ = 0;
  Decisions latest_ = empty();
  Clock::time_point published_at_{};

  static Decisions empty() { return std::make_shared<const std::vector<common::Decision>>(); }
};

}  // namespace fleetban::aggregator
