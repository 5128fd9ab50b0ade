// Migration script splitting (lib/store/sql_script.hpp).
#include "store/sql_script.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using chatctl::store::split_sql_script;
using Statements = std::vector<std::string>;

TEST_CASE("sql_script: splits at semicolons and trims", "[sql_script]") {
  CHECK(split_sql_script("SELECT 1; SELECT 2;") == Statements{"SELECT 1", "SELECT 2"});
  CHECK(split_sql_script("CREATE TABLE a (x INT);\nCREATE TABLE b (y INT);\n") ==
        Statements{"CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"});
  // Newlines inside a statement are kept.
  CHECK(split_sql_script("CREATE TABLE a (\n  x INT,\n  y INT\n);") ==
        Statements{"CREATE TABLE a (\n  x INT,\n  y INT\n)"});
}

TEST_CASE("sql_script: a trailing statement without semicolon is kept", "[sql_script]") {
  CHECK(split_sql_script("SELECT 1") == Statements{"SELECT 1"});
  CHECK(split_sql_script("SELECT 1; SELECT 2") == Statements{"SELECT 1", "SELECT 2"});
  CHECK(split_sql_script("SELECT 1;\n  SELECT 2  \n") == Statements{"SELECT 1", "SELECT 2"});
}

TEST_CASE("sql_script: empty statements are dropped", "[sql_script]") {
  CHECK(split_sql_script("").empty());
  CHECK(split_sql_script("   \n\t ").empty());
  CHECK(split_sql_script(";").empty());
  CHECK(split_sql_script(";;; \n ;\t;").empty());
  CHECK(split_sql_script(";; SELECT 1;;; SELECT 2 ;;") == Statements{"SELECT 1", "SELECT 2"});
}

TEST_CASE("sql_script: semicolons in single-quoted strings", "[sql_script]") {
  CHECK(split_sql_script("INSERT INTO t VALUES ('a;b'); SELECT 1;") ==
        Statements{"INSERT INTO t VALUES ('a;b')", "SELECT 1"});
  SECTION("with '' escapes") {
    CHECK(split_sql_script("INSERT INTO t VALUES ('it''s; fine'); SELECT 2") ==
          Statements{"INSERT INTO t VALUES ('it''s; fine')", "SELECT 2"});
    CHECK(split_sql_script("SELECT ''';'''; SELECT 3") == Statements{"SELECT ''';'''", "SELECT 3"});
    CHECK(split_sql_script("SELECT ''; SELECT 4") == Statements{"SELECT ''", "SELECT 4"});
  }
  SECTION("comment markers inside strings are text") {
    CHECK(split_sql_script("SELECT '-- not a comment;'; SELECT 5") ==
          Statements{"SELECT '-- not a comment;'", "SELECT 5"});
    CHECK(split_sql_script("SELECT '/* not; a comment */'; SELECT 6") ==
          Statements{"SELECT '/* not; a comment */'", "SELECT 6"});
    CHECK(split_sql_script("SELECT '$$;'; SELECT 7") == Statements{"SELECT '$$;'", "SELECT 7"});
  }
  SECTION("double quotes inside single quotes") {
    CHECK(split_sql_script(R"(SELECT 'say "a;b"'; SELECT 8)") == Statements{R"(SELECT 'say "a;b"')", "SELECT 8"});
  }
}

TEST_CASE("sql_script: semicolons in double-quoted identifiers", "[sql_script]") {
  CHECK(split_sql_script(R"(CREATE TABLE "odd;name" (x INT); SELECT 1)") ==
        Statements{R"(CREATE TABLE "odd;name" (x INT))", "SELECT 1"});
  CHECK(split_sql_script(R"(SELECT "a""b;c" FROM t; SELECT 2)") == Statements{R"(SELECT "a""b;c" FROM t)", "SELECT 2"});
  CHECK(split_sql_script(R"(SELECT "it's;" FROM t; SELECT 3)") == Statements{R"(SELECT "it's;" FROM t)", "SELECT 3"});
}

