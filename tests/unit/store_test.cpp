// The Store contract, run against every available backend (SQLite always, PostgreSQL when
// CHATCTL_TEST_PG is set; required in CI).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <sstream>

#include "core/error.hpp"
#include "core/text.hpp"
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "store/dsn.hpp"
#include "store/migrations.hpp"
#include "store/soci_store.hpp"
#include "store/sql_script.hpp"
#include "support/databases.hpp"
#include "support/error_kind.hpp"

using namespace chatctl;
using core::ErrorKind;
using test::kind_of;

namespace {

std::unique_ptr<store::Store> open(const test::TestDatabase& db, std::int64_t busy_ms = 5000) {
  store::OpenOptions o;
  o.address = db.address();
  o.busy_timeout_ms = busy_ms;
  return store::open_store(o);
}

model::Channel channel(const std::string& name, bool customer = true, bool pub = false,
                       model::Validity v = model::Validity::valid) {
  model::Channel c;
  c.name = name;
  c.group = "users";
  c.customer_users = customer;
  c.public_users = pub;
  c.validity = v;
  c.create_time = c.change_time = 1'700'000'000'000'000;
  c.create_by = c.change_by = "test";
  return c;
}

}  // namespace

TEST_CASE("migrations apply once and report their state", "[store]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  auto db = test::make_test_database(backend);
  auto s = open(*db);

  auto before = s->migration_status();
  REQUIRE_FALSE(before.empty());
  for (const auto& m : before) CHECK_FALSE(m.applied_at.has_value());

  CHECK(s->migrate() == static_cast<int>(before.size()));
  CHECK(s->migrate() == 0);
  for (const auto& m : s->migration_status()) {
    CHECK(m.applied_at.has_value());
    CHECK(m.known);
  }
}

TEST_CASE("a schema newer than the binary is refused", "[store]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  auto db = test::make_test_database(backend);
  auto s = open(*db);
  s->migrate();
  // Use SQL through a second session: schema_migrations is plain.
  {
    soci::session sql;
    if (backend == "sqlite") {
      sql.open(soci::sqlite3, "db=" + db->address());
    } else {
      sql.open(soci::postgresql, store::parse_database_address(db->address()).conninfo);
    }
    sql << "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)";
  }
  CHECK(kind_of([&] { s->migrate(); }) == ErrorKind::unavailable);
  const auto status = s->migration_status();
  CHECK_FALSE(status.back().known);
  CHECK(status.back().version == 9999);
}

