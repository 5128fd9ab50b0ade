// Output formats (lib/cli/output.hpp): tables, JSON, JSON lines, YAML and names.
#include "cli/output.hpp"

#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/text.hpp"

using namespace chatctl;
using cli::Column;
using cli::OutputFormat;
using cli::PrintOptions;
using cli::Record;

namespace {

std::string list(OutputFormat format, const std::vector<Record>& records, const std::vector<Column>& columns = {},
                 bool no_headers = false) {
  std::ostringstream out;
  cli::print_list(out, PrintOptions{format, no_headers}, records, columns);
  return out.str();
}

std::string one(OutputFormat format, const Record& record, bool no_headers = false) {
  std::ostringstream out;
  cli::print_one(out, PrintOptions{format, no_headers}, record);
  return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The display column (in code points) at which `needle` starts in `line`.
std::size_t column_of(const std::string& line, const std::string& needle) {
  const auto pos = line.find(needle);
  REQUIRE(pos != std::string::npos);
  return core::utf8_length(line.substr(0, pos)).value();
}

const std::vector<Column> kColumns = {{"NAME", "name"}, {"VALID", "valid"}, {"COMMENT", "comment"}};

std::vector<Record> sample() {
  return {
      Record{{"name",
              "\xC3\x9Cnn\xC3\xAF"
              "c\xC3\xB6"
              "d\xC3\xA9"},
             {"valid", true},
             {"comment", "first"}},  // Ünnïcödé
      Record{{"name", "ab"}, {"valid", false}, {"comment", "second"}},
  };
}

}  // namespace

TEST_CASE("output: parse_output_format", "[output]") {
  CHECK(cli::parse_output_format("table") == OutputFormat::table);
  CHECK(cli::parse_output_format("json") == OutputFormat::json);
  CHECK(cli::parse_output_format("jsonl") == OutputFormat::jsonl);
  CHECK(cli::parse_output_format("yaml") == OutputFormat::yaml);
  CHECK(cli::parse_output_format("name") == OutputFormat::name);
  for (const char* s : {"", "JSON", "yml", "csv", " table"}) {
    INFO('"' << s << '"');
    CHECK_FALSE(cli::parse_output_format(s).has_value());
  }
  for (const char* s : cli::kOutputFormats) CHECK(cli::parse_output_format(s).has_value());
}

TEST_CASE("output: tables align multi-byte text by characters", "[output][table]") {
  const std::string text = list(OutputFormat::table, sample(), kColumns);
  // "Ünnïcödé" is 8 characters (12 bytes): the NAME column is 8 wide, plus 2 spaces.
  CHECK(text ==
        "NAME      VALID  COMMENT\n"
        "\xC3\x9Cnn\xC3\xAF"
        "c\xC3\xB6"
        "d\xC3\xA9  yes    first\n"
        "ab        no     second\n");
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == 3);
  CHECK(column_of(lines[0], "VALID") == column_of(lines[1], "yes"));
  CHECK(column_of(lines[1], "yes") == column_of(lines[2], "no"));
  CHECK(column_of(lines[0], "COMMENT") == column_of(lines[1], "first"));
  CHECK(column_of(lines[1], "first") == column_of(lines[2], "second"));
}

TEST_CASE("output: a header wider than its values sets the column width", "[output][table]") {
  const std::string text =
      list(OutputFormat::table, {Record{{"id", 7}, {"name", "x"}}}, {{"IDENTIFIER", "id"}, {"N", "name"}});
  CHECK(text == "IDENTIFIER  N\n7           x\n");
}

TEST_CASE("output: --no-headers leaves the header out of the table and its widths", "[output][table]") {
  const std::string text = list(OutputFormat::table, sample(), kColumns, true);
  CHECK(text ==
        "\xC3\x9Cnn\xC3\xAF"
        "c\xC3\xB6"
        "d\xC3\xA9  yes  first\n"
        "ab        no   second\n");
  CHECK(text.find("NAME") == std::string::npos);
  CHECK(list(OutputFormat::table, {Record{{"name", "a"}, {"valid", true}}}, {{"NAME", "name"}, {"VALID", "valid"}},
             true) == "a  yes\n");
}

TEST_CASE("output: an empty table", "[output][table]") {
  CHECK(list(OutputFormat::table, {}, kColumns) == "NAME  VALID  COMMENT\n");
  CHECK(list(OutputFormat::table, {}, kColumns, true) == "");
}

