// A small harness for black-box tests: temp dirs, free ports, child processes
// and polls with deadlines. The tests drive fleetban's programs only through
// INTERFACE.md (flags, config files, exit codes, `fleetban list --json`).
#pragma once

#include <gtest/gtest.h>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetban::testing {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// The deadline `timeout` from now.
Deadline deadline_in(std::chrono::milliseconds timeout);

// The generous deadline for anything the fleet should do "soon": polls return
// as soon as the condition holds, so a long one costs nothing when all is well.
inline constexpr std::chrono::seconds kSoon{15};

// The full path of one of fleetban's programs (FLEETBAN_BIN_DIR at build time,
// or the environment variable FLEETBAN_TEST_BIN_DIR, to test an installed tree).
std::string program(std::string_view name);

// A fresh directory under /tmp with a short name (Unix socket paths and logs
// stay readable), removed with everything in it unless FLEETBAN_KEEP_TEST_DIRS
// is set in the environment.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago. Never returns the same
// port twice in one test process.
std::uint16_t free_tcp_port();

// Writes (creating parent directories) or reads a whole file. read_file returns
// "" for a file that does not exist, which suits polls on files a program has
// yet to create.
void write_file(const std::filesystem::path& file, std::string_view content);
std::string read_file(const std::filesystem::path& file);

// The last `lines` lines of a text (a log), for failure messages.
std::string last_lines(const std::string& text, std::size_t lines);

// The regular files under dir, recursively (none when dir does not exist).
std::vector<std::filesystem::path> regular_files_under(const std::filesystem::path& dir);

// The argv as one line, for failure messages.
std::string describe(const std::vector<std::string>& argv);

// A child process running argv (argv[0] a path, or a name looked up on PATH),
// with stdout and stderr appended to log_file and stdin from /dev/null, in a
// process group of its own. The destructor always kills the whole group and
// reaps the child, and the child gets SIGKILL if the test process dies first,
// so no test leaves a process behind.
class Process {
 public:
  Process(std::vector<std::string> argv, std::filesystem::path log_file);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::vector<std::string>& argv() const { return argv_; }
  const std::filesystem::path& log_file() const { return log_file_; }
  std::string log() const { return read_file(log_file_); }

  // True until the child has exited (and been reaped).
  bool running();
  // The exit code, 128 + N for a death by signal N, or nullopt if the child
  // still runs at the deadline.
  std::optional<int> wait_for_exit(Deadline deadline);
  // SIGTERM to the child, then SIGKILL to its group if it has not exited
  // within grace. Returns how it exited (see wait_for_exit).
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Sends sig to the child alone.
  void kill(int sig);

 private:
  void reap_now();

  std::vector<std::string> argv_;
  std::filesystem::path log_file_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

struct RunResult {
  std::string command;     // the argv as one line
  int exit_code = -1;      // as in Process::wait_for_exit; -1 if it timed out
  bool timed_out = false;  // killed at the timeout
  std::string out;         // stdout alone (e.g. a JSON document)
  std::string output;      // stdout followed by stderr, for messages
};

// Runs a one-shot command (argv[0] as for Process) to its end, or kills it and its
// process group at the timeout.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A failure message for a one-shot command: the command, its exit and output.
std::string describe(const RunResult& result);

// Calls predicate until it returns true or the deadline passes. The result
// converts to bool; on failure its message says what did not happen and, when
// observed is given, the last thing seen (a file's content, a JSON document).
::testing::AssertionResult poll_until(const std::function<bool()>& predicate, Deadline deadline, std::string_view what,
                                      const std::function<std::string()>& observed = {});

}  // namespace fleetban::testing
