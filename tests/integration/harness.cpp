#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

#ifndef FLEETBAN_BIN_DIR
#error "FLEETBAN_BIN_DIR must name the directory that holds fleetban's programs"
#endif

namespace fleetban::testing {
namespace {

// How often loops look again at a child or a condition.
constexpr std::chrono::milliseconds kPollInterval{20};

std::system_error errno_error(const std::string& what) { return {errno, std::generic_category(), what}; }

// The exit code of a waitpid() status, signals as 128 + N like a shell.
int exit_code_of(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

// name itself if it holds a slash, else the first executable of that name on PATH
// (name itself when there is none, for exec to report).
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
  }
  return name;
}

// Starts argv with stdout and stderr on the given descriptors and stdin from
// /dev/null, in a process group of its own (killing the group also ends what
// the program started, such as the exec backend's shells), with default signal
// handling whatever the test runner has set, and SIGKILL when the test process
// dies: a crashed or killed test leaves no program behind.
pid_t spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd) {
  if (argv.empty()) {
    throw std::invalid_argument("cannot start a process with an empty argv");
  }
  // Everything the child needs is prepared before fork: it only makes system calls.
  const std::string path = find_program(argv[0]);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  int exec_error[2];
  if (::pipe2(exec_error, O_CLOEXEC) != 0) {
    throw errno_error("pipe2");
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const auto error = errno_error("fork");
    ::close(exec_error[0]);
    ::close(exec_error[1]);
    throw error;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);  // the test process is already gone
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      ::sigaction(sig, &default_action, nullptr);  // fails harmlessly for KILL, STOP
    }
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd < 0 || ::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(stdout_fd, STDOUT_FILENO) < 0 ||
        ::dup2(stderr_fd, STDERR_FILENO) < 0) {
      const int error = errno;
      [[maybe_unused]] const auto written = ::write(exec_error[1], &error, sizeof error);
      ::_exit(127);
    }
    ::execve(path.c_str(), args.data(), environ);
    const int error = errno;
    [[maybe_unused]] const auto written = ::write(exec_error[1], &error, sizeof error);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // as the child does: whichever runs first
  ::close(exec_error[1]);
  int error = 0;
  ssize_t n = 0;
  do {
    n = ::read(exec_error[0], &error, sizeof error);
  } while (n < 0 && errno == EINTR);
  ::close(exec_error[0]);
  if (n > 0) {  // the exec failed: the child has exited
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw std::system_error(error, std::generic_category(), "cannot start `" + describe(argv) + "`");
  }
  return pid;
}

// An unlinked temporary file, to catch a one-shot command's output.
class CaptureFile {
 public:
  CaptureFile() {
    char name[] = "/tmp/fbt-out-XXXXXX";
    fd_ = mkostemp(name, O_CLOEXEC);
    if (fd_ < 0) {
      throw errno_error("mkostemp");
    }
    ::unlink(name);
  }
  ~CaptureFile() { ::close(fd_); }
  CaptureFile(const CaptureFile&) = delete;
  CaptureFile& operator=(const CaptureFile&) = delete;

  int fd() const { return fd_; }

  std::string contents() const {
    std::string text;
    char buffer[8192];
    off_t offset = 0;
    for (;;) {
      const ssize_t n = ::pread(fd_, buffer, sizeof buffer, offset);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      text.append(buffer, static_cast<std::size_t>(n));
      offset += n;
    }
    return text;
  }

 private:
  int fd_ = -1;
};

