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
  if (bad_control) fail("must not contain control characters");
}

}  // namespace chatctl::engine
