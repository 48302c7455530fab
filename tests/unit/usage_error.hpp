#pragma once
// For tests of bad input: the message of the UsageError a call throws, and a substring check.

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/errors.hpp"

namespace fleetban::testing {

// The message of the UsageError that `f` throws; a test failure when it throws none.
template <typename F>
std::string usage_error_of(F&& f) {
  try {
    f();
  } catch (const common::UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UsageError";
  return {};
}

inline bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace fleetban::testing
