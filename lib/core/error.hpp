#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace chatctl::core {

// What went wrong, as far as the caller of chatctl cares: each kind maps to one sysexits code.
enum class ErrorKind {
  usage,        // 64: the command line is wrong
  data,         // 65: input data is invalid (bad name, malformed file, duplicate)
  no_input,     // 66: an input file does not exist or cannot be read
  unavailable,  // 69: a service (the database server) cannot be reached
  internal,     // 70: a bug
  cant_create,  // 73: an output file cannot be created
  io,           // 74: reading or writing failed
  temporary,    // 75: try again later (lock held, database busy)
  permission,   // 77: not allowed
  config,       // 78: the configuration is invalid
  not_found,    // 1: the thing asked for does not exist
  interrupted,  // 130
};

int exit_code(ErrorKind kind) noexcept;
std::string_view kind_name(ErrorKind kind) noexcept;

// The one exception type the library throws for conditions a user can cause or fix. Its message
// is a single line fit for `chatctl: error: <message>`; it never carries SQLSTATEs or driver text
// that would confuse a user (the store translates those).
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }
  int exit_code() const noexcept { return core::exit_code(kind_); }

 private:
  ErrorKind kind_;
};

}  // namespace chatctl::core