TEST_CASE("SQLite: the CHECK IN lists become ORs in place, rows kept, checks still enforced", "[store]") {
  auto db = test::make_test_database("sqlite");
  soci::session sql(soci::sqlite3, "db=" + db->address());
  // A database as the previous release left it: every migration before 0008 applied, and a row.
  sql << "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)";
  for (const auto& m : store::sqlite_migrations()) {
    if (m.version >= 8) break;
    for (const auto& statement : store::split_sql_script(m.sql)) sql << statement;
    sql << "INSERT INTO schema_migrations (version, name, applied_at) VALUES (" + std::to_string(m.version) +
               ", 'old', 0)";
  }
  sql << "INSERT INTO chat_channel (name, group_name, valid_id, create_time, create_by, change_time, change_by) "
         "VALUES ('kept', 'users', 2, 1, 'test', 1, 'test')";
  const auto definitions = [&] {
    std::map<std::string, std::string> out;
    std::string name;
    std::string text;
    soci::statement st = (sql.prepare << "SELECT name, sql FROM sqlite_master WHERE type = 'table'", soci::into(name),
                          soci::into(text));
    st.execute();
    while (st.fetch()) out[name] = text;
    return out;
  };
  const auto schema_version = [&] {
    int v = 0;
    sql << "PRAGMA schema_version", soci::into(v);
    return v;
  };
  const auto ephemeral_tables = [&](const std::string& statement) {
    // What SQLite builds for a statement: each temporary B-tree is an OpenEphemeral.
    int addr = 0;
    std::string opcode;
    int n = 0;
    soci::statement st = (sql.prepare << "EXPLAIN " + statement, soci::into(addr), soci::into(opcode));
    st.execute();
    while (st.fetch()) n += opcode == "OpenEphemeral" ? 1 : 0;
    return n;
  };
  const std::string participant_insert =
      "INSERT INTO chat_participant (chat_id, chatter_id, chatter_name, chatter_type, chatter_active, monitoring, "
      "permission_level, create_time) VALUES (1, 'a', 'A', 'User', 1, 0, 'Owner', 1)";

  // What 0008 must leave: every `x IN (a, b, c...)` of three values or more as `x = a OR x = b ...`,
  // and nothing else changed.
  const auto before = definitions();
  std::map<std::string, std::string> expected;
  int lists = 0;
  const std::regex in_list(R"((\w+) IN \(([^)]*)\))");
  for (const auto& [table, text] : before) {
    std::string out;
    auto from = text.cbegin();
    for (std::sregex_iterator it(text.begin(), text.end(), in_list), end; it != end; ++it) {
      const std::string column = (*it)[1];
      std::vector<std::string> values;
      std::stringstream items((*it)[2]);
      for (std::string v; std::getline(items, v, ',');) values.push_back(std::string(core::trim(v)));
      if (values.size() < 3) continue;
      ++lists;
      out.append(from, (*it)[0].first);
      for (std::size_t i = 0; i < values.size(); ++i) out += (i ? " OR " : "") + column + " = " + values[i];
      from = (*it)[0].second;
    }
    out.append(from, text.cend());
    expected[table] = out;
  }
  REQUIRE(lists == 12);
  CHECK(ephemeral_tables(participant_insert) == 4);
  const int version = schema_version();

  auto s = open(*db);
  CHECK(s->migrate() == 1);
  CHECK(definitions() == expected);
  CHECK(schema_version() == version + 1);
  // The session opened before the migration compiles against the new definitions.
  CHECK(ephemeral_tables(participant_insert) == 0);
  std::string integrity;
  sql << "PRAGMA integrity_check", soci::into(integrity);
  CHECK(integrity == "ok");
  int valid = 0;
  sql << "SELECT valid_id FROM chat_channel WHERE name = 'kept'", soci::into(valid);
  CHECK(valid == 2);
  CHECK_THROWS_WITH(sql << "UPDATE chat_channel SET valid_id = 4", Catch::Contains("CHECK constraint failed"));
  CHECK_THROWS_WITH(sql << "UPDATE chat_channel SET valid_id = 0", Catch::Contains("CHECK constraint failed"));
  sql << "UPDATE chat_channel SET valid_id = 3";
  CHECK(s->find_channel(1)->validity == model::Validity::invalid_temporarily);
}

