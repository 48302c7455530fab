#pragma once
// The exec backend's hooks, run on a few threads of their own so that the follow loop never waits
// for them: at most `concurrency` at once, a bounded queue, and the hooks of one key (an address)
// run one at a time in the order they were queued (a ban, then the unban that follows it).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "subscriber/command.hpp"

namespace fleetban::subscriber {

class HookRunner {
 public:
  struct Options {
    std::size_t concurrency = 4;
    std::size_t max_queued = 10'000;            // waiting to start, not counting the running ones
    std::chrono::milliseconds timeout{30'000};  // then the hook is killed
  };
  using OnDone = std::function<void(const CommandResult&)>;

  explicit HookRunner(Options options);
  // Lets the running hooks end (at most `timeout`) and drops the queued ones, saying how many.
  ~HookRunner();
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  // Queues `argv` to run after every hook queued before it with the same key; `on_done` then runs
  // on the hook's thread. false, and nothing queued, when max_queued hooks already wait.
  bool submit(std::string key, std::vector<std::string> argv, OnDone on_done);

  // Blocks until no hook is queued or running (tests, and callers that must see the effects).
  void wait_idle();

 private:
  struct Job {
    std::string key;
    std::vector<std::string> argv;
    OnDone on_done;
  };
  void work();
  // The oldest queued job whose key has no hook running; queue_.end() when there is none.
  std::deque<Job>::iterator next_runnable();

  Options options_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;
  std::set<std::string, std::less<>> running_keys_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace fleetban::subscriber
