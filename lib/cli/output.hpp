#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace chatctl::cli {

using Record = nlohmann::ordered_json;

enum class OutputFormat { table, json, jsonl, yaml, name };
std::optional<OutputFormat> parse_output_format(std::string_view s);
inline constexpr const char* kOutputFormats[] = {"table", "json", "jsonl", "yaml", "name"};

// A table column: its header and the record key it shows.
struct Column {
  std::string header;
  std::string key;
};

struct PrintOptions {
  OutputFormat format{OutputFormat::table};
  bool no_headers{false};
  std::string name_key{"name"};  // the field -o name prints (a login, an id, ...)
};

// Prints records as the user asked: an aligned table of `columns`, a JSON array, JSON lines, a
// YAML sequence, or one `name` per line. Table cells show booleans as yes/no, nothing for null, and arrays of scalars joined with commas.
void print_list(std::ostream& out, const PrintOptions& options, const std::vector<Record>& records,
                const std::vector<Column>& columns);

// One record: a two-column KEY VALUE table, a JSON object, a YAML mapping, or its name.
void print_one(std::ostream& out, const PrintOptions& options, const Record& record);

// The error line for `message` in the chosen format: "chatctl: error: ..." or a JSON object.
std::string format_error(OutputFormat format, std::string_view message, int exit_code);

// `s` quoted for a POSIX shell, for commands suggested in messages: 'O'\''Brien'.
std::string shell_quote(std::string_view s);

// JSON to YAML text (block style), used for -o yaml.
std::string to_yaml(const nlohmann::ordered_json& value);

}  // namespace chatctl::cli
