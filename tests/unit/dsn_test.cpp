// Database addresses (lib/store/dsn.hpp): PostgreSQL URIs to libpq keyword/value form, and the
// `database` setting to a backend.
#include "store/dsn.hpp"

#include <catch2/catch.hpp>

#include "support/error_kind.hpp"
#include <functional>
#include <string>

#include "core/error.hpp"

using namespace chatctl;
using core::ErrorKind;
using store::parse_database_address;
using store::postgres_uri_to_conninfo;

namespace {

using test::error_of;

core::Error conninfo_error(const std::string& uri) {
  return error_of([&] { (void)postgres_uri_to_conninfo(uri); });
}

core::Error address_error(const std::string& address) {
  return error_of([&] { (void)parse_database_address(address); });
}

}  // namespace

TEST_CASE("dsn: user, password, host, port and dbname", "[dsn]") {
  CHECK(postgres_uri_to_conninfo("postgresql://") == "");
  CHECK(postgres_uri_to_conninfo("postgresql://localhost") == "host='localhost'");
  CHECK(postgres_uri_to_conninfo("postgresql://alice@localhost") == "user='alice' host='localhost'");
  CHECK(postgres_uri_to_conninfo("postgresql://alice:s3cret@localhost") ==
        "user='alice' password='s3cret' host='localhost'");
  CHECK(postgres_uri_to_conninfo("postgresql://db.example.com:5433") == "host='db.example.com' port='5433'");
  CHECK(postgres_uri_to_conninfo("postgresql://alice:s3cret@db.example.com:5433/chat") ==
        "user='alice' password='s3cret' host='db.example.com' port='5433' dbname='chat'");
  CHECK(postgres_uri_to_conninfo("postgresql:///chat") == "dbname='chat'");
  CHECK(postgres_uri_to_conninfo("postgresql://localhost/") == "host='localhost'");
}

TEST_CASE("dsn: postgres:// is an alias of postgresql://", "[dsn]") {
  CHECK(postgres_uri_to_conninfo("postgres://alice@h/db") == postgres_uri_to_conninfo("postgresql://alice@h/db"));
  CHECK(postgres_uri_to_conninfo("postgres://alice@h/db") == "user='alice' host='h' dbname='db'");
}

TEST_CASE("dsn: empty user and empty password", "[dsn]") {
  // No user but a password: only the password is given.
  CHECK(postgres_uri_to_conninfo("postgresql://:pw@h") == "password='pw' host='h'");
  // A user with an empty password keeps the (empty) password.
  CHECK(postgres_uri_to_conninfo("postgresql://alice:@h") == "user='alice' password='' host='h'");
}

TEST_CASE("dsn: IPv6 hosts in brackets", "[dsn]") {
  CHECK(postgres_uri_to_conninfo("postgresql://[::1]:5433/db") == "host='::1' port='5433' dbname='db'");
  CHECK(postgres_uri_to_conninfo("postgresql://[::1]/db") == "host='::1' dbname='db'");
  CHECK(postgres_uri_to_conninfo("postgresql://u@[2001:db8::7]:6543") == "user='u' host='2001:db8::7' port='6543'");
}

TEST_CASE("dsn: multiple hosts", "[dsn]") {
  CHECK(postgres_uri_to_conninfo("postgresql://h1:5432,h2:5433/db") == "host='h1,h2' port='5432,5433' dbname='db'");
  CHECK(postgres_uri_to_conninfo("postgresql://h1,h2,h3/db") == "host='h1,h2,h3' dbname='db'");
  // A host without a port keeps its place in the port list (empty: the default).
  CHECK(postgres_uri_to_conninfo("postgresql://h1,h2:5433") == "host='h1,h2' port=',5433'");
  CHECK(postgres_uri_to_conninfo("postgresql://[::1]:5432,h2:5433") == "host='::1,h2' port='5432,5433'");
}

TEST_CASE("dsn: percent-decoding of user, password, host and dbname", "[dsn]") {
  CHECK(postgres_uri_to_conninfo("postgresql://al%40ice:p%3Ass%2Fw%40rd@h/my%20db") ==
        "user='al@ice' password='p:ss/w@rd' host='h' dbname='my db'");
  CHECK(postgres_uri_to_conninfo("postgresql://%C3%BCser@h") == "user='\xC3\xBCser' host='h'");
  CHECK(postgres_uri_to_conninfo("postgresql://u:%7e%7E@h") == "user='u' password='~~' host='h'");  // either case
  // A Unix-domain socket directory as the host.
  CHECK(postgres_uri_to_conninfo("postgresql://%2Fvar%2Frun%2Fpostgresql/db") ==
        "host='/var/run/postgresql' dbname='db'");
}

TEST_CASE("dsn: malformed percent-escapes are config errors", "[dsn]") {
  for (const char* uri : {"postgresql://u%4@h", "postgresql://u%@h", "postgresql://h/db%", "postgresql://h/db%zz",
                          "postgresql://u:p%G1@h"}) {
    INFO(uri);
    CHECK(conninfo_error(uri).kind() == ErrorKind::config);
  }
}

