// The programs' logging: one write per line by default; in batches, for the aggregator's loop.

#include "common/logging.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

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
