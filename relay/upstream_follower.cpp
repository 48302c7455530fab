#include "relay/upstream_follower.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/errors.hpp"
#include "common/socket_factory.hpp"

namespace fleetban::relay {

namespace {
// How long one poll of the Clone client waits for the broadcast: also how soon a stop is noticed.
constexpr auto kPollWait = std::chrono::milliseconds(100);
}  // namespace

UpstreamFollower::UpstreamFollower(zmq::context_t& context, const common::ClientSecurity& security,
                                   std::vector<std::string> ingest, std::vector<std::string> broadcast)
    : context_(context), security_(security), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (wake_fd_ < 0) throw common::RuntimeError(std::string("eventfd: ") + std::strerror(errno));
  followed_ = ingest.front();
  thread_ = std::thread([this, ingest = std::move(ingest), broadcast = std::move(broadcast)]() mutable {
    run(std::move(ingest), std::move(broadcast));
  });
}

UpstreamFollower::~UpstreamFollower() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
}

std::vector<common::CloneClient::Update> UpstreamFollower::take() {
  std::uint64_t count = 0;
  [[maybe_unused]] auto drained = ::read(wake_fd_, &count, sizeof count);
  std::lock_guard lock(mutex_);
  std::vector<common::CloneClient::Update> out(std::make_move_iterator(updates_.begin()),
                                               std::make_move_iterator(updates_.end()));
  updates_.clear();
  return out;
}

std::string UpstreamFollower::followed() const {
  std::lock_guard lock(mutex_);
  return followed_;
}

void UpstreamFollower::run(std::vector<std::string> ingest, std::vector<std::string> broadcast) {
  try {
    // Its own ClientSockets: sockets (and the monitor they share) belong to the thread that made them.
    common::ClientSockets sockets(context_, security_);
    common::CloneClient clone(sockets, std::move(ingest), std::move(broadcast), stop_);
    while (!stop_.load()) {
      auto update = clone.poll(kPollWait);
      const bool news = update.snapshot || !update.decisions.empty() || update.heartbeat;
      {
        std::lock_guard lock(mutex_);
        followed_ = clone.ingest_endpoint();
        if (news) updates_.push_back(std::move(update));
      }
      if (news) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
      }
    }
  } catch (const std::exception& e) {
    spdlog::critical("upstream_follower_failed error=\"{}\"", e.what());
    alive_ = false;
    const std::uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
  }
}

}  // namespace fleetban::relay
