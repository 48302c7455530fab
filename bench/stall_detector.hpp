#pragma once
// The machine's own stalls, measured beside the fleet: one thread per CPU, pinned to it, at
// real-time priority (SCHED_FIFO 1, where allowed), sleeps 1 ms again and again and records how
// late it wakes. A decision that was slow while this thread
// was late too was slow because the machine was; one that was slow while it woke on time was not.
// One more thread writes 4 KiB and fdatasync()s it every 50 ms in the fleet's directory (the disk
// the aggregator's commits wait for), so a slow commit can be matched to a slow disk.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_support.hpp"

namespace fleetban::bench {

class StallDetector {
 public:
  struct Stall {
    std::int64_t from_us = 0;  // CLOCK_REALTIME of the wake that was due
    std::int64_t to_us = 0;    // ... and of the wake that happened
    int cpu = 0;               // -1: the fdatasync probe
    double late_ms() const { return static_cast<double>(to_us - from_us) / 1000.0; }
  };

  // Starts the threads; wakes later than `threshold`, and fdatasync()s in probe_dir longer than
  // it, are kept as stalls.
  explicit StallDetector(std::filesystem::path probe_dir,
                         std::chrono::microseconds threshold = std::chrono::microseconds(2000));
  ~StallDetector();
  StallDetector(const StallDetector&) = delete;
  StallDetector& operator=(const StallDetector&) = delete;

  void stop();
  // After stop(): the worst CPU stall (disk: the slowest fdatasync) overlapping [from_us, to_us].
  enum class Kind { cpu, disk };
  std::optional<Stall> worst_between(std::int64_t from_us, std::int64_t to_us, Kind kind = Kind::cpu) const;
  // How late every wake was, in ms (after stop()).
  Summary lateness() const;
  // The lateness summary, the number of stalls and the `top` worst with their UTC times.
  nlohmann::json to_json(std::size_t top = 10) const;

 private:
  void watch(int cpu, std::size_t slot);
  void probe_disk();

  std::chrono::microseconds threshold_;
  std::atomic<bool> stop_{false};
  std::atomic<int> not_realtime_{0};  // watch threads that could not get SCHED_FIFO
  std::vector<std::thread> threads_;
  std::vector<std::vector<Stall>> per_thread_;
  std::vector<std::vector<float>> late_per_thread_;  // every wake's lateness, ms
  std::vector<Stall> stalls_;
  std::filesystem::path probe_dir_;
  std::vector<Stall> disk_stalls_;
  std::vector<double> fsync_ms_;
  std::thread disk_thread_;
};

// "2026-12-02T01:23:45.678Z" for CLOCK_REALTIME microseconds.
std::string utc_time(std::int64_t us);

}  // namespace fleetban::bench
