#include <sqlite3.h>

#include <filesystem>
#include <mutex>

#include "core/error.hpp"
#include "core/text.hpp"
#include "store/dsn.hpp"
#include "store/soci_store.hpp"

namespace chatctl::store {
namespace {

// SOCI's sqlite3 backend reads "key=value" pairs; a quoted db= value keeps spaces in paths intact.
std::string sqlite_connect_string(const std::string& path) {
  if (path.find('"') != std::string::npos) {
    throw core::Error(core::ErrorKind::config, "SQLite database paths may not contain a double quote");
  }
  return "db=\"" + path + "\"";
}

}  // namespace

std::unique_ptr<Store> open_store(const OpenOptions& options) {
  // SQLite's memory statistics take a global mutex on every allocation, which chatd's threads
  // then contend for; chatctl reads none of them. And a Store (so its connection) is used by one
  // thread at a time, so connections need no mutex of their own (multi-thread mode). Only
  // possible before SQLite initialises.
  static std::once_flag sqlite_configured;
  std::call_once(sqlite_configured, [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
  });
  const DatabaseAddress addr = parse_database_address(options.address);
  if (addr.backend == Backend::postgresql) {
    std::string conninfo = addr.conninfo;
    // Never hang on an unreachable host unless the user chose a timeout.
    if (conninfo.find("connect_timeout=") == std::string::npos) conninfo += " connect_timeout='10'";
    if (conninfo.find("application_name=") == std::string::npos) conninfo += " application_name='chatctl'";
    return std::make_unique<SociStore>(Backend::postgresql, conninfo, core::redact_dsn(options.address),
                                       options.busy_timeout_ms);
  }
  const std::filesystem::path path(addr.sqlite_path);
  if (addr.sqlite_path != ":memory:") {
    std::error_code ec;
    const auto parent = path.parent_path();
    if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
      if (!options.create_parent) {
        throw core::Error(core::ErrorKind::unavailable,
                          "cannot open database " + addr.sqlite_path + ": folder " + parent.string() + " does not exist");
      }
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        throw core::Error(core::ErrorKind::cant_create,
                          "cannot create folder " + parent.string() + " for the database: " + ec.message());
      }
    }
    if (std::filesystem::is_directory(path, ec)) {
      throw core::Error(core::ErrorKind::unavailable, "cannot open database " + addr.sqlite_path + ": it is a folder");
    }
  }
  return std::make_unique<SociStore>(Backend::sqlite, sqlite_connect_string(addr.sqlite_path), addr.sqlite_path,
                                     options.busy_timeout_ms);
}

}  // namespace chatctl::store