// Waits for pid until the deadline; the exit code, or nullopt if it still runs.
std::optional<int> wait_pid(pid_t pid, Deadline deadline) {
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      return exit_code_of(status);
    }
    if (done < 0 && errno != EINTR) {
      return -1;  // not our child any more: nothing left to wait for
    }
    if (Clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

Deadline deadline_in(std::chrono::milliseconds timeout) { return Clock::now() + timeout; }

std::string program(std::string_view name) {
  const char* override_dir = std::getenv("FLEETBAN_TEST_BIN_DIR");
  const std::filesystem::path dir = override_dir != nullptr && *override_dir != '\0' ? override_dir : FLEETBAN_BIN_DIR;
  return (dir / name).string();
}

// ---------------------------------------------------------------- TempDir

TempDir::TempDir() {
  char name[] = "/tmp/fbt-XXXXXX";
  if (::mkdtemp(name) == nullptr) {
    throw errno_error("mkdtemp");
  }
  path_ = name;
}

TempDir::~TempDir() {
  if (std::getenv("FLEETBAN_KEEP_TEST_DIRS") != nullptr) {
    std::cerr << "[ harness  ] kept " << path_.string() << '\n';
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

// ---------------------------------------------------------------- files and ports

std::uint16_t free_tcp_port() {
  static std::set<std::uint16_t> handed_out;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw errno_error("socket");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    const int saved_errno = errno;
    ::close(fd);
    if (!ok) {
      errno = saved_errno;
      throw errno_error("bind 127.0.0.1:0");
    }
    const std::uint16_t port = ntohs(address.sin_port);
    if (handed_out.insert(port).second) {
      return port;
    }
  }
  throw std::runtime_error("no fresh free TCP port after 100 attempts");
}

void write_file(const std::filesystem::path& file, std::string_view content) {
  if (file.has_parent_path()) {
    std::filesystem::create_directories(file.parent_path());
  }
  std::ofstream stream(file, std::ios::binary | std::ios::trunc);
  stream.write(content.data(), static_cast<std::streamsize>(content.size()));
  stream.close();
  if (!stream) {
    throw std::runtime_error("cannot write " + file.string());
  }
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) {
    return {};
  }
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

std::vector<std::filesystem::path> regular_files_under(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return files;
  }
  for (auto it = std::filesystem::recursive_directory_iterator(dir, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    if (it->is_regular_file(error)) {
      files.push_back(it->path());
    }
  }
  return files;
}

std::string describe(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& arg : argv) {
    if (!line.empty()) {
      line += ' ';
    }
    const bool plain = !arg.empty() && arg.find_first_of(" \t\"'$\\<>|;&") == std::string::npos;
    line += plain ? arg : "'" + arg + "'";
  }
  return line;
}

std::string describe(const RunResult& result) {
  std::ostringstream text;
  text << "command: " << result.command << '\n';
  if (result.timed_out) {
    text << "timed out and was killed\n";
  } else {
    text << "exit code: " << result.exit_code << '\n';
  }
  text << "output:\n" << result.output;
  return text.str();
}

// ---------------------------------------------------------------- Process

Process::Process(std::vector<std::string> argv, std::filesystem::path log_file)
    : argv_(std::move(argv)), log_file_(std::move(log_file)) {
  if (log_file_.has_parent_path()) {
    std::filesystem::create_directories(log_file_.parent_path());
  }
  const int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw errno_error("cannot open " + log_file_.string());
  }
  try {
    pid_ = spawn(argv_, log_fd, log_fd);
  } catch (...) {
    ::close(log_fd);
    throw;
  }
  ::close(log_fd);
}

Process::~Process() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(-pid_, SIGKILL);  // the whole group: whatever the program started too
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    reap_now();
  }
}

void Process::reap_now() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      exit_code_ = -1;
      return;
    }
  }
  exit_code_ = exit_code_of(status);
}

bool Process::running() {
  if (!exit_code_) {
    exit_code_ = wait_pid(pid_, Clock::now());
  }
  return !exit_code_.has_value();
}

std::optional<int> Process::wait_for_exit(Deadline deadline) {
  if (!exit_code_) {
    exit_code_ = wait_pid(pid_, deadline);
  }
  return exit_code_;
}

int Process::terminate(std::chrono::milliseconds grace) {
  if (!exit_code_) {
    ::kill(pid_, SIGTERM);
    if (!wait_for_exit(deadline_in(grace))) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      reap_now();
    }
  }
  return *exit_code_;
}

void Process::kill(int sig) {
  if (!exit_code_) {
    ::kill(pid_, sig);
  }
}

// ---------------------------------------------------------------- one-shot commands

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CaptureFile out;
  CaptureFile err;
  const pid_t pid = spawn(argv, out.fd(), err.fd());
  RunResult result;
  result.command = describe(argv);
  if (const auto code = wait_pid(pid, deadline_in(timeout))) {
    result.exit_code = *code;
  } else {
    result.timed_out = true;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    wait_pid(pid, Deadline::max());
  }
  ::kill(-pid, SIGKILL);  // anything the command left running in its group
  result.out = out.contents();
  result.output = result.out + err.contents();
  return result;
}

// ---------------------------------------------------------------- polls

::testing::AssertionResult poll_until(const std::function<bool()>& predicate, Deadline deadline, std::string_view what,
                                      const std::function<std::string()>& observed) {
  const auto start = Clock::now();
  for (;;) {
    const bool last_try = Clock::now() >= deadline;
    if (predicate()) {
      return ::testing::AssertionSuccess();
    }
    if (last_try) {
      break;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  auto failure = ::testing::AssertionFailure();
  failure << "timed out after " << waited.count() << " ms waiting for: " << what;
  if (observed) {
    failure << "\nlast observed:\n" << observed();
  }
  return failure;
}

std::string last_lines(const std::string& text, std::size_t lines) {
  std::size_t position = text.size();
  while (lines > 0 && position > 0) {
    position = text.rfind('\n', position - 1);
    if (position == std::string::npos) return text;
    --lines;
  }
  return text.substr(position == 0 ? 0 : position + 1);
}

}  // namespace fleetban::testing
