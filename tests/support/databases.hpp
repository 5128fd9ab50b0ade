#pragma once

// Fresh databases for tests, on every backend available: a temporary SQLite file always, and a
// new PostgreSQL database when CHATCTL_TEST_PG names a server (an address of a database on it
// where the test user may CREATE DATABASE). In CI (CI=true) a missing CHATCTL_TEST_PG is a
// failure, never a silent skip.

#include <memory>
#include <string>
#include <vector>

namespace chatctl::test {

class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  // The address to give chatctl (--db / the `database` setting).
  virtual const std::string& address() const = 0;
  virtual const std::string& backend() const = 0;
};

// "sqlite", plus "postgresql" when a server is configured.
std::vector<std::string> test_backends();
std::unique_ptr<TestDatabase> make_test_database(const std::string& backend);

// A fresh temporary folder, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace chatctl::test
