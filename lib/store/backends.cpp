#include "store/backends.hpp"

#include <libpq-fe.h>
#include <soci/version.h>
#include <sqlite3.h>

namespace chatctl::store {

std::vector<BackendInfo> compiled_backends() {
  const int pq = PQlibVersion();
  return {
      {"sqlite", std::string("SQLite ") + sqlite3_libversion()},
      {"postgresql", "libpq " + std::to_string(pq / 10000) + "." + std::to_string(pq % 10000)},
  };
}

}  // namespace chatctl::store
