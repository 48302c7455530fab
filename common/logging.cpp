#include "common/logging.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
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

// "2026-12-03T09:38:33.415 fleetban-subscriber info: what key=value": spdlog's pattern
// "%Y-%m-%dT%H:%M:%S.%e %n %l: %v" (local time), written directly. spdlog's pattern engine runs a
// formatter object per field and cost a subscriber more than its decision's decode; this
// keeps the date text of the current second and appends the rest.
class LineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto second = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    if (second != cached_second_) cache_date(second);
    dest.append(date_.data(), date_.data() + date_length_);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - second).count();
    const char millis[3] = {static_cast<char>('0' + ms / 100 % 10), static_cast<char>('0' + ms / 10 % 10),
                            static_cast<char>('0' + ms % 10)};
    dest.append(millis, millis + 3);
    dest.push_back(' ');
    dest.append(msg.logger_name.data(), msg.logger_name.data() + msg.logger_name.size());
    dest.push_back(' ');
    const auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    dest.push_back(':');
    dest.push_back(' ');
    dest.append(msg.payload.data(), msg.payload.data() + msg.payload.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LineFormatter>(); }

 private:
  void cache_date(std::chrono::seconds second) {
    cached_second_ = second;
    const std::time_t t = second.count();
    std::tm local{};
    localtime_r(&t, &local);
    auto end = fmt::format_to_n(date_.data(), date_.size(), "{}-{:02}-{:02}T{:02}:{:02}:{:02}.", local.tm_year + 1900,
                                local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec);
    date_length_ = std::min(end.size, date_.size());
  }

  std::chrono::seconds cached_second_{std::chrono::seconds::min()};
  std::array<char, 64> date_{};
  std::size_t date_length_ = 0;
};

}  // namespace

std::unique_ptr<spdlog::formatter> line_formatter() { return std::make_unique<LineFormatter>(); }

void init_logging(const std::string& program) {
  auto logger = std::make_shared<spdlog::logger>(program, std::make_shared<StderrSink>());
  logger->set_formatter(line_formatter());
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
