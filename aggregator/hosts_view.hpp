#pragma once
// The host table for readers on other threads (GET /api/v1/hosts, the per-host series of
// /metrics): a reader asks, wakes the loop through StateView's eventfd, and gets a copy the loop
// makes at the end of its next turn (a few hundred rows: no need to keep one around).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "common/hosts.hpp"

namespace fleetban::aggregator {

class HostTable;

class HostsView {
 public:
  explicit HostsView(int wake_fd) : wake_fd_(wake_fd) {}

  // Reader side: the table as of the loop's next turn, or nullopt if it does not answer in `wait`.
  std::optional<common::Hosts> hosts(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));

  // Loop side, every turn: answers the readers waiting (nothing to do when none is).
  void answer_if_asked(const HostTable& table, std::uint64_t sequence, common::UnixSeconds now);

 private:
  int wake_fd_;
  std::mutex mutex_;
  std::condition_variable answered_;
  bool requested_ = false;
  std::uint64_t generation_ = 0;
  std::shared_ptr<const common::Hosts> latest_;
};

}  // namespace fleetban::aggregator