TEST_CASE("sql_script: -- comments are removed", "[sql_script]") {
  CHECK(split_sql_script("-- header; with a semicolon\nSELECT 1;") == Statements{"SELECT 1"});
  CHECK(split_sql_script("SELECT 1; -- done; really\nSELECT 2; -- trailing") == Statements{"SELECT 1", "SELECT 2"});
  CHECK(split_sql_script("SELECT 1 -- it's a quote in a comment\n; SELECT 2") == Statements{"SELECT 1", "SELECT 2"});
  CHECK(split_sql_script("-- only a comment").empty());
  CHECK(split_sql_script("-- a\n-- b;\n").empty());
  // A single '-' is an operator.
  CHECK(split_sql_script("SELECT 3-1; SELECT -2") == Statements{"SELECT 3-1", "SELECT -2"});
}

TEST_CASE("sql_script: /* */ comments are removed", "[sql_script]") {
  CHECK(split_sql_script("/* header; */ SELECT 1; SELECT 2;") == Statements{"SELECT 1", "SELECT 2"});
  CHECK(split_sql_script("SELECT /* a; b; 'c */ 1; SELECT 2") == Statements{"SELECT   1", "SELECT 2"});
  CHECK(split_sql_script("/*\n multi-line;\n comment\n*/\nSELECT 1") == Statements{"SELECT 1"});
  CHECK(split_sql_script("/* only a comment; */").empty());
  // A comment separates tokens like whitespace does.
  CHECK(split_sql_script("SELECT/**/1") == Statements{"SELECT 1"});
  // An unterminated comment runs to the end of the script.
  CHECK(split_sql_script("SELECT 1; /* unterminated; SELECT 2;") == Statements{"SELECT 1"});
  // A single '/' is an operator.
  CHECK(split_sql_script("SELECT 4/2; SELECT 5") == Statements{"SELECT 4/2", "SELECT 5"});
}

TEST_CASE("sql_script: $$ bodies are kept whole", "[sql_script]") {
  const std::string fn =
      "CREATE FUNCTION f() RETURNS trigger AS $$\n"
      "BEGIN\n"
      "  NEW.x := 1; -- not a comment here\n"
      "  RETURN NEW;\n"
      "END;\n"
      "$$ LANGUAGE plpgsql";
  CHECK(split_sql_script(fn + ";\nSELECT 1;") == Statements{fn, "SELECT 1"});
  CHECK(split_sql_script("SELECT $$a;b$$; SELECT 2") == Statements{"SELECT $$a;b$$", "SELECT 2"});
  CHECK(split_sql_script("SELECT $$it's; /* x */$$; SELECT 3") == Statements{"SELECT $$it's; /* x */$$", "SELECT 3"});
}

TEST_CASE("sql_script: $tag$ bodies are kept whole", "[sql_script]") {
  const std::string fn =
      "CREATE FUNCTION g() RETURNS text AS $body$\n"
      "  SELECT $$inner;$$ || 'x;';\n"
      "$body$ LANGUAGE sql";
  CHECK(split_sql_script(fn + "; SELECT 1") == Statements{fn, "SELECT 1"});
  // A different tag does not close the body.
  CHECK(split_sql_script("SELECT $a$ x; $b$ y; $a$; SELECT 2") == Statements{"SELECT $a$ x; $b$ y; $a$", "SELECT 2"});
  CHECK(split_sql_script("SELECT $fn_1$;$fn_1$; SELECT 3") == Statements{"SELECT $fn_1$;$fn_1$", "SELECT 3"});
}

TEST_CASE("sql_script: $n parameters are not dollar quotes", "[sql_script]") {
  CHECK(split_sql_script("SELECT $1; SELECT $2;") == Statements{"SELECT $1", "SELECT $2"});
  CHECK(split_sql_script("SELECT $1 + $2; SELECT 3") == Statements{"SELECT $1 + $2", "SELECT 3"});
  CHECK(split_sql_script("SELECT 'a$'; SELECT 4") == Statements{"SELECT 'a$'", "SELECT 4"});
}

// PostgreSQL allows '$' inside identifiers (not as their first character), and a '$' that
// continues an identifier does not start a dollar quote. Here "x$y$z" is one table name, but the
// splitter takes "$y$" for an opening tag, finds no closing "$y$", and swallows the rest of the
// script into one statement.
TEST_CASE("sql_script: '$' inside an identifier does not start a dollar quote", "[sql_script]") {
  CHECK(split_sql_script("CREATE TABLE x$y$z (a INT); CREATE TABLE w (b INT);") ==
        Statements{"CREATE TABLE x$y$z (a INT)", "CREATE TABLE w (b INT)"});
}