TEST_CASE("output: table cells", "[output][table]") {
  const std::vector<Column> columns = {{"A", "a"}, {"B", "b"}};
  SECTION("booleans are yes/no") {
    CHECK(list(OutputFormat::table, {Record{{"a", true}, {"b", false}}}, columns, true) == "yes  no\n");
  }
  SECTION("null and missing values are empty") {
    const std::string text =
        list(OutputFormat::table, {Record{{"a", nullptr}}, Record{{"a", "x"}, {"b", "y"}}}, columns);
    const auto lines = lines_of(text);
    REQUIRE(lines.size() == 3);
    CHECK(core::trim(lines[1]).empty());
    CHECK(lines[2] == "x  y");
    CHECK(text.find("null") == std::string::npos);
  }
  SECTION("numbers") {
    CHECK(list(OutputFormat::table, {Record{{"a", 42}, {"b", -1.5}}}, columns, true) == "42  -1.5\n");
  }
  SECTION("newlines and tabs in strings do not break rows") {
    const std::string text =
        list(OutputFormat::table, {Record{{"a", "two\nlines"}, {"b", "tab\there\r"}}}, columns, true);
    CHECK(text == "two lines  tab here \n");
  }
  SECTION("arrays of scalars are joined with commas; other nested values are shown as JSON") {
    CHECK(list(OutputFormat::table, {Record{{"a", {1, 2}}, {"b", {{"k", "v"}}}}}, columns, true) ==
          "1,2  {\"k\":\"v\"}\n");
    CHECK(list(OutputFormat::table, {Record{{"a", {{1}, 2}}, {"b", "x"}}}, columns, true) == "[[1],2]  x\n");
  }
}

// Table widths count code points, but East Asian wide characters take two terminal columns, so a
// table with CJK text is not aligned on a terminal.
TEST_CASE("output: json is an array of the records", "[output][json]") {
  const auto records = sample();
  const std::string text = list(OutputFormat::json, records, kColumns);
  REQUIRE(text.size() > 1);
  CHECK(text.back() == '\n');
  const auto parsed = Record::parse(text);
  REQUIRE(parsed.is_array());
  REQUIRE(parsed.size() == 2);
  CHECK(parsed[0] == records[0]);
  CHECK(parsed[1] == records[1]);
  // Keys keep their order and booleans stay booleans (no yes/no outside tables).
  CHECK(parsed[0].begin().key() == "name");
  CHECK(parsed[1]["valid"].is_boolean());
  // Pretty-printed.
  CHECK(lines_of(text).size() > 3);
  CHECK(list(OutputFormat::json, {}) == "[]\n");
}

TEST_CASE("output: jsonl is one compact object per line", "[output][json]") {
  const auto records = sample();
  const std::string text = list(OutputFormat::jsonl, records, kColumns);
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == 2);
  CHECK(Record::parse(lines[0]) == records[0]);
  CHECK(Record::parse(lines[1]) == records[1]);
  CHECK(lines[1] == R"({"name":"ab","valid":false,"comment":"second"})");
  CHECK(list(OutputFormat::jsonl, {}) == "");
}

TEST_CASE("output: yaml is a sequence of mappings", "[output][yaml]") {
  const std::string text = list(OutputFormat::yaml, sample(), kColumns);
  const YAML::Node node = YAML::Load(text);
  REQUIRE(node.IsSequence());
  REQUIRE(node.size() == 2);
  CHECK(node[0]["name"].as<std::string>() ==
        "\xC3\x9Cnn\xC3\xAF"
        "c\xC3\xB6"
        "d\xC3\xA9");
  CHECK(node[0]["valid"].as<bool>());
  CHECK(node[1]["name"].as<std::string>() == "ab");
  CHECK_FALSE(node[1]["valid"].as<bool>());
  CHECK(node[1]["comment"].as<std::string>() == "second");

  const std::string empty = list(OutputFormat::yaml, {});
  CHECK(empty == "[]\n");
  const YAML::Node empty_node = YAML::Load(empty);
  CHECK(empty_node.IsSequence());
  CHECK(empty_node.size() == 0);
}

TEST_CASE("output: name prints one name per line", "[output]") {
  CHECK(list(OutputFormat::name, sample(), kColumns) ==
        "\xC3\x9Cnn\xC3\xAF"
        "c\xC3\xB6"
        "d\xC3\xA9\nab\n");
  CHECK(list(OutputFormat::name, {Record{{"id", 1}}, Record{{"name", "x"}}}) == "\nx\n");
  CHECK(list(OutputFormat::name, {}) == "");
}

