#include "subscriber/hook_runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace fleetban::subscriber {

HookRunner::HookRunner(Options options) : options_(options) {
  options_.concurrency = std::max<std::size_t>(1, options_.concurrency);
  workers_.reserve(options_.concurrency);
  for (std::size_t i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] { work(); });
}

HookRunner::~HookRunner() {
  std::size_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped = queue_.size();
    queue_.clear();
  }
  changed_.notify_all();
  for (auto& worker : workers_) worker.join();
  if (dropped > 0) spdlog::warn("hooks_dropped count={} reason=\"stopping\"", dropped);
}

bool HookRunner::submit(std::string key, std::vector<std::string> argv, OnDone on_done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.max_queued) return false;
    queue_.push_back({std::move(key), std::move(argv), std::move(on_done)});
  }
  changed_.notify_all();
  return true;
}

void HookRunner::wait_idle() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queue_.empty() && running_keys_.empty(); });
}

std::deque<HookRunner::Job>::iterator HookRunner::next_runnable() {
  // Queue order among runnable jobs; a key's later jobs wait behind its running one.
  return std::find_if(queue_.begin(), queue_.end(),
                      [this](const Job& job) { return !running_keys_.contains(job.key); });
}

void HookRunner::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return stopping_ || next_runnable() != queue_.end(); });
    if (stopping_) return;
    auto it = next_runnable();
    Job job = std::move(*it);
    queue_.erase(it);
    running_keys_.insert(job.key);
    lock.unlock();
    auto result = run_command(job.argv, options_.timeout);
    job.on_done(result);
    lock.lock();
    running_keys_.erase(job.key);
    changed_.notify_all();  // the key's next job, and wait_idle()
  }
}

}  // namespace fleetban::subscriber
