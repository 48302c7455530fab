#pragma once
// Commands from the config (`ban_command`, `fail2ban_client`, ...): split into words once, with
// shell-like quoting, then tags such as <ip> are replaced inside each word, and the program runs
// with no shell, so no value can ever be interpreted as shell syntax.

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.hpp"

namespace fleetban::subscriber {

using Tags = std::map<std::string, std::string, std::less<>>;

class CommandTemplate {
 public:
  // Splits on whitespace; '...' and "..." quote, backslash escapes. Unbalanced quotes fail.
  static common::Expected<CommandTemplate> parse(std::string_view text);

  // Each word with every "<tag>" of `tags` replaced by its value.
  std::vector<std::string> expand(const Tags& tags) const;

  bool empty() const { return words_.empty(); }
  const std::vector<std::string>& words() const { return words_; }

 private:
  std::vector<std::string> words_;
};

struct CommandResult {
  int exit_code = -1;  // -1 when it could not start, was killed or timed out
  bool timed_out = false;
  std::string output;  // stdout, when captured
  std::string error;   // why it could not start
};

enum class CaptureOutput { no, yes };

// Runs argv[0] (found on PATH) with argv, stdin from /dev/null. After `timeout` it is killed.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          CaptureOutput capture = CaptureOutput::no);

}  // namespace fleetban::subscriber