TEST_CASE("output: print_one as a KEY VALUE table", "[output][table]") {
  const Record r{{"id", 12}, {"name", "Sales"}, {"customer_users", true}, {"public_users", false}, {"comment", "x y"}};
  CHECK(one(OutputFormat::table, r) ==
        "KEY             VALUE\n"
        "id              12\n"
        "name            Sales\n"
        "customer_users  yes\n"
        "public_users    no\n"
        "comment         x y\n");
  CHECK(one(OutputFormat::table, r, true) ==
        "id              12\n"
        "name            Sales\n"
        "customer_users  yes\n"
        "public_users    no\n"
        "comment         x y\n");
  // Keys shorter than the header: the header sets the width.
  CHECK(one(OutputFormat::table, Record{{"a", "\xC3\xBC"}}) == "KEY  VALUE\na    \xC3\xBC\n");
  // A null value is shown as nothing.
  const auto lines = lines_of(one(OutputFormat::table, Record{{"comment", nullptr}}));
  REQUIRE(lines.size() == 2);
  CHECK(core::trim(lines[1]) == "comment");
}

TEST_CASE("output: print_one in the other formats", "[output]") {
  const Record r{{"id", 12}, {"name", "Sales"}, {"valid", true}, {"comment", nullptr}};
  SECTION("json") {
    const std::string text = one(OutputFormat::json, r);
    CHECK(text.back() == '\n');
    CHECK(Record::parse(text) == r);
    CHECK(lines_of(text).size() > 1);
  }
  SECTION("jsonl") {
    CHECK(one(OutputFormat::jsonl, r) == "{\"id\":12,\"name\":\"Sales\",\"valid\":true,\"comment\":null}\n");
  }
  SECTION("yaml") {
    const YAML::Node node = YAML::Load(one(OutputFormat::yaml, r));
    REQUIRE(node.IsMap());
    CHECK(node["id"].as<int>() == 12);
    CHECK(node["name"].as<std::string>() == "Sales");
    CHECK(node["valid"].as<bool>());
    CHECK(node["comment"].IsNull());
  }
  SECTION("name") {
    CHECK(one(OutputFormat::name, r) == "Sales\n");
    CHECK(one(OutputFormat::name, Record{{"id", 1}}) == "\n");
  }
}

TEST_CASE("output: format_error", "[output][error]") {
  SECTION("table and other text formats") {
    for (const auto f : {OutputFormat::table, OutputFormat::yaml, OutputFormat::name}) {
      CHECK(cli::format_error(f, "channel \"x\" not found", 1) == "chatctl: error: channel \"x\" not found");
    }
  }
  SECTION("json and jsonl") {
    for (const auto f : {OutputFormat::json, OutputFormat::jsonl}) {
      const std::string text = cli::format_error(f, "bad \"value\"\n", 78);
      CHECK(text.find('\n') == std::string::npos);  // one line
      const auto j = Record::parse(text);
      CHECK(j == Record{{"error", {{"message", "bad \"value\"\n"}, {"exit_code", 78}}}});
      CHECK(j["error"]["exit_code"].get<int>() == 78);
    }
  }
  SECTION("invalid UTF-8 in a json error message") {
    std::string text;
    CHECK_NOTHROW(text = cli::format_error(OutputFormat::json, "bad \xFF byte", 65));
    CHECK(Record::parse(text)["error"]["message"] == "bad \xEF\xBF\xBD byte");
  }
}

