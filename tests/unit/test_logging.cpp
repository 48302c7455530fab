// The programs' logging: one write per line by default; in batches, for the aggregator's loop.

#include "common/logging.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/pattern_formatter.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <random>

#include "temp_dir.hpp"

namespace {

using fleetban::testing::TempDir;

// Points stderr at a file for the test's lifetime, and puts the logging back as programs start it.
class CapturedStderr {
 public:
  explicit CapturedStderr(const std::filesystem::path& file)
      : file_(file), saved_(::dup(STDERR_FILENO)), fd_(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600)) {
    ::dup2(fd_, STDERR_FILENO);
    fleetban::common::init_logging("fleetban-test");
  }
  ~CapturedStderr() {
    fleetban::common::flush_log();
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::close(fd_);
    fleetban::common::init_logging("unit_tests");
  }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  bool has(std::string_view text) const { return fleetban::testing::read_text(file_).find(text) != std::string::npos; }

 private:
  std::filesystem::path file_;
  int saved_;
  int fd_;
};

// The programs' lines are laid out by hand (line_formatter): byte for byte what spdlog's pattern
// wrote before, for any time (each millisecond of a second, seconds apart and years apart, a time
// zone with a half-hour offset), every level, and payloads from empty to long.
TEST(Logging, LinesAreExactlyWhatSpdlogsPatternWrites) {
  const char* saved_tz = std::getenv("TZ");
  const std::string saved = saved_tz ? saved_tz : "";
  for (const char* zone : {"UTC", "Asia/Kolkata", "America/St_Johns"}) {
    ::setenv("TZ", zone, 1);
    ::tzset();
    spdlog::pattern_formatter reference("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
    auto ours = fleetban::common::line_formatter();
    std::mt19937_64 random(42);
    const auto base = std::chrono::system_clock::from_time_t(1'795'650'000);
    std::vector<std::chrono::system_clock::time_point> times;
    for (int ms = 0; ms < 2000; ++ms) times.push_back(base + std::chrono::milliseconds(ms));
    for (int i = 0; i < 2000; ++i) {
      times.push_back(base + std::chrono::microseconds(static_cast<std::int64_t>(random() % 3'000'000'000'000'000ULL)));
    }
    times.push_back(std::chrono::system_clock::from_time_t(0));
    times.push_back(std::chrono::system_clock::now());
    const std::string long_text(10'000, 'x');
    int i = 0;
    for (const auto& at : times) {
      const auto level = static_cast<spdlog::level::level_enum>(i % 7);
      const std::string_view text = i % 3 == 0   ? std::string_view("decision seq=7 ip=192.0.2.7")
                                    : i % 3 == 1 ? std::string_view()
                                                 : std::string_view(long_text);
      spdlog::details::log_msg msg(at, spdlog::source_loc{}, i % 2 ? "fleetban-subscriber" : "fleetban", level, text);
      spdlog::memory_buf_t want, got;
      reference.format(msg, want);
      ours->format(msg, got);
      ASSERT_EQ(std::string(got.data(), got.size()), std::string(want.data(), want.size())) << zone << " #" << i;
      ++i;
    }
  }
  if (saved_tz) {
    ::setenv("TZ", saved.c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
}

TEST(Logging, EachLineIsWrittenAtOnce) {
  TempDir dir;
  CapturedStderr err(dir / "stderr");
  spdlog::info("decision seq={}", 1);
  EXPECT_TRUE(err.has("fleetban-test info: decision seq=1"));
  spdlog::set_level(spdlog::level::debug);
  spdlog::debug("below info too");
  EXPECT_TRUE(err.has("below info too"));
}

TEST(Logging, BatchedLinesWaitForTheFlushAndWarningsDoNot) {
  TempDir dir;
  CapturedStderr err(dir / "stderr");
  fleetban::common::batch_log_lines();
  spdlog::info("decision seq={}", 1);
  EXPECT_FALSE(err.has("decision seq=1"));
  spdlog::warn("rejected_input");  // written at once, with what gathered before it
  EXPECT_TRUE(err.has("decision seq=1"));
  EXPECT_TRUE(err.has("rejected_input"));
  spdlog::info("decision seq={}", 2);
  EXPECT_FALSE(err.has("decision seq=2"));
  fleetban::common::flush_log();
  EXPECT_TRUE(err.has("decision seq=2"));
}

TEST(Logging, ManyBatchedLinesAreWrittenBeforeTheFlush) {
  // Memory is bounded: once 64 KiB have gathered they are written.
  TempDir dir;
  CapturedStderr err(dir / "stderr");
  fleetban::common::batch_log_lines();
  for (int i = 0; i < 2000; ++i) spdlog::info("decision seq={} ip=192.0.2.7 active=true", i);
  EXPECT_TRUE(err.has("decision seq=0 "));
}

}  // namespace
