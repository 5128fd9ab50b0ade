// Text helpers (lib/core/text.hpp): UTF-8 validation, parsing, redaction and quoting.
#include "core/text.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

using namespace chatctl;
using namespace std::string_literals;

TEST_CASE("text: utf8_length counts ASCII characters", "[text][utf8]") {
  CHECK(core::utf8_length("") == std::size_t{0});
  CHECK(core::utf8_length("a") == std::size_t{1});
  CHECK(core::utf8_length("hello, world") == std::size_t{12});
  // NUL is a valid one-byte code point; a std::string_view keeps it.
  CHECK(core::utf8_length("a\0b"s) == std::size_t{3});
  CHECK(core::utf8_length("\x7F") == std::size_t{1});
}

TEST_CASE("text: utf8_length counts multi-byte code points, not bytes", "[text][utf8]") {
  // ü is 2 bytes, € is 3 bytes, 😀 is 4 bytes.
  CHECK(core::utf8_length("\xC3\xBC") == std::size_t{1});
  CHECK(core::utf8_length("\xE2\x82\xAC") == std::size_t{1});
  CHECK(core::utf8_length("\xF0\x9F\x98\x80") == std::size_t{1});
  CHECK(core::utf8_length("\xC3\xBC\xE2\x82\xAC\xF0\x9F\x98\x80") == std::size_t{3});
  CHECK(core::utf8_length("a\xC3\xBC"
                          "b\xE2\x82\xAC"
                          "c\xF0\x9F\x98\x80"
                          "d") == std::size_t{7});
  // The boundaries of each sequence length are valid.
  CHECK(core::utf8_length("\xC2\x80") == std::size_t{1});          // U+0080, smallest 2-byte
  CHECK(core::utf8_length("\xDF\xBF") == std::size_t{1});          // U+07FF
  CHECK(core::utf8_length("\xE0\xA0\x80") == std::size_t{1});      // U+0800, smallest 3-byte
  CHECK(core::utf8_length("\xED\x9F\xBF") == std::size_t{1});      // U+D7FF, just below surrogates
  CHECK(core::utf8_length("\xEE\x80\x80") == std::size_t{1});      // U+E000, just above surrogates
  CHECK(core::utf8_length("\xEF\xBF\xBF") == std::size_t{1});      // U+FFFF
  CHECK(core::utf8_length("\xF0\x90\x80\x80") == std::size_t{1});  // U+10000, smallest 4-byte
  CHECK(core::utf8_length("\xF4\x8F\xBF\xBF") == std::size_t{1});  // U+10FFFF, the largest
}

