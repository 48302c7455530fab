#include "subscriber/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/command_words.hpp"

extern char** environ;

namespace fleetban::subscriber {

common::Expected<CommandTemplate> CommandTemplate::parse(std::string_view text) {
  // One rule for the config check and for running (common/command_words.hpp).
  auto words = common::split_command(text);
  if (!words) return common::Failure{words.error()};
  CommandTemplate command;
  command.words_ = std::move(*words);
  return command;
}

std::vector<std::string> CommandTemplate::expand(const Tags& tags) const {
  std::vector<std::string> argv;
  argv.reserve(words_.size());
  for (const std::string& word : words_) {
    std::string out;
    std::size_t i = 0;
    while (i < word.size()) {
      bool replaced = false;
      if (word[i] == '<') {
        std::size_t close = word.find('>', i);
        if (close != std::string::npos) {
          auto it = tags.find(std::string_view(word).substr(i + 1, close - i - 1));
          if (it != tags.end()) {
            out += it->second;
            i = close + 1;
            replaced = true;
          }
        }
      }
      if (!replaced) out += word[i++];
    }
    argv.push_back(std::move(out));
  }
  return argv;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          CaptureOutput capture) {
  CommandResult result;
  if (argv.empty()) {
    result.error = "empty command";
    return result;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int out_pipe[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (capture == CaptureOutput::yes) {
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
      result.error = std::string("pipe: ") + std::strerror(errno);
      posix_spawn_file_actions_destroy(&actions);
      return result;
    }
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  }
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (out_pipe[1] >= 0) close(out_pipe[1]);
  if (rc != 0) {
    if (out_pipe[0] >= 0) close(out_pipe[0]);
    result.error = argv[0] + ": " + std::strerror(rc);
    return result;
  }

  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto remaining_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<std::int64_t>(0, left.count()));
  };
  if (out_pipe[0] >= 0) {
    char buffer[4096];
    while (true) {
      pollfd pfd{out_pipe[0], POLLIN, 0};
      int ready = poll(&pfd, 1, remaining_ms());
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;  // timed out
      ssize_t n = read(out_pipe[0], buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      result.output.append(buffer, static_cast<std::size_t>(n));
    }
    close(out_pipe[0]);
  }
  int status = 0;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    if (remaining_ms() == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.timed_out = true;
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace fleetban::subscriber
