#include "store/soci_store.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <spdlog/spdlog.h>

#include <set>

#include "core/error.hpp"
#include "core/text.hpp"
#include "store/migrations.hpp"
#include "store/sql_script.hpp"

namespace chatctl::store {
namespace {

using core::Error;
using core::ErrorKind;

// Advisory lock keys (PostgreSQL): arbitrary constants, one per critical section.
constexpr long long kMigrationLock = 0x63686174'00000001LL;
constexpr long long kEventLogLock = 0x63686174'00000002LL;

std::string first_line(const std::string& s) {
  const auto nl = s.find('\n');
  std::string line = s.substr(0, nl);
  // libpq prefixes server messages with "ERROR:  "; drop it, it adds nothing for a user.
  for (const char* prefix : {"ERROR:  ", "FATAL:  "}) {
    if (line.rfind(prefix, 0) == 0) line.erase(0, std::char_traits<char>::length(prefix));
  }
  return line;
}

Error translate_sqlite(int result, const std::string& what, const std::string& driver_msg) {
  switch (result & 0xFF) {
    case 5:  // SQLITE_BUSY
    case 6:  // SQLITE_LOCKED
      return Error(ErrorKind::temporary, "the database is locked by another process (" + what + "); try again");
    case 19:  // SQLITE_CONSTRAINT
      return Error(ErrorKind::data, what + ": conflicts with existing data");
    case 8:  // SQLITE_READONLY
    case 3:  // SQLITE_PERM
    case 23:  // SQLITE_AUTH
      return Error(ErrorKind::permission, what + ": the database is read-only or not accessible");
    case 13:  // SQLITE_FULL
    case 10:  // SQLITE_IOERR
      return Error(ErrorKind::io, what + ": disk I/O error or disk full");
    case 14:  // SQLITE_CANTOPEN
      return Error(ErrorKind::unavailable, "cannot open the database file (" + what + ")");
    case 11:  // SQLITE_CORRUPT
    case 26:  // SQLITE_NOTADB
      return Error(ErrorKind::unavailable, "the database file is not a valid SQLite database (" + what + ")");
    default:
      return Error(ErrorKind::internal, what + ": database error: " + first_line(driver_msg));
  }
}

Error translate_postgres(const std::string& sqlstate, const std::string& what, const std::string& driver_msg) {
  const std::string cls = sqlstate.substr(0, 2);
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || cls == "53") {
    return Error(ErrorKind::temporary, what + ": the database is busy (lock or serialisation conflict); try again");
  }
  if (sqlstate == "57014") return Error(ErrorKind::temporary, what + ": timed out waiting for a lock; try again");
  if (cls == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    return Error(ErrorKind::unavailable, what + ": lost the connection to the database server");
  }
  if (cls == "23") return Error(ErrorKind::data, what + ": conflicts with existing data");
  if (sqlstate == "42501") return Error(ErrorKind::permission, what + ": permission denied by the database");
  if (cls == "22") return Error(ErrorKind::data, what + ": invalid value: " + first_line(driver_msg));
  return Error(ErrorKind::internal, what + ": database error: " + first_line(driver_msg));
}

// Runs `f`, turning every driver exception into core::Error so nothing else leaves the store.
template <class F>
auto guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const soci::sqlite3_soci_error& e) {
    throw translate_sqlite(e.result(), what, e.what());
  } catch (const soci::postgresql_soci_error& e) {
    throw translate_postgres(e.sqlstate(), what, e.what());
  } catch (const soci::soci_error& e) {
    if (e.get_error_category() == soci::soci_error::connection_error) {
      throw Error(ErrorKind::unavailable, std::string(what) + ": lost the connection to the database");
    }
    throw Error(ErrorKind::internal, std::string(what) + ": database error: " + first_line(e.get_error_message()));
  }
}

// Row shape shared by every channel query.
constexpr const char* kChannelColumns =
    "SELECT id, name, group_name, customer_users, public_users, valid_id, comments, create_time, create_by, "
    "change_time, change_by FROM chat_channel ";

}  // namespace

std::string_view to_string(Backend backend) {
  return backend == Backend::sqlite ? "sqlite" : "postgresql";
}