TEST_CASE("text: utf8_length rejects invalid UTF-8", "[text][utf8]") {
  SECTION("a lone continuation byte") {
    CHECK_FALSE(core::utf8_length("\x80").has_value());
    CHECK_FALSE(core::utf8_length("abc\xBF").has_value());
    CHECK_FALSE(core::utf8_length("\xC3\xBC\xBC").has_value());  // one continuation too many
  }
  SECTION("a truncated sequence") {
    CHECK_FALSE(core::utf8_length("\xC3").has_value());
    CHECK_FALSE(core::utf8_length("\xE2\x82").has_value());
    CHECK_FALSE(core::utf8_length("\xF0\x9F\x98").has_value());
    CHECK_FALSE(core::utf8_length("a\xE2\x82"
                                  "b")
                    .has_value());  // interrupted by ASCII
    CHECK_FALSE(core::utf8_length("\xE2\x82\xC3\xBC").has_value());
  }
  SECTION("overlong encodings") {
    CHECK_FALSE(core::utf8_length("\xC0\xAF").has_value());  // '/' in 2 bytes
    CHECK_FALSE(core::utf8_length("\xC1\xBF").has_value());
    CHECK_FALSE(core::utf8_length("\xC0\x80").has_value());          // "modified UTF-8" NUL
    CHECK_FALSE(core::utf8_length("\xE0\x80\xAF").has_value());      // '/' in 3 bytes
    CHECK_FALSE(core::utf8_length("\xE0\x9F\xBF").has_value());      // U+07FF in 3 bytes
    CHECK_FALSE(core::utf8_length("\xF0\x80\x80\xAF").has_value());  // '/' in 4 bytes
    CHECK_FALSE(core::utf8_length("\xF0\x8F\xBF\xBF").has_value());  // U+FFFF in 4 bytes
  }
  SECTION("UTF-16 surrogates") {
    CHECK_FALSE(core::utf8_length("\xED\xA0\x80").has_value());              // U+D800
    CHECK_FALSE(core::utf8_length("\xED\xBF\xBF").has_value());              // U+DFFF
    CHECK_FALSE(core::utf8_length("\xED\xA0\xBD\xED\xB8\x80").has_value());  // CESU-8 pair
  }
  SECTION("code points above U+10FFFF") {
    CHECK_FALSE(core::utf8_length("\xF4\x90\x80\x80").has_value());  // U+110000
    CHECK_FALSE(core::utf8_length("\xF7\xBF\xBF\xBF").has_value());  // U+1FFFFF
  }
  SECTION("bytes that never start a sequence") {
    CHECK_FALSE(core::utf8_length("\xF8\x88\x80\x80\x80").has_value());  // old 5-byte form
    CHECK_FALSE(core::utf8_length("\xFC\x84\x80\x80\x80\x80").has_value());
    CHECK_FALSE(core::utf8_length("\xFE").has_value());
    CHECK_FALSE(core::utf8_length("\xFF").has_value());
  }
}

TEST_CASE("text: has_control_chars", "[text]") {
  CHECK_FALSE(core::has_control_chars(""));
  CHECK_FALSE(core::has_control_chars("plain text with spaces ~!"));
  CHECK_FALSE(core::has_control_chars("\xC3\xBC\xE2\x82\xAC\xF0\x9F\x98\x80"));  // non-ASCII is not control
  CHECK(core::has_control_chars("a\tb"));
  CHECK(core::has_control_chars("line\n"));
  CHECK(core::has_control_chars("\r"));
  CHECK(core::has_control_chars("\x1B[31mred"));
  CHECK(core::has_control_chars("a\0b"s));
  CHECK(core::has_control_chars("\x1F"));
  CHECK(core::has_control_chars("del\x7F"));
  CHECK_FALSE(core::has_control_chars(" "));  // 0x20 is the first printable character
}

TEST_CASE("text: trim removes ASCII whitespace at both ends only", "[text]") {
  CHECK(core::trim("") == "");
  CHECK(core::trim("   ") == "");
  CHECK(core::trim("abc") == "abc");
  CHECK(core::trim("  abc  ") == "abc");
  CHECK(core::trim("\t\n\r\f\vabc\v\f\r\n\t") == "abc");
  CHECK(core::trim(" a b  c ") == "a b  c");
  // trim returns a view into its argument.
  const std::string s = "  xy ";
  const auto t = core::trim(s);
  CHECK(t.data() == s.data() + 2);
  CHECK(t.size() == 2);
}

TEST_CASE("text: to_lower lowers ASCII only", "[text]") {
  CHECK(core::to_lower("HeLLo 123") == "hello 123");
  CHECK(core::to_lower("\xC3\x9C") == "\xC3\x9C");  // Ü is left alone, bytes intact
}

TEST_CASE("text: parse_bool accepts the documented spellings in any case", "[text]") {
  for (const char* s : {"true", "TRUE", "True", "yes", "YES", "on", "On", "1", " true ", "\tyes\n"}) {
    INFO(s);
    CHECK(core::parse_bool(s) == std::optional<bool>(true));
  }
  for (const char* s : {"false", "FALSE", "no", "No", "off", "OFF", "0", "  off  "}) {
    INFO(s);
    CHECK(core::parse_bool(s) == std::optional<bool>(false));
  }
}

