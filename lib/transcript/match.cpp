#include "transcript/match.hpp"

#include <regex>

namespace chatctl::transcript {
namespace {

using json = nlohmann::json;

std::string text(const json& j) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 200) s = s.substr(0, 197) + "...";
  return s;
}

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

void walk(const json& pattern, const json* actual, const std::string& path, std::vector<Mismatch>& out,
          Captures& captured) {
  if (pattern.is_string()) {
    const auto& p = pattern.get_ref<const std::string&>();
    if (!p.empty() && p[0] == '$' && p.rfind("${", 0) != 0) {
      if (!actual) {
        out.push_back({path, p, "(missing)"});
        return;
      }
      bool ok = true;
      if (p == "$any") {
      } else if (p == "$string") {
        ok = actual->is_string();
      } else if (p == "$number") {
        ok = actual->is_number();
      } else if (p == "$boolean") {
        ok = actual->is_boolean();
      } else if (p == "$object") {
        ok = actual->is_object();
      } else if (p == "$array") {
        ok = actual->is_array();
      } else if (p.rfind("$regex:", 0) == 0) {
        ok = actual->is_string() && std::regex_match(actual->get_ref<const std::string&>(), std::regex(p.substr(7)));
      } else if (p.rfind("$capture:", 0) == 0) {
        captured[p.substr(9)] = *actual;
      } else if (p.rfind("$$", 0) == 0) {
        ok = actual->is_string() && actual->get_ref<const std::string&>() == p.substr(1);
      }
      if (!ok) out.push_back({path, p, text(*actual)});
      return;
    }
  }
  if (!actual) {
    out.push_back({path, text(pattern), "(missing)"});
    return;
  }
  if (pattern.is_object()) {
    if (!actual->is_object()) {
      out.push_back({path, "an object", text(*actual)});
      return;
    }
    for (const auto& [k, v] : pattern.items()) {
      auto it = actual->find(k);
      walk(v, it == actual->end() ? nullptr : &*it, join(path, k), out, captured);
    }
    return;
  }
  if (pattern.is_array()) {
    if (!actual->is_array()) {
      out.push_back({path, "an array", text(*actual)});
      return;
    }
    if (actual->size() != pattern.size()) {
      out.push_back({path, std::to_string(pattern.size()) + " elements", std::to_string(actual->size()) + " elements: " + text(*actual)});
      return;
    }
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      walk(pattern[i], &(*actual)[i], path + "[" + std::to_string(i) + "]", out, captured);
    }
    return;
  }
  // Numbers compare by value (1 matches 1.0); everything else exactly.
  const bool same = (pattern.is_number() && actual->is_number()) ? pattern.get<double>() == actual->get<double>()
                                                                 : pattern == *actual;
  if (!same) out.push_back({path, text(pattern), text(*actual)});
}

}  // namespace

json substitute(const json& j, const Captures& captures) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s.find("${") == std::string::npos) return j;
    if (s.size() > 3 && s.rfind("${", 0) == 0 && s.back() == '}' && s.find('}') == s.size() - 1) {
      auto it = captures.find(s.substr(2, s.size() - 3));
      return it == captures.end() ? j : it->second;
    }
    std::string out;
    std::size_t pos = 0;
    for (std::size_t p = s.find("${"); p != std::string::npos; p = s.find("${", pos)) {
      const auto end = s.find('}', p);
      if (end == std::string::npos) break;
      out += s.substr(pos, p - pos);
      auto it = captures.find(s.substr(p + 2, end - p - 2));
      if (it == captures.end()) {
        out += s.substr(p, end + 1 - p);
      } else {
        out += it->second.is_string() ? it->second.get<std::string>() : it->second.dump();
      }
      pos = end + 1;
    }
    return out + s.substr(pos);
  }
  if (j.is_object()) {
    json o = json::object();
    for (const auto& [k, v] : j.items()) o[k] = substitute(v, captures);
    return o;
  }
  if (j.is_array()) {
    json a = json::array();
    for (const auto& v : j) a.push_back(substitute(v, captures));
    return a;
  }
  return j;
}

std::vector<Mismatch> match(const json& pattern, const json& actual, Captures& captures) {
  std::vector<Mismatch> out;
  Captures found;
  walk(pattern, &actual, "", out, found);
  if (out.empty()) {
    for (auto& [k, v] : found) captures[k] = std::move(v);
  }
  return out;
}

}  // namespace chatctl::transcript
