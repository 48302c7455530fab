#pragma once
// A value or the reason there is none: how expected failures at I/O boundaries come back.

#include <string>
#include <utility>
#include <variant>

namespace fleetban::common {

struct Failure {
  std::string reason;
};

template <typename T>
class Expected {
 public:
  using value_type = T;

  Expected(T value) : state_(std::move(value)) {}            // NOLINT: implicit on purpose, like std::expected
  Expected(Failure failure) : state_(std::move(failure)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }
  T& operator*() { return std::get<T>(state_); }
  const T& operator*() const { return std::get<T>(state_); }
  T* operator->() { return &std::get<T>(state_); }
  const T* operator->() const { return &std::get<T>(state_); }
  const std::string& error() const { return std::get<Failure>(state_).reason; }

 private:
  std::variant<T, Failure> state_;
};

}  // namespace fleetban::common
