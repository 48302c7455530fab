#include "common/logging.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <mutex>

namespace fleetban::common {

namespace {

// stderr through a buffer of our own: written out on every flush (which spdlog asks for after each
// line at the flush_on level or above), so the writes per line are chosen, not stdio's.
class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ~StderrSink() override {
    std::lock_guard lock(mutex_);
    write_out();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    formatter_->format(message, buffer_);
    if (buffer_.size() >= kMaxGathered) write_out();
  }
  void flush_() override { write_out(); }

 private:
  static constexpr std::size_t kMaxGathered = 64 * 1024;

  void write_out() {
    const char* data = buffer_.data();
    std::size_t left = buffer_.size();
    while (left > 0) {
      ssize_t n = ::write(STDERR_FILENO, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // nowhere to log to: drop the lines rather than stop the program
      data += n;
      left -= static_cast<std::size_t>(n);
    }
    buffer_.clear();
  }

  spdlog::memory_buf_t buffer_;
};

}  // namespace

void init_logging(const std::string& program) {
  auto logger = std::make_shared<spdlog::logger>(program, std::make_shared<StderrSink>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::info);
  spdlog::cfg::load_env_levels();
  // One write per line, so nothing is lost when a process is killed: the lines before a crash are
  // the ones an operator needs.
  spdlog::flush_on(spdlog::level::trace);
}

void batch_log_lines() { spdlog::flush_on(spdlog::level::warn); }

void flush_log() { spdlog::default_logger_raw()->flush(); }

std::int64_t trace_clock_us() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
}

}  // namespace fleetban::common