SociStore::SociStore(Backend backend, const std::string& connect_string, std::string display_address,
                     std::int64_t busy_timeout_ms)
    : backend_(backend), display_address_(std::move(display_address)) {
  try {
    if (backend_ == Backend::sqlite) {
      sql_.open(soci::sqlite3, connect_string);
      sql_ << "PRAGMA busy_timeout = " + std::to_string(busy_timeout_ms);
      sql_ << "PRAGMA foreign_keys = ON";
      // WAL lets readers (chatd, exports) run beside a writer. Switching needs a moment with no
      // other connection in a transaction, so a busy answer here is fine: the file keeps its mode.
      std::string mode;
      sql_ << "PRAGMA journal_mode = WAL", soci::into(mode);
      sql_ << "PRAGMA synchronous = NORMAL";
    } else {
      sql_.open(soci::postgresql, connect_string);
      sql_ << "SET TIME ZONE 'UTC'";
      sql_ << "SET lock_timeout = " + std::to_string(busy_timeout_ms);
      sql_ << "SET client_min_messages = warning";
    }
  } catch (const soci::sqlite3_soci_error& e) {
    throw translate_sqlite(e.result(), "opening " + display_address_, e.what());
  } catch (const soci::postgresql_soci_error& e) {
    throw translate_postgres(e.sqlstate(), "opening " + display_address_, e.what());
  } catch (const soci::soci_error& e) {
    // Connection failures arrive here with libpq's own text after SOCI's preamble; keep libpq's
    // first line (it names host and reason) and drop the rest.
    std::string msg = e.get_error_message();
    if (const auto p = msg.find("connection to server"); p != std::string::npos) msg = msg.substr(p);
    throw Error(ErrorKind::unavailable, "cannot connect to database " + display_address_ + ": " + first_line(msg));
  }
}

SociStore::~SociStore() { rollback(); }

