#include "engine/validate.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/text.hpp"

namespace chatctl::engine {

void check_text(std::string_view field, const std::string& value, const TextRule& rule, const std::string& where) {
  const auto fail = [&](const std::string& what) {
    const std::string msg = std::string(field) + " " + what;
    throw core::Error(core::ErrorKind::data, where.empty() ? msg : where + ": " + msg);
  };
  const auto len = core::utf8_length(value);
  if (!len) fail("is not valid UTF-8");
  if (rule.required && core::trim(value).empty()) fail("must not be empty");
  if (*len > rule.max) {
    fail("is " + std::to_string(*len) + " characters long; at most " + std::to_string(rule.max) + " allowed");
  }
  if (rule.required && core::trim(value).size() != value.size()) fail("must not start or end with spaces");
  const bool bad_control = std::any_of(value.begin(), value.end(), [&](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    const bool line_break_or_tab = ch == '\t' || ch == '\n' || ch == '\r';
    return (c < 0x20 && !(rule.multi_line && line_break_or_tab)) || c == 0x7F;
  });
  // The C1 controls too (U+0080 to U+009F, UTF-8 C2 80 to C2 9F): invisible in a table, and
  // U+009B starts a terminal escape sequence.
  const auto c1 = std::adjacent_find(value.begin(), value.end(), [](char a, char b) {
    return static_cast<unsigned char>(a) == 0xC2 && static_cast<unsigned char>(b) >= 0x80 &&
           static_cast<unsigned char>(b) <= 0x9F;
  });
  if (bad_control || c1 != value.end()) fail("must not contain control characters");
}

}  // namespace chatctl::engine
