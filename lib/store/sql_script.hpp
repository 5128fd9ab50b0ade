#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace chatctl::store {

// Splits a migration script into statements at top-level semicolons, skipping comments and
// respecting '...' and "..." quoting and PostgreSQL $tag$...$tag$ bodies. Empty statements are
// dropped. Drivers execute one statement per call, so migrations go through this.
std::vector<std::string> split_sql_script(std::string_view script);

}  // namespace chatctl::store