TEST_CASE("dsn: query parameters are passed on", "[dsn]") {
  CHECK(postgres_uri_to_conninfo("postgresql://h/db?sslmode=require") == "host='h' dbname='db' sslmode='require'");
  CHECK(postgres_uri_to_conninfo("postgresql://h/db?sslmode=require&connect_timeout=10&application_name=chat%20ctl") ==
        "host='h' dbname='db' sslmode='require' connect_timeout='10' application_name='chat ctl'");
  CHECK(postgres_uri_to_conninfo("postgresql://h?options=-c%20search_path=x") == "host='h' options='-c search_path=x'");
  // Empty items between '&' are ignored.
  CHECK(postgres_uri_to_conninfo("postgresql://h/db?&sslmode=disable&&") == "host='h' dbname='db' sslmode='disable'");
  // An empty value is still a value.
  CHECK(postgres_uri_to_conninfo("postgresql://h?passfile=") == "host='h' passfile=''");
  // ssl=true is the JDBC spelling of sslmode=require.
  CHECK(postgres_uri_to_conninfo("postgresql://h/db?ssl=true") == "host='h' dbname='db' sslmode='require'");
}

TEST_CASE("dsn: query parameters override the authority and path", "[dsn]") {
  CHECK(postgres_uri_to_conninfo("postgresql://localhost:5432/db?host=/var/run/postgresql") ==
        "port='5432' dbname='db' host='/var/run/postgresql'");
  CHECK(postgres_uri_to_conninfo("postgresql:///db?host=%2Ftmp") == "dbname='db' host='/tmp'");
  CHECK(postgres_uri_to_conninfo("postgresql://alice:one@h/db?user=bob&password=two&dbname=other&port=6000") ==
        "host='h' user='bob' password='two' dbname='other' port='6000'");
  // The last of repeated parameters wins.
  CHECK(postgres_uri_to_conninfo("postgresql://h?sslmode=disable&sslmode=verify-full") ==
        "host='h' sslmode='verify-full'");
}

TEST_CASE("dsn: values are quoted with quote and backslash escaped", "[dsn]") {
  CHECK(postgres_uri_to_conninfo("postgresql://u:it's@h") == R"(user='u' password='it\'s' host='h')");
  CHECK(postgres_uri_to_conninfo("postgresql://u:a%27b%5Cc@h") == R"(user='u' password='a\'b\\c' host='h')");
  CHECK(postgres_uri_to_conninfo("postgresql://u:a%20b@h/my%20db") ==
        "user='u' password='a b' host='h' dbname='my db'");
  CHECK(postgres_uri_to_conninfo("postgresql://h?application_name=x%27%20y%3D1") ==
        R"(host='h' application_name='x\' y=1')");
  CHECK(postgres_uri_to_conninfo("postgresql://h/%5C") == R"(host='h' dbname='\\')");
}

TEST_CASE("dsn: bad ports are config errors", "[dsn]") {
  for (const char* uri :
       {"postgresql://h:abc/db", "postgresql://h:0/db", "postgresql://h:65536/db", "postgresql://h:-1/db",
        "postgresql://h:54x/db", "postgresql://h1:5432,h2:x/db", "postgresql://[::1]:port/db"}) {
    INFO(uri);
    const auto e = conninfo_error(uri);
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains("invalid port"));
  }
  CHECK(postgres_uri_to_conninfo("postgresql://h:1") == "host='h' port='1'");
  CHECK(postgres_uri_to_conninfo("postgresql://h:65535") == "host='h' port='65535'");
}

TEST_CASE("dsn: an unterminated [ is a config error", "[dsn]") {
  const auto e = conninfo_error("postgresql://[::1:5432/db");
  CHECK(e.kind() == ErrorKind::config);
  CHECK_THAT(e.what(), Catch::Contains("unterminated ["));
  CHECK(conninfo_error("postgresql://[::1]x/db").kind() == ErrorKind::config);
  CHECK(conninfo_error("postgresql://h1,[::2/db").kind() == ErrorKind::config);
}

TEST_CASE("dsn: a parameter without value is a config error", "[dsn]") {
  const auto e = conninfo_error("postgresql://h/db?sslmode");
  CHECK(e.kind() == ErrorKind::config);
  CHECK_THAT(e.what(), Catch::Contains("sslmode") && Catch::Contains("no value"));
  CHECK(conninfo_error("postgresql://h/db?sslmode=require&verbose").kind() == ErrorKind::config);
}

TEST_CASE("dsn: invalid parameter names are config errors", "[dsn]") {
  for (const char* uri : {"postgresql://h?=x", "postgresql://h?SSLMODE=require", "postgresql://h?a%20b=1",
                          "postgresql://h?ssl-mode=require", "postgresql://h?x'=1"}) {
    INFO(uri);
    CHECK(conninfo_error(uri).kind() == ErrorKind::config);
  }
}

