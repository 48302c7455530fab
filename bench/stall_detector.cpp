#include "bench/stall_detector.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

namespace fleetban::bench {

namespace {

std::int64_t now_us(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000 + t.tv_nsec / 1000;
}

}  // namespace

std::string utc_time(std::int64_t us) {
  std::time_t seconds = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(text) + "." + std::to_string(1000 + (us / 1000) % 1000).substr(1) + "Z";
}

StallDetector::StallDetector(std::filesystem::path probe_dir, std::chrono::microseconds threshold)
    : threshold_(threshold), probe_dir_(std::move(probe_dir)) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
    }
  }
  if (cpus.empty()) cpus.push_back(-1);  // unpinned
  per_thread_.resize(cpus.size());
  late_per_thread_.resize(cpus.size());
  for (std::size_t i = 0; i < cpus.size(); ++i) threads_.emplace_back([this, cpu = cpus[i], i] { watch(cpu, i); });
  disk_thread_ = std::thread([this] { probe_disk(); });
}

// What the aggregator's commit does once per batch (synchronous = FULL): a small write, then
// fdatasync.
void StallDetector::probe_disk() {
  auto file = probe_dir_ / "fsync-probe";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::vector<char> page(4096, 'x');
  while (!stop_.load(std::memory_order_relaxed)) {
    std::int64_t started = now_us(CLOCK_REALTIME);
    if (::pwrite(fd, page.data(), page.size(), 0) < 0 || ::fdatasync(fd) != 0) break;
    std::int64_t ended = now_us(CLOCK_REALTIME);
    fsync_ms_.push_back(static_cast<double>(ended - started) / 1000.0);
    if (ended - started > threshold_.count()) disk_stalls_.push_back({.from_us = started, .to_us = ended, .cpu = -1});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::close(fd);
  std::error_code ignored;
  std::filesystem::remove(file, ignored);
}

StallDetector::~StallDetector() { stop(); }

// An ordinary thread (no real-time priority): it waits for a CPU as the fleet's processes do.
void StallDetector::watch(int cpu, std::size_t slot) {
  if (cpu >= 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  }
  // Above every normal thread, so that the fleet's own load cannot make it late: what is left is
  // the machine's (the hypervisor not running this CPU, interrupts, the kernel not preempting).
  // Without the privilege it runs as a normal thread and the report says so.
  sched_param realtime{};
  realtime.sched_priority = 1;
  if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &realtime) != 0) not_realtime_.fetch_add(1);
  auto& stalls = per_thread_[slot];
  auto& late = late_per_thread_[slot];
  late.reserve(1 << 20);
  timespec due{};
  clock_gettime(CLOCK_MONOTONIC, &due);
  while (!stop_.load(std::memory_order_relaxed)) {
    due.tv_nsec += 1'000'000;
    if (due.tv_nsec >= 1'000'000'000) {
      due.tv_nsec -= 1'000'000'000;
      ++due.tv_sec;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr) != 0) {
    }
    std::int64_t woke = now_us(CLOCK_MONOTONIC);
    std::int64_t due_us = static_cast<std::int64_t>(due.tv_sec) * 1'000'000 + due.tv_nsec / 1000;
    std::int64_t late_us = woke - due_us;
    late.push_back(static_cast<float>(late_us) / 1000.0f);
    if (late_us > threshold_.count()) {
      std::int64_t real = now_us(CLOCK_REALTIME);
      stalls.push_back({.from_us = real - late_us, .to_us = real, .cpu = cpu});
    }
    // After a stall, sleep from now: the wakes missed meanwhile are one stall, not many.
    if (late_us > 1000) {
      due.tv_sec = static_cast<time_t>(woke / 1'000'000);
      due.tv_nsec = static_cast<long>((woke % 1'000'000) * 1000);
    }
  }
}

void StallDetector::stop() {
  if (stop_.exchange(true)) return;
  for (auto& t : threads_) t.join();
  if (disk_thread_.joinable()) disk_thread_.join();
  for (auto& s : per_thread_) stalls_.insert(stalls_.end(), s.begin(), s.end());
  std::sort(stalls_.begin(), stalls_.end(), [](const Stall& a, const Stall& b) { return a.from_us < b.from_us; });
}

std::optional<StallDetector::Stall> StallDetector::worst_between(std::int64_t from_us, std::int64_t to_us,
                                                                 Kind kind) const {
  std::optional<Stall> worst;
  for (const auto& s : kind == Kind::cpu ? stalls_ : disk_stalls_) {
    if (s.from_us > to_us) break;
    if (s.to_us < from_us) continue;
    if (!worst || s.late_ms() > worst->late_ms()) worst = s;
  }
  return worst;
}

Summary StallDetector::lateness() const {
  std::vector<double> all;
  for (const auto& late : late_per_thread_) all.insert(all.end(), late.begin(), late.end());
  return summarize(std::move(all));
}

nlohmann::json StallDetector::to_json(std::size_t top) const {
  auto worst_of = [&](std::vector<Stall> worst) {
    std::sort(worst.begin(), worst.end(), [](const Stall& a, const Stall& b) { return a.late_ms() > b.late_ms(); });
    if (worst.size() > top) worst.resize(top);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : worst) {
      list.push_back({{"at", utc_time(s.from_us)}, {"late_ms", s.late_ms()}, {"cpu", s.cpu}, {"from_us", s.from_us}});
    }
    return list;
  };
  std::size_t over20 = static_cast<std::size_t>(
      std::count_if(stalls_.begin(), stalls_.end(), [](const Stall& s) { return s.late_ms() > 20.0; }));
  return {{"threads", threads_.size()},
          {"realtime", not_realtime_.load() == 0},
          {"threshold_ms", static_cast<double>(threshold_.count()) / 1000.0},
          {"wake_lateness_ms", bench::to_json(lateness())},
          {"stalls", stalls_.size()},
          {"stalls_over_20ms", over20},
          {"worst", worst_of(stalls_)},
          {"fdatasync_ms", bench::to_json(summarize(fsync_ms_))},
          {"fdatasync_over_threshold", disk_stalls_.size()},
          {"fdatasync_worst", worst_of(disk_stalls_)}};
}

}  // namespace fleetban::bench
