#include "common/poll.hpp"

#include <algorithm>
#include <cerrno>

namespace fleetban::common {

int poll_for(zmq::pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const bool forever = timeout.count() < 0;  // zmq_poll's -1: no timeout
  auto deadline = Clock::now() + (forever ? std::chrono::milliseconds(0) : timeout);
  while (true) {
    try {
      return zmq::poll(items, count, timeout);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    if (forever) continue;
    timeout = std::max(std::chrono::milliseconds(0),
                       std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  }
}

}  // namespace fleetban::common
