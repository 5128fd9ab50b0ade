#include "store/sql_script.hpp"

#include <cctype>

#include "core/text.hpp"

namespace chatctl::store {

std::vector<std::string> split_sql_script(std::string_view script) {
  std::vector<std::string> out;
  std::string current;
  const auto flush = [&] {
    const auto t = core::trim(current);
    if (!t.empty()) out.emplace_back(t);
    current.clear();
  };
  std::size_t i = 0;
  const std::size_t n = script.size();
  while (i < n) {
    const char c = script[i];
    if (c == '-' && i + 1 < n && script[i + 1] == '-') {
      while (i < n && script[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && script[i + 1] == '*') {
      const auto end = script.find("*/", i + 2);
      i = end == std::string_view::npos ? n : end + 2;
      current += ' ';
      continue;
    }
    if (c == '\'' || c == '"') {
      std::size_t j = i + 1;
      while (j < n) {
        if (script[j] == c) {
          if (j + 1 < n && script[j + 1] == c) {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      current.append(script.substr(i, j + 1 - i));
      i = j + 1;
      continue;
    }
    const bool after_identifier =
        !current.empty() && (std::isalnum(static_cast<unsigned char>(current.back())) || current.back() == '_' ||
                             current.back() == '$');
    if (c == '$' && !after_identifier) {
      const auto close = script.find('$', i + 1);
      if (close != std::string_view::npos) {
        const std::string_view tag = script.substr(i, close + 1 - i);
        bool is_tag = true;
        for (const char t : tag.substr(1, tag.size() - 2)) {
          is_tag = is_tag && (std::isalnum(static_cast<unsigned char>(t)) || t == '_');
        }
        if (is_tag) {
          const auto end = script.find(tag, close + 1);
          const std::size_t stop = end == std::string_view::npos ? n : end + tag.size();
          current.append(script.substr(i, stop - i));
          i = stop;
          continue;
        }
      }
    }
    if (c == ';') {
      flush();
      ++i;
      continue;
    }
    current += c;
    ++i;
  }
  flush();
  return out;
}

}  // namespace chatctl::store
