// Errors as values at module boundaries: parse, verify, load and run return
// Expected<T>; a failed Expected carries one user-facing message that says
// where (file:line:col, op, tensor) and what was expected.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace graphc {

struct Error {
  std::string message;
};

// Thrown inside a module and turned into an Error at its boundary; also what
// the builder throws at the offending call.
class GraphcError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}
  Expected(Error error) : state_(std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Expected*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T& operator*() & { return checked(); }
  const T& operator*() const& { return const_cast<Expected*>(this)->checked(); }
  T&& operator*() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &const_cast<Expected*>(this)->checked(); }

  const Error& error() const { return std::get<1>(state_); }

  // Unwraps or throws GraphcError; for code that is inside a module boundary.
  T take() && { return std::move(checked()); }

 private:
  T& checked() {
    if (!ok()) throw GraphcError(std::get<1>(state_).message);
    return std::get<0>(state_);
  }
  std::variant<T, Error> state_;
};

// Expected<void>.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}
  static Status success() { return Status(); }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }
  void throw_if_error() const {
    if (error_) throw GraphcError(error_->message);
  }

 private:
  std::optional<Error> error_;
};

}  // namespace graphc