void SociStore::begin_write() {
  if (in_transaction_) throw Error(ErrorKind::internal, "nested write transaction");
  guarded("starting a transaction", [&] {
    sql_ << (backend_ == Backend::sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
  });
  in_transaction_ = true;
}

void SociStore::commit() {
  if (!in_transaction_) throw Error(ErrorKind::internal, "commit without a transaction");
  try {
    guarded("committing", [&] { sql_ << "COMMIT"; });
  } catch (...) {
    rollback();
    throw;
  }
  in_transaction_ = false;
}

void SociStore::rollback() noexcept {
  if (!in_transaction_) return;
  in_transaction_ = false;
  try {
    sql_ << "ROLLBACK";
  } catch (const std::exception& e) {
    spdlog::debug("rollback failed: {}", e.what());
  }
}

void SociStore::lock_in_transaction(std::int64_t key) {
  if (backend_ != Backend::postgresql) return;
  const long long k = key;
  guarded("taking a lock", [&] { sql_ << "SELECT pg_advisory_xact_lock(:k)", soci::use(k); });
}

void SociStore::ensure_migrations_table() {
  guarded("preparing schema_migrations", [&] {
    sql_ << "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at BIGINT NOT NULL)";
  });
}

std::vector<MigrationState> SociStore::migration_status() {
  const auto& known = backend_ == Backend::sqlite ? sqlite_migrations() : postgresql_migrations();
  std::vector<MigrationState> out;
  for (const auto& m : known) out.push_back({m.version, std::string(m.name), std::nullopt, true});

  // A fresh database has no schema_migrations table yet; reading must not create it.
  long long exists = 0;
  guarded("reading migration state", [&] {
    if (backend_ == Backend::sqlite) {
      sql_ << "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", soci::into(exists);
    } else {
      sql_ << "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND "
              "table_name = 'schema_migrations'",
          soci::into(exists);
    }
  });
  if (exists == 0) return out;

  guarded("reading migration state", [&] {
    int version = 0;
    std::string name;
    long long applied = 0;
    soci::statement st = (sql_.prepare << "SELECT version, name, applied_at FROM schema_migrations ORDER BY version",
                          soci::into(version), soci::into(name), soci::into(applied));
    st.execute();
    while (st.fetch()) {
      auto it = std::find_if(out.begin(), out.end(), [&](const auto& s) { return s.version == version; });
      if (it != out.end()) {
        it->applied_at = applied;
      } else {
        out.push_back({version, name, applied, false});
      }
    }
  });
  return out;
}

int SociStore::migrate() {
  ensure_migrations_table();
  const auto& known = backend_ == Backend::sqlite ? sqlite_migrations() : postgresql_migrations();
  int applied_count = 0;
  for (const auto& m : known) {
    WriteTransaction tx(*this);
    lock_in_transaction(kMigrationLock);
    // Re-read under the lock: another process may have applied it while we waited.
    std::set<int> applied;
    int newest_known = known.empty() ? 0 : known.back().version;
    guarded("reading migration state", [&] {
      int v = 0;
      soci::statement st = (sql_.prepare << "SELECT version FROM schema_migrations", soci::into(v));
      st.execute();
      while (st.fetch()) applied.insert(v);
    });
    if (!applied.empty() && *applied.rbegin() > newest_known) {
      throw Error(ErrorKind::unavailable, "the database schema (version " + std::to_string(*applied.rbegin()) +
                                              ") is newer than this chatctl knows (" + std::to_string(newest_known) +
                                              "); upgrade chatctl");
    }
    if (applied.contains(m.version)) continue;
    spdlog::info("applying migration {:04d}_{}", m.version, m.name);
    const std::string what = "applying migration " + std::to_string(m.version);
    guarded(what.c_str(), [&] {
      for (const auto& statement : split_sql_script(m.sql)) sql_ << statement;
      const int version = m.version;
      const std::string name(m.name);
      const long long now = core::SystemClock{}.now();
      sql_ << "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)", soci::use(version),
          soci::use(name), soci::use(now);
    });
    tx.commit();
    ++applied_count;
  }
  return applied_count;
}

std::optional<std::string> SociStore::meta_get(std::string_view key) {
  return guarded("reading meta", [&]() -> std::optional<std::string> {
    std::string value;
    soci::indicator ind = soci::i_null;
    const std::string k(key);
    sql_ << "SELECT value FROM meta WHERE key = :k", soci::use(k), soci::into(value, ind);
    if (!sql_.got_data() || ind != soci::i_ok) return std::nullopt;
    return value;
  });
}

void SociStore::meta_set(std::string_view key, std::string_view value) {
  guarded("writing meta", [&] {
    const std::string k(key);
    const std::string v(value);
    sql_ << "INSERT INTO meta (key, value) VALUES (:k, :v) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        soci::use(k), soci::use(v);
  });
}

std::vector<model::Channel> SociStore::query_channels(const std::string& where, const std::string& text_param,
                                                      long long id_param) {
  return guarded("reading channels", [&] {
    std::vector<model::Channel> out;
    model::Channel c;
    long long id = 0;
    long long create_time = 0;
    long long change_time = 0;
    int customer = 0;
    int pub = 0;
    int valid = 0;
    const std::string query = kChannelColumns + where + " ORDER BY id";
    soci::statement st(sql_);
    st.exchange(soci::into(id));
    st.exchange(soci::into(c.name));
    st.exchange(soci::into(c.group));
    st.exchange(soci::into(customer));
    st.exchange(soci::into(pub));
    st.exchange(soci::into(valid));
    st.exchange(soci::into(c.comment));
    st.exchange(soci::into(create_time));
    st.exchange(soci::into(c.create_by));
    st.exchange(soci::into(change_time));
    st.exchange(soci::into(c.change_by));
    if (where.find(":name") != std::string::npos) st.exchange(soci::use(text_param, "name"));
    if (where.find(":id") != std::string::npos) st.exchange(soci::use(id_param, "id"));
    st.alloc();
    st.prepare(query);
    st.define_and_bind();
    st.execute();
    while (st.fetch()) {
      c.id = id;
      c.customer_users = customer != 0;
      c.public_users = pub != 0;
      c.validity = static_cast<model::Validity>(valid);
      c.create_time = create_time;
      c.change_time = change_time;
      out.push_back(c);
    }
    return out;
  });
}

std::vector<model::Channel> SociStore::list_channels(const ChannelFilter& filter) {
  std::string where;
  const auto add = [&](const std::string& cond) { where += (where.empty() ? "WHERE " : " AND ") + cond; };
  if (filter.valid_only) add("valid_id = 1");
  if (filter.customer_users) add(std::string("customer_users = ") + (*filter.customer_users ? "1" : "0"));
  if (filter.public_users) add(std::string("public_users = ") + (*filter.public_users ? "1" : "0"));
  return query_channels(where, {}, 0);
}

std::optional<model::Channel> SociStore::find_channel(model::ChannelId id) {
  auto rows = query_channels("WHERE id = :id", {}, id);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

std::optional<model::Channel> SociStore::find_channel_by_name(std::string_view name) {
  auto rows = query_channels("WHERE name = :name", std::string(name), 0);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

model::ChannelId SociStore::insert_channel(const model::Channel& c) {
  return guarded("adding a channel", [&] {
    const int customer = c.customer_users ? 1 : 0;
    const int pub = c.public_users ? 1 : 0;
    const int valid = static_cast<int>(c.validity);
    const long long create_time = c.create_time;
    const long long change_time = c.change_time;
    long long id = 0;
    const std::string returning = " RETURNING id";
    sql_ << "INSERT INTO chat_channel (name, group_name, customer_users, public_users, valid_id, comments, "
            "create_time, create_by, change_time, change_by) VALUES (:name, :grp, :cu, :pu, :v, :cm, :ct, :cb, :mt, :mb)" +
                returning,
        soci::use(c.name), soci::use(c.group), soci::use(customer), soci::use(pub), soci::use(valid),
        soci::use(c.comment), soci::use(create_time), soci::use(c.create_by), soci::use(change_time),
        soci::use(c.change_by), soci::into(id);
    return static_cast<model::ChannelId>(id);
  });
}

void SociStore::update_channel(const model::Channel& c) {
  guarded("updating a channel", [&] {
    const int customer = c.customer_users ? 1 : 0;
    const int pub = c.public_users ? 1 : 0;
    const int valid = static_cast<int>(c.validity);
    const long long change_time = c.change_time;
    const long long id = c.id;
    sql_ << "UPDATE chat_channel SET name = :name, group_name = :grp, customer_users = :cu, public_users = :pu, "
            "valid_id = :v, comments = :cm, change_time = :mt, change_by = :mb WHERE id = :id",
        soci::use(c.name), soci::use(c.group), soci::use(customer), soci::use(pub), soci::use(valid),
        soci::use(c.comment), soci::use(change_time), soci::use(c.change_by), soci::use(id);
  });
}

std::int64_t SociStore::append_event(const EventRecord& e) {
  if (!in_transaction_) throw Error(ErrorKind::internal, "append_event outside a write transaction");
  lock_in_transaction(kEventLogLock);
  return guarded("writing the event log", [&] {
    const long long time = e.time;
    long long chat = e.chat_id.value_or(0);
    long long channel = e.channel_id.value_or(0);
    soci::indicator chat_ind = e.chat_id ? soci::i_ok : soci::i_null;
    soci::indicator channel_ind = e.channel_id ? soci::i_ok : soci::i_null;
    long long seq = 0;
    sql_ << "INSERT INTO event_log (type, time, actor, chat_id, channel_id, payload) VALUES (:ty, :ti, :a, :c, :ch, :p) "
            "RETURNING seq",
        soci::use(e.type), soci::use(time), soci::use(e.actor), soci::use(chat, chat_ind),
        soci::use(channel, channel_ind), soci::use(e.payload), soci::into(seq);
    return static_cast<std::int64_t>(seq);
  });
}

std::vector<EventRecord> SociStore::list_events(const EventFilter& filter) {
  return guarded("reading the event log", [&] {
    std::vector<EventRecord> out;
    EventRecord e;
    long long seq = 0;
    long long time = 0;
    long long chat = 0;
    long long channel = 0;
    soci::indicator chat_ind = soci::i_null;
    soci::indicator channel_ind = soci::i_null;
    long long after = filter.after;
    long long limit = static_cast<long long>(filter.limit);
    std::string type = filter.type.value_or("");
    long long chat_filter = filter.chat_id.value_or(0);
    long long channel_filter = filter.channel_id.value_or(0);

    std::string query = "SELECT seq, type, time, actor, chat_id, channel_id, payload FROM event_log WHERE seq > :after";
    if (filter.type) query += " AND type = :type";
    if (filter.chat_id) query += " AND chat_id = :chat";
    if (filter.channel_id) query += " AND channel_id = :channel";
    query += " ORDER BY seq LIMIT :limit";

    soci::statement st(sql_);
    st.exchange(soci::into(seq));
    st.exchange(soci::into(e.type));
    st.exchange(soci::into(time));
    st.exchange(soci::into(e.actor));
    st.exchange(soci::into(chat, chat_ind));
    st.exchange(soci::into(channel, channel_ind));
    st.exchange(soci::into(e.payload));
    st.exchange(soci::use(after, "after"));
    if (filter.type) st.exchange(soci::use(type, "type"));
    if (filter.chat_id) st.exchange(soci::use(chat_filter, "chat"));
    if (filter.channel_id) st.exchange(soci::use(channel_filter, "channel"));
    st.exchange(soci::use(limit, "limit"));
    st.alloc();
    st.prepare(query);
    st.define_and_bind();
    st.execute();
    while (st.fetch()) {
      e.seq = seq;
      e.time = time;
      e.chat_id = chat_ind == soci::i_ok ? std::optional<std::int64_t>(chat) : std::nullopt;
      e.channel_id = channel_ind == soci::i_ok ? std::optional<std::int64_t>(channel) : std::nullopt;
      out.push_back(e);
    }
    return out;
  });
}

std::int64_t SociStore::last_event_seq() {
  return guarded("reading the event log", [&] {
    long long seq = 0;
    soci::indicator ind = soci::i_null;
    sql_ << "SELECT max(seq) FROM event_log", soci::into(seq, ind);
    return static_cast<std::int64_t>(ind == soci::i_ok ? seq : 0);
  });
}

}  // namespace chatctl::store
