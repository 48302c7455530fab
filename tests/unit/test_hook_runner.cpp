// The exec backend's hook pool (subscriber/hook_runner.hpp), run with real commands: each hook's
// result reaches its callback, the hooks of one key run in order one at a time, the pool never
// runs more than its concurrency, a full queue refuses, a hung hook is killed at its timeout.

#include "subscriber/hook_runner.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "temp_dir.hpp"

namespace {

using fleetban::subscriber::CommandResult;
using fleetban::subscriber::HookRunner;
using fleetban::testing::TempDir;
using std::chrono::milliseconds;

std::string read(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// /bin/sh -c SCRIPT with positional arguments: the hook sees the values, no shell parses them.
std::vector<std::string> sh(const std::string& script, std::vector<std::string> args = {}) {
  std::vector<std::string> argv{"/bin/sh", "-c", script, "sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

TEST(HookRunner, EachResultReachesItsCallback) {
  HookRunner runner({.concurrency = 2});
  std::mutex mutex;
  std::map<std::string, int> exits;
  auto record = [&](std::string key) {
    return [&, key](const CommandResult& result) {
      std::lock_guard lock(mutex);
      exits[key] = result.exit_code;
    };
  };
  ASSERT_TRUE(runner.submit("a", sh("exit 0"), record("a")));
  ASSERT_TRUE(runner.submit("b", sh("exit 3"), record("b")));
  ASSERT_TRUE(runner.submit("c", {"/nonexistent/hook"}, record("c")));
  runner.wait_idle();
  std::lock_guard lock(mutex);
  EXPECT_EQ(exits["a"], 0);
  EXPECT_EQ(exits["b"], 3);
  EXPECT_NE(exits["c"], 0);  // a hook that cannot start is a failure, not a crash
}

TEST(HookRunner, HooksOfOneKeyRunInOrderOneAtATime) {
  TempDir dir;
  const auto log = dir / "log";
  HookRunner runner({.concurrency = 4});
  // Each hook writes "start N", waits, "end N": interleaving would show.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(runner.submit(
        "192.0.2.7",
        sh("echo start $1 >> \"$2\"; sleep 0.05; echo end $1 >> \"$2\"", {std::to_string(i), log.string()}),
        [](const CommandResult&) {}));
  }
  runner.wait_idle();
  std::string expected;
  for (int i = 0; i < 6; ++i) expected += "start " + std::to_string(i) + "\nend " + std::to_string(i) + "\n";
  EXPECT_EQ(read(log), expected);
}

// Waits (a poll with a generous deadline) until `file` exists.
bool wait_for_file(const std::filesystem::path& file) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!std::filesystem::exists(file)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

TEST(HookRunner, NoMoreThanTheConcurrencyRunAtOnce) {
  TempDir dir;
  const auto counts = dir / "counts";
  HookRunner runner({.concurrency = 2});
  // A running hook has a directory running-N; each counts those it sees, itself included.
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(runner.submit("192.0.2." + std::to_string(i),
                              sh("mkdir \"$1/running-$2\"; ls \"$1\" | grep -c running >> \"$1/counts\"; "
                                 "sleep 0.1; rmdir \"$1/running-$2\"",
                                 {dir.path().string(), std::to_string(i)}),
                              [](const CommandResult&) {}));
  }
  runner.wait_idle();
  std::istringstream lines(read(counts));
  int hooks = 0;
  int most = 0;
  for (int n = 0; lines >> n; ++hooks) most = std::max(most, n);
  EXPECT_EQ(hooks, 8);
  EXPECT_GE(most, 1);
  EXPECT_LE(most, 2);
}

TEST(HookRunner, FullQueueRefusesAndQueuesNothing) {
  TempDir dir;
  HookRunner runner({.concurrency = 1, .max_queued = 2});
  const auto started = dir / "started";
  const auto gate = dir / "gate";
  std::atomic<int> ran{0};
  auto count = [&](const CommandResult&) { ++ran; };
  // The first hook holds the only worker until the gate opens; then two may wait, not three.
  ASSERT_TRUE(runner.submit(
      "a", sh("touch \"$1\"; while [ ! -e \"$2\" ]; do sleep 0.01; done", {started.string(), gate.string()}), count));
  ASSERT_TRUE(wait_for_file(started));
  EXPECT_TRUE(runner.submit("b", sh("exit 0"), count));
  EXPECT_TRUE(runner.submit("c", sh("exit 0"), count));
  EXPECT_FALSE(runner.submit("d", sh("exit 0"), count));
  std::ofstream(gate) << "open";
  runner.wait_idle();
  EXPECT_EQ(ran.load(), 3);
}

TEST(HookRunner, HungHookIsKilledAtItsTimeout) {
  HookRunner runner({.concurrency = 1, .timeout = milliseconds(200)});
  std::atomic<bool> timed_out{false};
  std::atomic<int> exit_code{0};
  ASSERT_TRUE(runner.submit("a", sh("sleep 60"), [&](const CommandResult& result) {
    timed_out = result.timed_out;
    exit_code = result.exit_code;
  }));
  runner.wait_idle();  // returns: the hook did not run its 60 s
  EXPECT_TRUE(timed_out.load());
  EXPECT_EQ(exit_code.load(), -1);
}

TEST(HookRunner, StoppingDropsWhatWaitsAndLetsTheRunningEnd) {
  TempDir dir;
  std::atomic<int> ran{0};
  {
    HookRunner runner({.concurrency = 1});
    ASSERT_TRUE(runner.submit(
        "a", sh("touch \"$1\"; sleep 0.2; echo ran > \"$2\"", {(dir / "started").string(), (dir / "first").string()}),
        [&](const CommandResult&) { ++ran; }));
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(runner.submit("b", sh("echo ran > \"$1\"", {(dir / ("later-" + std::to_string(i))).string()}),
                                [&](const CommandResult&) { ++ran; }));
    }
    ASSERT_TRUE(wait_for_file(dir / "started"));
  }  // the destructor: the running hook ends, the queued ones are dropped
  EXPECT_EQ(ran.load(), 1);
  EXPECT_TRUE(std::filesystem::exists(dir / "first"));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(std::filesystem::exists(dir / ("later-" + std::to_string(i))));
}

}  // namespace
