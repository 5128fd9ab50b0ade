#pragma once

#include <string>

namespace chatctl::core {

// A random (version 4) UUID in lowercase canonical form, for RTM customer ids.
std::string new_uuid();

bool is_uuid(const std::string& s);

}  // namespace chatctl::core
