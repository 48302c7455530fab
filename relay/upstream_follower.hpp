#pragma once
// The relay's Clone client on a thread of its own. A snapshot upstream can take seconds and a
// failed one backs off for up to 10 s; on the relay's loop either would hold up every host's acks
// and snapshots. So the follower thread runs common::CloneClient and hands what it brings
// (snapshots, decisions in order, heartbeats) to the loop through a queue, waking it through an
// eventfd the loop polls beside its sockets.

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/clone_client.hpp"
#include "common/security.hpp"

namespace fleetban::relay {

class UpstreamFollower {
 public:
  // Starts following at once (the first pair of the lists).
  UpstreamFollower(zmq::context_t& context, const common::ClientSecurity& security, std::vector<std::string> ingest,
                   std::vector<std::string> broadcast);
  // Stops the thread (within one poll of the Clone client) and joins it.
  ~UpstreamFollower();
  UpstreamFollower(const UpstreamFollower&) = delete;
  UpstreamFollower& operator=(const UpstreamFollower&) = delete;

  // Readable when updates wait: poll it, then take().
  int wake_fd() const { return wake_fd_; }
  // What came since the last call, oldest first.
  std::vector<common::CloneClient::Update> take();
  // The upstream ingest endpoint the Clone client follows now: the relay forwards events there.
  std::string followed() const;
  // False once the thread died (an exception it could not handle): the relay must stop.
  bool alive() const { return alive_.load(); }

 private:
  void run(std::vector<std::string> ingest, std::vector<std::string> broadcast);

  zmq::context_t& context_;
  common::ClientSecurity security_;
  int wake_fd_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> alive_{true};
  mutable std::mutex mutex_;
  std::deque<common::CloneClient::Update> updates_;
  std::string followed_;
  std::thread thread_;
};

}  // namespace fleetban::relay
