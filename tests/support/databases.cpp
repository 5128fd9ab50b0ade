#include "support/databases.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>

#include "store/dsn.hpp"

namespace chatctl::test {
namespace {

std::string pg_admin_address() {
  const char* v = std::getenv("CHATCTL_TEST_PG");
  return v ? std::string(v) : std::string();
}

void pg_exec(const std::string& admin, const std::string& sql) {
  PGconn* conn = PQconnectdb(store::postgres_uri_to_conninfo(admin).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot reach the test PostgreSQL server: " + msg);
  }
  PGresult* res = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  const std::string msg = PQerrorMessage(conn);
  PQclear(res);
  PQfinish(conn);
  if (!ok) throw std::runtime_error(sql + ": " + msg);
}

// postgresql://u@h/admin?x=y -> postgresql://u@h/<name>?x=y
std::string with_dbname(const std::string& admin, const std::string& name) {
  const auto scheme = admin.find("://");
  const auto slash = admin.find('/', scheme + 3);
  const auto query = admin.find('?', scheme + 3);
  const std::string head = admin.substr(0, slash == std::string::npos ? query : slash);
  const std::string tail = query == std::string::npos ? "" : admin.substr(query);
  return head + "/" + name + tail;
}

std::string unique_name() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return "chatctl_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + std::to_string(rd() % 100000);
}

class SqliteDatabase final : public TestDatabase {
 public:
  SqliteDatabase() : address_(dir_.path() + "/test.db") {}
  const std::string& address() const override { return address_; }
  const std::string& backend() const override { return backend_; }

 private:
  TempDir dir_;
  std::string address_;
  std::string backend_{"sqlite"};
};

class PostgresDatabase final : public TestDatabase {
 public:
  PostgresDatabase() : admin_(pg_admin_address()), name_(unique_name()) {
    pg_exec(admin_, "CREATE DATABASE " + name_);
    address_ = with_dbname(admin_, name_);
  }
  ~PostgresDatabase() override {
    try {
      pg_exec(admin_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {  // a leftover test database is harmless
    }
  }
  const std::string& address() const override { return address_; }
  const std::string& backend() const override { return backend_; }

 private:
  std::string admin_;
  std::string name_;
  std::string address_;
  std::string backend_{"postgresql"};
};

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "chatctl-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> test_backends() {
  std::vector<std::string> out{"sqlite"};
  if (!pg_admin_address().empty()) {
    out.emplace_back("postgresql");
  } else if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {
    throw std::runtime_error("CI=true but CHATCTL_TEST_PG is not set: PostgreSQL tests must run in CI");
  }
  return out;
}

std::unique_ptr<TestDatabase> make_test_database(const std::string& backend) {
  if (backend == "postgresql") return std::make_unique<PostgresDatabase>();
  return std::make_unique<SqliteDatabase>();
}

}  // namespace chatctl::test
