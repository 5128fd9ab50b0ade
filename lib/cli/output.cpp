#include "cli/output.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/text.hpp"

namespace chatctl::cli {
namespace {

std::string cell(const nlohmann::ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_array() && std::none_of(v.begin(), v.end(), [](const auto& e) { return e.is_structured(); })) {
    std::string joined;
    for (const auto& e : v) joined += (joined.empty() ? "" : ",") + cell(e);
    return joined;
  }
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_string()) {
    // One line per row: tabs and newlines in values would break the table.
    // One line per row, and no terminal control sequences from stored text: line breaks and tabs
    // become spaces, other control characters are shown escaped.
    std::string s;
    for (const char ch : v.get<std::string>()) {
      const auto c = static_cast<unsigned char>(ch);
      if (ch == '\n' || ch == '\r' || ch == '\t') {
        s += ' ';
      } else if (c < 0x20 || c == 0x7F) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        s += buf;
      } else {
        s += ch;
      }
    }
    return s;
  }
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Invalid UTF-8 never reaches JSON output unescaped: it is replaced rather than thrown on.
std::string safe_dump(const nlohmann::ordered_json& v, int indent) {
  return v.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::size_t width(const std::string& s) { return core::utf8_length(s).value_or(s.size()); }

void emit(YAML::Emitter& e, const nlohmann::ordered_json& v) {
  if (v.is_object()) {
    e << YAML::BeginMap;
    for (auto it = v.begin(); it != v.end(); ++it) {
      e << YAML::Key << it.key() << YAML::Value;
      emit(e, it.value());
    }
    e << YAML::EndMap;
  } else if (v.is_array()) {
    e << YAML::BeginSeq;
    for (const auto& item : v) emit(e, item);
    e << YAML::EndSeq;
  } else if (v.is_null()) {
    e << YAML::Null;
  } else if (v.is_boolean()) {
    e << v.get<bool>();
  } else if (v.is_number_integer()) {
    e << v.get<long long>();
  } else if (v.is_number()) {
    e << v.get<double>();
  } else {
    e << YAML::DoubleQuoted << v.get<std::string>();
  }
}

void print_table(std::ostream& out, bool no_headers, const std::vector<std::vector<std::string>>& rows,
                 const std::vector<std::string>& headers) {
  std::vector<std::size_t> widths(headers.size(), 0);
  if (!no_headers) {
    for (std::size_t i = 0; i < headers.size(); ++i) widths[i] = width(headers[i]);
  }
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
  }
  const auto line = [&](const std::vector<std::string>& row) {
    std::string text;
    for (std::size_t i = 0; i < row.size(); ++i) {
      text += row[i];
      if (i + 1 < row.size()) text += std::string(widths[i] - width(row[i]) + 2, ' ');
    }
    out << text << '\n';
  };
  if (!no_headers) line(headers);
  for (const auto& row : rows) line(row);
}

}  // namespace

std::optional<OutputFormat> parse_output_format(std::string_view s) {
  if (s == "table") return OutputFormat::table;
  if (s == "json") return OutputFormat::json;
  if (s == "jsonl") return OutputFormat::jsonl;
  if (s == "yaml") return OutputFormat::yaml;
  if (s == "name") return OutputFormat::name;
  return std::nullopt;
}

std::string shell_quote(std::string_view s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/' || c == ':';
  });
  if (plain) return std::string(s);
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string to_yaml(const nlohmann::ordered_json& value) {
  YAML::Emitter e;
  emit(e, value);
  return std::string(e.c_str()) + "\n";
}

void print_list(std::ostream& out, const PrintOptions& options, const std::vector<Record>& records,
                const std::vector<Column>& columns) {
  switch (options.format) {
    case OutputFormat::json: {
      nlohmann::ordered_json array = nlohmann::ordered_json::array();
      for (const auto& r : records) array.push_back(r);
      out << safe_dump(array, 2) << '\n';
      return;
    }
    case OutputFormat::jsonl:
      for (const auto& r : records) out << safe_dump(r, -1) << '\n';
      return;
    case OutputFormat::yaml:
      if (records.empty()) {
        out << "[]\n";
      } else {
        out << to_yaml(nlohmann::ordered_json(records));
      }
      return;
    case OutputFormat::name:
      for (const auto& r : records) out << cell(r.value(options.name_key, nlohmann::ordered_json())) << '\n';
      return;
    case OutputFormat::table: {
      std::vector<std::string> headers;
      for (const auto& c : columns) headers.push_back(c.header);
      std::vector<std::vector<std::string>> rows;
      for (const auto& r : records) {
        std::vector<std::string> row;
        for (const auto& c : columns) row.push_back(cell(r.value(c.key, nlohmann::ordered_json())));
        rows.push_back(std::move(row));
      }
      print_table(out, options.no_headers, rows, headers);
      return;
    }
  }
}

void print_one(std::ostream& out, const PrintOptions& options, const Record& record) {
  switch (options.format) {
    case OutputFormat::json: out << safe_dump(record, 2) << '\n'; return;
    case OutputFormat::jsonl: out << safe_dump(record, -1) << '\n'; return;
    case OutputFormat::yaml: out << to_yaml(record); return;
    case OutputFormat::name: out << cell(record.value(options.name_key, nlohmann::ordered_json())) << '\n'; return;
    case OutputFormat::table: {
      std::vector<std::vector<std::string>> rows;
      for (auto it = record.begin(); it != record.end(); ++it) rows.push_back({it.key(), cell(it.value())});
      print_table(out, options.no_headers, rows, {"KEY", "VALUE"});
      return;
    }
  }
}

std::string format_error(OutputFormat format, std::string_view message, int exit_code) {
  if (format == OutputFormat::json || format == OutputFormat::jsonl) {
    const nlohmann::ordered_json j = {{"error", {{"message", std::string(message)}, {"exit_code", exit_code}}}};
    return safe_dump(j, -1);
  }
  return "chatctl: error: " + std::string(message);
}

}  // namespace chatctl::cli
