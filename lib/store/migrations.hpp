#pragma once

#include <string_view>
#include <vector>

namespace chatctl::store {

// A schema migration as shipped in schemas/sql/<backend>/NNNN_name.sql, compiled into the binary.
struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// Generated from schemas/sql (cmake/EmbedMigrations.cmake), ordered by version.
const std::vector<Migration>& sqlite_migrations();
const std::vector<Migration>& postgresql_migrations();

}  // namespace chatctl::store