TEST_CASE("channels round-trip and filter", "[store]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  auto db = test::make_test_database(backend);
  auto s = open(*db);
  s->migrate();

  store::WriteTransaction tx(*s);
  const auto a = s->insert_channel(channel("Äpfel & Birnen", true, false));
  const auto b = s->insert_channel(channel("Public", false, true));
  const auto c = s->insert_channel(channel("Old", true, true, model::Validity::invalid_temporarily));
  tx.commit();
  CHECK(a < b);
  CHECK(b < c);

  const auto got = s->find_channel(a);
  REQUIRE(got);
  CHECK(got->name == "Äpfel & Birnen");
  CHECK(got->group == "users");
  CHECK(got->customer_users);
  CHECK_FALSE(got->public_users);
  CHECK(got->create_time == 1'700'000'000'000'000);
  CHECK(s->find_channel_by_name("Old")->validity == model::Validity::invalid_temporarily);
  CHECK_FALSE(s->find_channel(9999));
  CHECK_FALSE(s->find_channel_by_name("old"));  // names are exact

  CHECK(s->list_channels({}).size() == 3);
  CHECK(s->list_channels({.valid_only = true}).size() == 2);
  CHECK(s->list_channels({.customer_users = true}).size() == 2);
  CHECK(s->list_channels({.public_users = true}).size() == 2);
  CHECK(s->list_channels({.valid_only = true, .public_users = true}).size() == 1);

  auto changed = *got;
  changed.comment = "now with a comment";
  changed.validity = model::Validity::invalid;
  {
    store::WriteTransaction tx2(*s);
    s->update_channel(changed);
    tx2.commit();
  }
  CHECK(s->find_channel(a)->comment == "now with a comment");
  CHECK(s->find_channel(a)->validity == model::Validity::invalid);
}

TEST_CASE("a duplicate channel name is a data error and rolls back", "[store]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  auto db = test::make_test_database(backend);
  auto s = open(*db);
  s->migrate();
  {
    store::WriteTransaction tx(*s);
    s->insert_channel(channel("One"));
    tx.commit();
  }
  CHECK(kind_of([&] {
          store::WriteTransaction tx(*s);
          s->insert_channel(channel("Two"));
          s->insert_channel(channel("One"));
          tx.commit();
        }) == ErrorKind::data);
  CHECK_FALSE(s->find_channel_by_name("Two"));  // the whole transaction is gone
  // The session stays usable after the failure.
  store::WriteTransaction tx(*s);
  s->insert_channel(channel("Three"));
  tx.commit();
  CHECK(s->list_channels({}).size() == 2);
}

TEST_CASE("meta values are set and replaced", "[store]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  auto db = test::make_test_database(backend);
  auto s = open(*db);
  s->migrate();
  CHECK_FALSE(s->meta_get("k"));
  store::WriteTransaction tx(*s);
  s->meta_set("k", "1");
  s->meta_set("k", "2");
  tx.commit();
  CHECK(s->meta_get("k") == "2");
}

TEST_CASE("a write transaction's reads of a customer see its own writes and its rollbacks", "[store]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  INFO("backend " << backend);
  auto db = test::make_test_database(backend);
  auto s = open(*db);
  s->migrate();
  model::Customer c;
  c.id = "cust-1";
  c.name = "Ann";
  {
    store::WriteTransaction tx(*s);
    CHECK_FALSE(s->find_customer("cust-1"));
    s->insert_customer(c);
    CHECK(s->find_customer("cust-1")->name == "Ann");
    tx.commit();
  }
  store::WriteTransaction tx(*s);
  CHECK(s->find_customer("cust-1")->name == "Ann");  // read inside the transaction
  c.name = "Bea";
  c.banned = true;
  s->update_customer(c);
  CHECK(s->find_customer("cust-1")->name == "Bea");
  CHECK(s->find_customer("cust-1")->banned);
  {
    store::WriteTransaction nested(*s);  // a savepoint, as chatd runs each request
    c.name = "Cid";
    s->update_customer(c);
    CHECK(s->find_customer("cust-1")->name == "Cid");
  }  // rolled back
  CHECK(s->find_customer("cust-1")->name == "Bea");
  tx.commit();
  CHECK(s->find_customer("cust-1")->name == "Bea");
}

TEST_CASE("the event log appends in order inside transactions only", "[store]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  auto db = test::make_test_database(backend);
  auto s = open(*db);
  s->migrate();
  store::EventRecord e;
  e.type = "ChannelAdd";
  e.actor = "test";
  e.time = 5;
  CHECK(kind_of([&] { s->append_event(e); }) == ErrorKind::internal);
  {
    store::WriteTransaction tx(*s);
    e.channel_id = 7;
    s->append_event(e);
    e.type = "ChannelUpdate";
    e.channel_id.reset();
    e.chat_id = 3;
    s->append_event(e);
    tx.commit();
  }
  {
    store::WriteTransaction tx(*s);
    s->append_event(e);  // rolled back: never visible
  }
  CHECK(s->last_event_seq() > 0);
  const auto events = s->list_events({});
  REQUIRE(events.size() == 2);
  CHECK(events[0].seq < events[1].seq);
  CHECK(events[0].type == "ChannelAdd");
  CHECK(events[0].channel_id == 7);
  CHECK_FALSE(events[0].chat_id);
  CHECK(events[1].chat_id == 3);
  CHECK(s->list_events({.after = events[0].seq}).size() == 1);
  CHECK(s->list_events({.limit = 1}).size() == 1);
  CHECK(s->list_events({.type = "ChannelUpdate"}).size() == 1);
  CHECK(s->list_events({.chat_id = 3}).front().type == "ChannelUpdate");
  CHECK(s->list_events({.channel_id = 7}).front().type == "ChannelAdd");
  CHECK(s->list_events({.channel_id = 8}).empty());
}

TEST_CASE("a database locked by another writer is a temporary error", "[store]") {
  const auto backend = GENERATE(from_range(test::test_backends()));
  auto db = test::make_test_database(backend);
  auto holder = open(*db);
  holder->migrate();
  {
    store::WriteTransaction tx(*holder);
    holder->insert_channel(channel("Locked"));
    tx.commit();
  }
  auto waiter = open(*db, 100);
  auto row = *holder->find_channel_by_name("Locked");

  holder->begin_write();
  row.comment = "holder";
  holder->update_channel(row);
  // SQLite refuses the second writer at BEGIN IMMEDIATE; PostgreSQL at the row lock.
  CHECK(kind_of([&] {
          store::WriteTransaction tx(*waiter);
          row.comment = "waiter";
          waiter->update_channel(row);
          tx.commit();
        }) == ErrorKind::temporary);
  holder->rollback();
}

TEST_CASE("unreachable databases are unavailable, not crashes", "[store]") {
  store::OpenOptions o;
  o.busy_timeout_ms = 100;
  o.address = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2";
  CHECK(kind_of([&] { store::open_store(o); }) == ErrorKind::unavailable);

  test::TempDir dir;
  o.address = dir.path() + "/missing/folder/db.sqlite";
  CHECK(kind_of([&] { store::open_store(o); }) == ErrorKind::unavailable);

  o.address = dir.path();  // a folder, not a file
  CHECK(kind_of([&] { store::open_store(o); }) == ErrorKind::unavailable);

  o.address = "mysql://x@y/z";
  CHECK(kind_of([&] { store::open_store(o); }) == ErrorKind::config);
}

TEST_CASE("restore_rows puts back a template's rows and sequences, keeping other connections' statements", "[store]") {
  test::TempDir dir;
  const std::string tmpl = dir.path() + "/template.db";
  const std::string live = dir.path() + "/live.db";
  auto open_path = [](const std::string& path) {
    store::OpenOptions o;
    o.address = path;
    return store::open_store(o);
  };
  model::ChannelId kept_id = 0;
  {
    auto t = open_path(tmpl);
    t->migrate();
    store::WriteTransaction tx(*t);
    kept_id = t->insert_channel(channel("Kept"));
    tx.commit();
  }
  std::filesystem::copy_file(tmpl, live);
  auto s = open_path(live);
  auto other = open_path(live);
  REQUIRE(other->find_channel_by_name("Kept"));  // prepared on the other connection before the restore

  for (int round = 0; round < 2; ++round) {
    INFO("round " << round);
    {
      store::WriteTransaction tx(*s);
      auto kept = *s->find_channel_by_name("Kept");
      kept.comment = "changed";
      s->update_channel(kept);
      s->insert_channel(channel("Gone"));
      s->meta_set("restore_test", "v");
      store::EventRecord e;
      e.type = "Test";
      e.actor = "test";
      e.payload = "{}";
      s->append_event(e);
      tx.commit();
    }
    REQUIRE(other->find_channel_by_name("Gone"));
    s->restore_rows(tmpl);

    CHECK_FALSE(s->find_channel_by_name("Gone"));
    CHECK(s->find_channel_by_name("Kept")->comment.empty());
    CHECK_FALSE(s->meta_get("restore_test"));
    CHECK(s->last_event_seq() == 0);
    CHECK_FALSE(other->find_channel_by_name("Gone"));
    CHECK(other->find_channel_by_name("Kept")->comment.empty());
  }
  // The sequences are the template's again: the next channel gets the id a fresh copy would give.
  store::WriteTransaction tx(*s);
  CHECK(s->insert_channel(channel("Next")) == kept_id + 1);
  tx.commit();
}

TEST_CASE("restore_rows is refused on PostgreSQL", "[store]") {
  const auto backends = test::test_backends();
  if (std::find(backends.begin(), backends.end(), "postgresql") == backends.end()) return;
  auto db = test::make_test_database("postgresql");
  auto s = open(*db);
  s->migrate();
  CHECK(kind_of([&] { s->restore_rows("/nonexistent.db"); }) == ErrorKind::internal);
}
