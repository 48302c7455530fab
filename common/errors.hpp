#pragma once
// The two kinds of fatal error a program reports from main: bad usage/config/input (exit 2) and a
// runtime failure (exit 1). Expected failures at I/O boundaries are returned as values instead.

#include <stdexcept>
#include <string>

namespace fleetban::common {

// Bad usage, bad config or bad input: the message names the file, key or value at fault. Exit 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Something that should have worked did not (a socket, a disk). Exit 1.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

}  // namespace fleetban::common
