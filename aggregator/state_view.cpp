#include "aggregator/state_view.hpp"

#include <malloc.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <utility>

#include "aggregator/fleet_state.hpp"
#include "common/errors.hpp"

namespace fleetban::aggregator {

StateView::StateView() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (wake_fd_ < 0) throw common::RuntimeError(std::string("eventfd: ") + std::strerror(errno));
}

StateView::~StateView() { ::close(wake_fd_); }

void StateView::wake_loop() {
  std::uint64_t one = 1;
  // Only fails when the counter is full, and then the loop is woken already.
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
}

StateView::Decisions StateView::decisions(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  requested_ = true;
  wake_loop();
  std::uint64_t seen = generation_;
  fresh_.wait_for(lock, wait, [&] { return generation_ != seen; });
  return latest_;
}

std::optional<StateView::Page> StateView::page(PageRequest request, std::chrono::milliseconds wait) {
  auto pending = std::make_shared<PendingPage>(PendingPage{std::move(request), std::nullopt});
  std::unique_lock lock(mutex_);
  pages_.push_back(pending);
  wake_loop();
  if (!fresh_.wait_for(lock, wait, [&] { return pending->answer.has_value(); })) {
    // A loop that does not answer must not collect requests.
    std::erase(pages_, pending);
    return std::nullopt;
  }
  return std::move(pending->answer);
}

StateView::Version StateView::version() {
  std::lock_guard lock(mutex_);
  return version_;
}

void StateView::set_version(Version version) {
  std::lock_guard lock(mutex_);
  version_ = std::move(version);
}

namespace {

bool wanted(bool active, StateView::Records records) {
  switch (records) {
    case StateView::Records::active: return active;
    case StateView::Records::ended: return !active;
    case StateView::Records::all: return true;
  }
  return false;
}

}  // namespace

StateView::Page StateView::fill_page(const FleetState& state, const PageRequest& request) {
  const RecordTable& table = state.records();
  Page page;
  if (request.exact) {
    if (auto index = table.find(*request.exact)) page.decisions.push_back(table.decision(*index));
    return page;
  }
  RecordIndex from = 0;
  if (request.after) {
    auto index = table.find(*request.after);
    if (!index) {
      page.unknown_after = true;
      return page;
    }
    from = *index + 1;
  }
  const RecordIndex end = table.end();
  const std::size_t budget = request.limit + request.scan;
  std::size_t filled = 0;
  std::optional<RecordIndex> last_filled, last_looked;
  bool full = false;
  RecordIndex i = from;
  // Free slots (records forgotten, not yet reused) cost one flag each and do not count: a cursor
  // must be a record's prefix, and a page must always move on.
  for (std::size_t looked = 0; i < end && looked < budget; ++i) {
    if (!table.in_use(i)) continue;
    if (wanted(table.active(i), request.records) && (!request.family || table.prefix(i).family() == *request.family)) {
      std::optional<common::Decision> decision;
      if (request.filter) {
        decision = table.decision(i);
        if (!request.filter(*decision)) decision.reset();
      }
      if (!request.filter || decision) {
        if (filled == request.limit) {
          full = true;  // another entry follows: the page ends at the last one filled
          break;
        }
        if (request.prefixes_only) {
          page.prefixes.push_back(table.prefix(i));
        } else {
          page.decisions.push_back(decision ? std::move(*decision) : table.decision(i));
        }
        ++filled;
        last_filled = i;
      }
    }
    ++looked;
    last_looked = i;
  }
  if (full) {
    page.next = table.prefix(*last_filled);
  } else if (i < end && last_looked) {
    page.next = table.prefix(*last_looked);  // out of budget: resume after the last record looked at
  }
  return page;
}

void StateView::answer_pages(const FleetState& state) {
  std::vector<std::shared_ptr<PendingPage>> pending;
  {
    std::lock_guard lock(mutex_);
    version_.sequence = state.sequence();
    pending.swap(pages_);
  }
  if (pending.empty()) return;
  std::vector<Page> pages;
  pages.reserve(pending.size());
  for (const auto& p : pending) pages.push_back(fill_page(state, p->request));
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < pending.size(); ++i) pending[i]->answer = std::move(pages[i]);
  }
  fresh_.notify_all();
}

void StateView::publish_if_requested(const FleetState& state, Clock::time_point now) {
  // Drained before the requests are taken: one posted after this wakes the next turn.
  std::uint64_t count = 0;
  [[maybe_unused]] auto drained = ::read(wake_fd_, &count, sizeof count);
  answer_pages(state);
  bool requested = false;
  Decisions stale;
  {
    std::lock_guard lock(mutex_);
    requested = std::exchange(requested_, false);
    if (!requested && !latest_->empty() && now - published_at_ > kKeepFor) stale = std::exchange(latest_, empty());
  }
  if (stale) {
    // Its many small allocations would otherwise stay with the process as free heap pages.
    stale.reset();
    ::malloc_trim(0);
  }
  if (!requested) return;
  auto copy = std::make_shared<const std::vector<common::Decision>>(state.active_decisions());
  Decisions previous;  // released outside the lock
  {
    std::lock_guard lock(mutex_);
    previous = std::exchange(latest_, std::move(copy));
    published_at_ = now;
    ++generation_;
  }
  fresh_.notify_all();
}

bool StateView::holds_copy() {
  std::lock_guard lock(mutex_);
  return !latest_->empty();
}

}  // namespace fleetban::aggregator
