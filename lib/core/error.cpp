#include "core/error.hpp"

namespace chatctl::core {

int exit_code(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::usage: return 64;
    case ErrorKind::data: return 65;
    case ErrorKind::no_input: return 66;
    case ErrorKind::unavailable: return 69;
    case ErrorKind::internal: return 70;
    case ErrorKind::cant_create: return 73;
    case ErrorKind::io: return 74;
    case ErrorKind::temporary: return 75;
    case ErrorKind::permission: return 77;
    case ErrorKind::config: return 78;
    case ErrorKind::not_found: return 1;
    case ErrorKind::interrupted: return 130;
  }
  return 70;
}

std::string_view kind_name(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::usage: return "usage";
    case ErrorKind::data: return "data";
    case ErrorKind::no_input: return "no_input";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::internal: return "internal";
    case ErrorKind::cant_create: return "cant_create";
    case ErrorKind::io: return "io";
    case ErrorKind::temporary: return "temporary";
    case ErrorKind::permission: return "permission";
    case ErrorKind::config: return "config";
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::interrupted: return "interrupted";
  }
  return "internal";
}

}  // namespace chatctl::core