TEST_CASE("text: parse_bool rejects anything else", "[text]") {
  for (const char* s : {"", "   ", "2", "-1", "t", "f", "y", "n", "truee", "yes please", "enabled", "01", "null"}) {
    INFO('"' << s << '"');
    CHECK_FALSE(core::parse_bool(s).has_value());
  }
}

TEST_CASE("text: parse_int parses decimal integers", "[text]") {
  CHECK(core::parse_int("0") == std::optional<std::int64_t>(0));
  CHECK(core::parse_int("42") == std::optional<std::int64_t>(42));
  CHECK(core::parse_int("-17") == std::optional<std::int64_t>(-17));
  CHECK(core::parse_int("  5000\n") == std::optional<std::int64_t>(5000));
  CHECK(core::parse_int("007") == std::optional<std::int64_t>(7));
  CHECK(core::parse_int("9223372036854775807") ==
        std::optional<std::int64_t>(std::numeric_limits<std::int64_t>::max()));
  CHECK(core::parse_int("-9223372036854775808") ==
        std::optional<std::int64_t>(std::numeric_limits<std::int64_t>::min()));
}

TEST_CASE("text: parse_int rejects overflow", "[text]") {
  CHECK_FALSE(core::parse_int("9223372036854775808").has_value());
  CHECK_FALSE(core::parse_int("-9223372036854775809").has_value());
  CHECK_FALSE(core::parse_int("99999999999999999999999").has_value());
}

TEST_CASE("text: parse_int rejects junk and empty input", "[text]") {
  for (const char* s : {"", "   ", "abc", "12abc", "abc12", "1 2", "1.5", "1e3", "0x10", "--1", "-", "five"}) {
    INFO('"' << s << '"');
    CHECK_FALSE(core::parse_int(s).has_value());
  }
  CHECK_FALSE(core::parse_int("12\0"s).has_value());
}