TEST_CASE("dsn: a fragment is a config error", "[dsn]") {
  const auto e = conninfo_error("postgresql://h/db#section");
  CHECK(e.kind() == ErrorKind::config);
  CHECK_THAT(e.what(), Catch::Contains("fragment"));
  CHECK(conninfo_error("postgresql://h/db?sslmode=require#x").kind() == ErrorKind::config);
}

TEST_CASE("dsn: a wrong scheme is a config error", "[dsn]") {
  for (const char* uri :
       {"mysql://h/db", "postgresq://h/db", "http://h", "h/db", "", "POSTGRESQL://h/db", "postgresql:/h/db"}) {
    INFO(uri);
    CHECK(conninfo_error(uri).kind() == ErrorKind::config);
  }
}

TEST_CASE("dsn: error messages never show the password", "[dsn]") {
  for (const char* uri : {"postgresql://u:topsecret@h:99999/db", "postgresql://u:topsecret@h/db#frag",
                          "postgresql://u:topsecret@h/db?sslmode", "postgresql://u:topsecret@[::1/db",
                          "postgresql://u@h/db?password=topsecret&x"}) {
    INFO(uri);
    const auto e = conninfo_error(uri);
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains("malformed database address"));
    CHECK_THAT(e.what(), !Catch::Contains("topsecret"));
  }
}

TEST_CASE("dsn: a plain path is SQLite", "[dsn][address]") {
  const auto a = parse_database_address("/var/lib/chatctl/chat.db");
  CHECK(a.backend == store::Backend::sqlite);
  CHECK(a.sqlite_path == "/var/lib/chatctl/chat.db");
  CHECK(a.conninfo.empty());

  const auto rel = parse_database_address("data/chat.db");
  CHECK(rel.backend == store::Backend::sqlite);
  CHECK(rel.sqlite_path == "data/chat.db");

  CHECK(parse_database_address("chat.db").sqlite_path == "chat.db");
  CHECK(parse_database_address("./chat.db").sqlite_path == "./chat.db");
  // Surrounding whitespace is not part of the address.
  CHECK(parse_database_address("  chat.db\n").sqlite_path == "chat.db");
}

TEST_CASE("dsn: sqlite: prefixes", "[dsn][address]") {
  const auto a = parse_database_address("sqlite:chat.db");
  CHECK(a.backend == store::Backend::sqlite);
  CHECK(a.sqlite_path == "chat.db");

  const auto abs = parse_database_address("sqlite:///var/lib/chat.db");
  CHECK(abs.backend == store::Backend::sqlite);
  CHECK(abs.sqlite_path == "/var/lib/chat.db");

  CHECK(parse_database_address("sqlite:/abs/chat.db").sqlite_path == "/abs/chat.db");
  CHECK(parse_database_address("sqlite:dir/chat.db").sqlite_path == "dir/chat.db");
}

TEST_CASE("dsn: :memory: is an in-memory SQLite database", "[dsn][address]") {
  const auto a = parse_database_address(":memory:");
  CHECK(a.backend == store::Backend::sqlite);
  CHECK(a.sqlite_path == ":memory:");
  CHECK(parse_database_address("sqlite::memory:").sqlite_path == ":memory:");
}

TEST_CASE("dsn: postgresql:// and postgres:// addresses are PostgreSQL", "[dsn][address]") {
  const auto a = parse_database_address("postgresql://alice:pw@db:5433/chat");
  CHECK(a.backend == store::Backend::postgresql);
  CHECK(a.conninfo == "user='alice' password='pw' host='db' port='5433' dbname='chat'");
  CHECK(a.sqlite_path.empty());

  const auto alias = parse_database_address("postgres://alice@db/chat");
  CHECK(alias.backend == store::Backend::postgresql);
  CHECK(alias.conninfo == "user='alice' host='db' dbname='chat'");

  CHECK(parse_database_address(" postgresql://h/db ").conninfo == "host='h' dbname='db'");
  CHECK(address_error("postgresql://h:0/db").kind() == ErrorKind::config);
}

TEST_CASE("dsn: unknown schemes are config errors", "[dsn][address]") {
  for (const char* address : {"mysql://h/db", "http://example.com/chat.db", "file:///tmp/chat.db", "sqlite3://x.db"}) {
    INFO(address);
    const auto e = address_error(address);
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains("unsupported database address"));
  }
  // The password of an unsupported URI is not shown either.
  const auto e = address_error("mysql://root:hunter2@h/db");
  CHECK(e.kind() == ErrorKind::config);
  CHECK_THAT(e.what(), !Catch::Contains("hunter2"));
}

TEST_CASE("dsn: empty addresses are config errors", "[dsn][address]") {
  for (const char* address : {"", "   ", "\t\n", "sqlite:", "sqlite://"}) {
    INFO('"' << address << '"');
    CHECK(address_error(address).kind() == ErrorKind::config);
  }
}
