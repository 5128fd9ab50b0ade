#pragma once

#include <string_view>

namespace chatctl::core {

// Sends library logs to stderr at `level` (trace, debug, info, warn, error, off). Data never goes
// through the logger: it is for diagnostics only.
void init_logging(std::string_view level);

}  // namespace chatctl::core