TEST_CASE("text: redact_dsn hides the password of a URI", "[text][redact]") {
  CHECK(core::redact_dsn("postgresql://u:secret@h/db") == "postgresql://u:***@h/db");
  CHECK(core::redact_dsn("postgres://alice:s3cr3t@db.example.com:5432/chat") ==
        "postgres://alice:***@db.example.com:5432/chat");
  CHECK(core::redact_dsn("postgresql://u:secret@h") == "postgresql://u:***@h");
  CHECK(core::redact_dsn("postgresql://u:secret@h:5432,h2:5433/db?sslmode=require") ==
        "postgresql://u:***@h:5432,h2:5433/db?sslmode=require");
  // A password containing ':' or '@' is hidden completely.
  CHECK(core::redact_dsn("postgresql://u:a:b@h/db") == "postgresql://u:***@h/db");
  CHECK(core::redact_dsn("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db");
}

TEST_CASE("text: redact_dsn leaves a URI without password alone", "[text][redact]") {
  for (const char* s : {"postgresql://u@h/db", "postgresql://u@h:5432/db", "postgresql://h:5432/db",
                        "postgresql://h/db", "postgresql:///db", "postgresql://[::1]:5433/db",
                        "postgresql://h/db?x=a@b:c", "/var/lib/chatctl/chatctl.db", "sqlite:chat.db", ":memory:", ""}) {
    INFO(s);
    CHECK(core::redact_dsn(s) == s);
  }
}

TEST_CASE("text: redact_dsn hides keyword/value passwords", "[text][redact]") {
  CHECK(core::redact_dsn("host=h password=secret dbname=d") == "host=h password=*** dbname=d");
  CHECK(core::redact_dsn("password=secret") == "password=***");
  CHECK(core::redact_dsn("host=h password=secret") == "host=h password=***");
  CHECK(core::redact_dsn("host=h user=u dbname=d") == "host=h user=u dbname=d");
  // Only the keyword "password" itself, not a keyword ending in it.
  CHECK(core::redact_dsn("host=h mypassword=x") == "host=h mypassword=x");
}

TEST_CASE("text: redact_dsn hides quoted keyword/value passwords", "[text][redact]") {
  CHECK(core::redact_dsn("host=h password='a b' dbname=d") == "host=h password=*** dbname=d");
  CHECK(core::redact_dsn("password='' user=u") == "password=*** user=u");
  // An escaped quote inside the value does not end it.
  CHECK(core::redact_dsn(R"(host=h password='it\'s secret' dbname=d)") == "host=h password=*** dbname=d");
  CHECK(core::redact_dsn(R"(password='back\\' dbname=d)") == "password=*** dbname=d");
  // An unterminated quoted value is hidden up to the end.
  CHECK(core::redact_dsn("host=h password='a b c") == "host=h password=***");
}

TEST_CASE("text: redact_dsn hides a password given as a URI query parameter", "[text][redact]") {
  CHECK(core::redact_dsn("postgresql://u@h/db?password=secret") == "postgresql://u@h/db?password=***");
  CHECK(core::redact_dsn("postgresql://u@h/db?sslmode=require&password=secret&connect_timeout=5") ==
        "postgresql://u@h/db?sslmode=require&password=***&connect_timeout=5");
  CHECK(core::redact_dsn("postgresql://u:one@h/db?password=two") == "postgresql://u:***@h/db?password=***");
}

// libpq allows whitespace around '=' in keyword/value strings ("Spaces around the equal sign are
// optional"), so "password = secret" is a valid way to give a password.
TEST_CASE("text: redact_dsn hides a keyword/value password with spaces around '='", "[text][redact]") {
  const std::string out = core::redact_dsn("host=h password = secret dbname=d");
  CHECK(out.find("secret") == std::string::npos);
}

// libpq separates keyword/value pairs with any whitespace, not only spaces.
TEST_CASE("text: redact_dsn hides a keyword/value password after a tab or newline", "[text][redact]") {
  CHECK(core::redact_dsn("host=h\tpassword=secret") == "host=h\tpassword=***");
  CHECK(core::redact_dsn("host=h\npassword=secret") == "host=h\npassword=***");
}

TEST_CASE("text: quoted wraps in double quotes and escapes", "[text][quoted]") {
  CHECK(core::quoted("") == R"("")");
  CHECK(core::quoted("name") == R"("name")");
  CHECK(core::quoted("a b") == R"("a b")");
  CHECK(core::quoted(R"(say "hi")") == R"("say \"hi\"")");
  CHECK(core::quoted(R"(C:\dir)") == R"("C:\\dir")");
  CHECK(core::quoted("a\nb") == R"("a\x0ab")");
  CHECK(core::quoted("\t") == R"("\x09")");
  CHECK(core::quoted("\x1B[0m") == R"("\x1b[0m")");
  CHECK(core::quoted("\x7F") == R"("\x7f")");
  CHECK(core::quoted("nul\0"s) == R"("nul\x00")");
  CHECK(core::quoted("\xC3\xBC\xE2\x82\xAC") == "\"\xC3\xBC\xE2\x82\xAC\"");  // UTF-8 kept as is
}

TEST_CASE("text: quoted shortens long values", "[text][quoted]") {
  const std::string sixty(60, 'x');
  CHECK(core::quoted(sixty) == "\"" + sixty + "\"");
  CHECK(core::quoted(sixty + "y") == "\"" + sixty + "...\"");
  const std::string long_value(500, 'z');
  const std::string q = core::quoted(long_value);
  CHECK(q == "\"" + std::string(60, 'z') + "...\"");
  CHECK(q.size() < 100);
}

// The shortened form is cut at a byte count, so it can end in the middle of a multi-byte
// character and turn a valid UTF-8 value into an invalid UTF-8 message.
TEST_CASE("text: quoted does not cut a multi-byte character in half", "[text][quoted]") {
  const std::string value = std::string(59, 'a') + "\xE2\x82\xAC\xE2\x82\xAC";  // 59 x 'a' then "€€"
  const std::string q = core::quoted(value);
  CHECK(q.find("...") != std::string::npos);
  CHECK(core::utf8_length(q).has_value());
}
