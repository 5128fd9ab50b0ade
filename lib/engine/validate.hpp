#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace chatctl::engine {

// How a text field may look. Every engine field is checked by check_text, so names, logins,
// comments and ids follow one set of rules.
struct TextRule {
  std::size_t max;          // characters (code points), not bytes
  bool required{true};      // not empty, no leading or trailing whitespace
  bool multi_line{false};   // tabs and line breaks allowed; other control characters never are
};

// Throws Error(data) naming `field` (prefixed by `where`, a file position, when given) when
// `value` is not valid UTF-8 or breaks `rule`.
void check_text(std::string_view field, const std::string& value, const TextRule& rule, const std::string& where = "");

}  // namespace chatctl::engine