TEST_CASE("output: to_yaml round-trips a nested object through yaml-cpp", "[output][yaml]") {
  const Record value = {
      {"name", "Sales"},
      {"count", 3},
      {"negative", -42},
      {"ratio", 0.25},
      {"enabled", true},
      {"disabled", false},
      {"missing", nullptr},
      {"unicode", "\xC3\xBC\xE2\x82\xAC\xF0\x9F\x98\x80"},
      {"list", {1, "two", {{"three", 3}}, Record::array(), nullptr}},
      {"nested", {{"inner", {{"deep", "value"}, {"flags", {true, false}}}}}},
      {"empty_object", Record::object()},
      {"empty_list", Record::array()},
      // Strings that would be something else if written plainly.
      {"looks_bool", "yes"},
      {"looks_true", "true"},
      {"looks_int", "123"},
      {"looks_null", "null"},
      {"tilde", "~"},
      {"empty", ""},
      {"colon", "a: b"},
      {"hash", "# not a comment"},
      {"dash", "- item"},
      {"quotes", "it's \"quoted\""},
      {"multiline", "line one\nline two"},
      {"spaces", "  padded  "},
  };
  const std::string text = cli::to_yaml(value);
  INFO(text);
  CHECK(text.back() == '\n');
  const YAML::Node n = YAML::Load(text);
  REQUIRE(n.IsMap());
  CHECK(n.size() == value.size());

  CHECK(n["name"].as<std::string>() == "Sales");
  CHECK(n["count"].as<int>() == 3);
  CHECK(n["negative"].as<int>() == -42);
  CHECK(n["ratio"].as<double>() == 0.25);
  CHECK(n["enabled"].as<bool>());
  CHECK_FALSE(n["disabled"].as<bool>());
  CHECK(n["missing"].IsNull());
  CHECK(n["unicode"].as<std::string>() == "\xC3\xBC\xE2\x82\xAC\xF0\x9F\x98\x80");

  REQUIRE(n["list"].IsSequence());
  REQUIRE(n["list"].size() == 5);
  CHECK(n["list"][0].as<int>() == 1);
  CHECK(n["list"][1].as<std::string>() == "two");
  CHECK(n["list"][2]["three"].as<int>() == 3);
  CHECK(n["list"][3].IsSequence());
  CHECK(n["list"][3].size() == 0);
  CHECK(n["list"][4].IsNull());

  CHECK(n["nested"]["inner"]["deep"].as<std::string>() == "value");
  CHECK(n["nested"]["inner"]["flags"][0].as<bool>());
  CHECK_FALSE(n["nested"]["inner"]["flags"][1].as<bool>());
  CHECK(n["empty_object"].IsMap());
  CHECK(n["empty_object"].size() == 0);
  CHECK(n["empty_list"].IsSequence());
  CHECK(n["empty_list"].size() == 0);

  // Strings are quoted (tag "!"), so a YAML reader does not take them for booleans, numbers or null.
  for (const char* key : {"name", "looks_bool", "looks_true", "looks_int", "looks_null", "tilde", "empty", "colon",
                          "hash", "dash", "quotes", "multiline", "spaces"}) {
    INFO(key);
    REQUIRE(n[key].IsScalar());
    CHECK(n[key].Tag() == "!");
    CHECK(n[key].as<std::string>() == value[key].get<std::string>());
  }
  // Numbers and booleans are plain.
  CHECK(n["count"].Tag() == "?");
  CHECK(n["enabled"].Tag() == "?");
}

TEST_CASE("output: invalid UTF-8 in a string does not throw in json output", "[output][json]") {
  const std::vector<Record> records = {Record{{"name",
                                               "bad\xFF"
                                               "byte"},
                                              {"comment", "trunc\xE2\x82"}}};
  SECTION("json list") {
    std::string text;
    CHECK_NOTHROW(text = list(OutputFormat::json, records));
    const auto parsed = Record::parse(text);  // the output itself is valid JSON
    CHECK(parsed[0]["name"] ==
          "bad\xEF\xBF\xBD"
          "byte");
    CHECK(core::utf8_length(text).has_value());
  }
  SECTION("jsonl list") {
    std::string text;
    CHECK_NOTHROW(text = list(OutputFormat::jsonl, records));
    CHECK(Record::parse(lines_of(text).at(0))["name"] ==
          "bad\xEF\xBF\xBD"
          "byte");
  }
  SECTION("json object") {
    std::string text;
    CHECK_NOTHROW(text = one(OutputFormat::json, records[0]));
    CHECK(core::utf8_length(text).has_value());
  }
  SECTION("nested inside arrays") {
    std::string text;
    CHECK_NOTHROW(text = one(OutputFormat::jsonl, Record{{"tags", {"ok", "bad\xFF"}}}));
    CHECK(Record::parse(text)["tags"][1] == "bad\xEF\xBF\xBD");
  }
  SECTION("tables and yaml do not throw on top-level strings either") {
    CHECK_NOTHROW(list(OutputFormat::table, records, {{"NAME", "name"}}));
    CHECK_NOTHROW(list(OutputFormat::yaml, records));
  }
}

// Table cells show nested values with nlohmann's dump() and the strict error handler, so invalid
// UTF-8 inside an array or object makes print_one/print_list throw nlohmann::json::type_error
// (316) in table mode, while every JSON path replaces it (safe_dump).
TEST_CASE("output: invalid UTF-8 inside a nested value does not throw in table output", "[output][table]") {
  const Record r{{"name", "x"}, {"changes", {{{"field", "comment"}, {"before", "a\xFF"}, {"after", "b"}}}}};
  CHECK_NOTHROW(one(OutputFormat::table, r));
  CHECK_NOTHROW(list(OutputFormat::table, {r}, {{"NAME", "name"}, {"CHANGES", "changes"}}));
}
