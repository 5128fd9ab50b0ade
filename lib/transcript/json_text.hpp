#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace chatctl::transcript {

// Appends `s` as a JSON string literal. Invalid UTF-8 becomes U+FFFD, so the output is always
// valid JSON whatever a foreign writer left in the database.
void append_json_string(std::string& out, std::string_view s);

inline void append_json_int(std::string& out, std::int64_t v) { out += std::to_string(v); }

}  // namespace chatctl::transcript
