#pragma once

#include <string>
#include <string_view>

#include "store/store.hpp"

namespace chatctl::store {

// Where the data lives, parsed from the `database` setting.
//
//   /path/to/file.db, file.db, sqlite:PATH, sqlite:///abs/path, :memory:   -> SQLite
//   postgresql://[user[:password]@][host][:port][,...][/dbname][?param=value&...]
//   postgres://...                                                         -> PostgreSQL
struct DatabaseAddress {
  Backend backend{Backend::sqlite};
  std::string sqlite_path;  // for SQLite
  std::string conninfo;     // for PostgreSQL: libpq keyword/value form
};

// Throws Error(config) for an unknown scheme or a malformed PostgreSQL URI.
DatabaseAddress parse_database_address(std::string_view address);

// Translates a postgresql:// URI into libpq keyword/value form (host=... port=... dbname=...),
// percent-decoding every part and quoting values. SOCI 4.0.3 mangles URIs, so it only ever sees
// this form. Throws Error(config) when the URI is malformed.
std::string postgres_uri_to_conninfo(std::string_view uri);

}  // namespace chatctl::store
