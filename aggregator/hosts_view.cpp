#include "aggregator/hosts_view.hpp"

#include <unistd.h>

#include "aggregator/host_table.hpp"

namespace fleetban::aggregator {

std::optional<common::Hosts> HostsView::hosts(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  requested_ = true;
  std::uint64_t one = 1;
  // Only fails when the counter is full, and then the loop is woken already.
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
  const std::uint64_t seen = generation_;
  if (!answered_.wait_for(lock, wait, [&] { return generation_ != seen; })) return std::nullopt;
  return *latest_;
}

void HostsView::answer_if_asked(const HostTable& table, std::uint64_t sequence, common::UnixSeconds now) {
  {
    std::lock_guard lock(mutex_);
    if (!requested_) return;
    requested_ = false;
  }
  auto answer = std::make_shared<const common::Hosts>(common::Hosts{{}, now, sequence, table.entries(now)});
  {
    std::lock_guard lock(mutex_);
    latest_ = std::move(answer);
    ++generation_;
  }
  answered_.notify_all();
}

}  // namespace fleetban::aggregator
