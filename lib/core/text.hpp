#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace chatctl::core {

// Number of Unicode code points in valid UTF-8, or nullopt when `s` is not valid UTF-8
// (overlong forms, surrogates and truncated sequences are invalid).
std::optional<std::size_t> utf8_length(std::string_view s);

bool has_control_chars(std::string_view s);
std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);

// Parses true/false/yes/no/on/off/1/0 (any case).
std::optional<bool> parse_bool(std::string_view s);
std::optional<std::int64_t> parse_int(std::string_view s);
// A positive duration: an integer and a unit, s m h d or w ("90m", "36h", "7d"); in microseconds.
std::optional<std::int64_t> parse_duration(std::string_view s);

// Hides the password in a database address: postgresql://u:secret@h/db -> postgresql://u:***@h/db,
// and password=secret -> password=*** in keyword/value form.
std::string redact_dsn(std::string_view dsn);

// Base64 (RFC 4648, with padding); decode returns nullopt for anything that is not.
std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

// Quotes `s` for a message: "name", with control characters escaped and long values shortened.
std::string quoted(std::string_view s);

}  // namespace chatctl::core
