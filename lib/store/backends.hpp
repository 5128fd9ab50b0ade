#pragma once

#include <string>
#include <vector>

namespace chatctl::store {

struct BackendInfo {
  std::string name;     // as used in database addresses
  std::string library;  // client library and its version
};

// The database backends compiled into this binary, with the versions of their client libraries.
std::vector<BackendInfo> compiled_backends();

}  // namespace chatctl::store
