#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace chatctl::transcript {

using Captures = std::map<std::string, nlohmann::json>;

// Replaces ${name} in every string of `j` with captured values (see fixture.hpp). Names not in
// `captures` stay as they are.
nlohmann::json substitute(const nlohmann::json& j, const Captures& captures);

// Where `actual` differs from `pattern`: a path (payload.event.text) and what was expected and
// found, as JSON text.
struct Mismatch {
  std::string path;
  std::string expected;
  std::string actual;
};

// Matches `actual` against the pattern rules of fixture.hpp. On a match, returns no mismatches
// and adds the pattern's captures to `captures`; otherwise `captures` is unchanged.
std::vector<Mismatch> match(const nlohmann::json& pattern, const nlohmann::json& actual, Captures& captures);

}  // namespace chatctl::transcript
