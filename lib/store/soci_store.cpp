#include "store/soci_store.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "core/error.hpp"
#include "core/scope.hpp"
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
// Taken by every write transaction on PostgreSQL: writers run one at a time, as SQLite's
// BEGIN IMMEDIATE makes them, so read-modify-write updates never lose a concurrent change.
constexpr long long kWriteLock = 0x63686174'00000000LL;

std::string first_line(const std::string& s) {
  const auto nl = s.find('\n');
  std::string line = s.substr(0, nl);
  // libpq prefixes server messages with "ERROR:  " or "FATAL:  " (also after its own "connection
  // to server ... failed: "); drop them, they add nothing for a user.
  for (const std::string_view prefix : {"ERROR:  ", "FATAL:  "}) {
    for (auto at = line.find(prefix); at != std::string::npos; at = line.find(prefix, at)) line.erase(at, prefix.size());
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
      spdlog::debug("{}: SQLite result {}: {}", what, result, driver_msg);
      return Error(ErrorKind::internal, what + ": unexpected database error (run with -vv for details)");
  }
}

Error translate_postgres(const std::string& sqlstate, const std::string& what, const std::string& driver_msg) {
  const std::string cls = sqlstate.substr(0, 2);
  // libpq's own failures carry no SQLSTATE: the server went away mid-statement, or is gone.
  if (sqlstate.empty()) {
    spdlog::debug("{}: {}", what, driver_msg);
    return Error(ErrorKind::unavailable, what + ": lost the connection to the database server");
  }
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || cls == "53") {
    return Error(ErrorKind::temporary, what + ": the database is busy (lock or serialisation conflict); try again");
  }
  if (sqlstate == "57014") return Error(ErrorKind::temporary, what + ": timed out waiting for a lock; try again");
  if (cls == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    return Error(ErrorKind::unavailable, what + ": lost the connection to the database server");
  }
  if (cls == "23") return Error(ErrorKind::data, what + ": conflicts with existing data");
  if (sqlstate == "42501") return Error(ErrorKind::permission, what + ": permission denied by the database");
  spdlog::debug("{}: SQLSTATE {}: {}", what, sqlstate, driver_msg);
  if (sqlstate == "22021") return Error(ErrorKind::data, what + ": text is not valid UTF-8");
  if (cls == "22") return Error(ErrorKind::data, what + ": a value is out of range or malformed");
  return Error(ErrorKind::internal, what + ": unexpected database error (run with -vv for details)");
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
    spdlog::debug("{}: {}", what, e.get_error_message());
    throw Error(ErrorKind::internal, std::string(what) + ": unexpected database error (run with -vv for details)");
  }
}

// The first row of a lookup, or nothing.
template <class T>
std::optional<T> first_row(std::vector<T> rows) {
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

// Row shape shared by every channel query.
constexpr const char* kChannelColumns =
    "SELECT id, name, group_name, customer_users, public_users, valid_id, comments, create_time, create_by, "
    "change_time, change_by FROM chat_channel ";

// libpq prints a server's notices (such as its warning as it shuts down) to stderr by default:
// they go to the debug log instead, like every other driver text.
void log_notice(void*, const char* message) { spdlog::debug("database notice: {}", first_line(message)); }

}  // namespace

// ---- Statements prepared once ----------------------------------------------------------------
//
// SOCI 4 prepares a statement on every call: SQLite parses and plans the SQL again
// (sqlite3_prepare_v2) and PostgreSQL gets a PREPARE and a DEALLOCATE round trip beside the
// EXECUTE. On chatd's hot paths that was about half of the CPU. So a statement is prepared once
// per connection and kept, keyed by its SQL text: its result columns and parameters are bound to
// storage the entry owns (`Cols`, and `texts`/`ints` for the :t0../:i0.. of a WHERE clause), and
// a call copies its parameters in and its rows out.
//
// Texts that vary without bound (IN lists with spliced integers) would grow the cache: past
// kMaxPrepared entries it is emptied and filled again. A statement already in use (a store call
// made while another call reads the same statement's rows) gets a private copy, never the shared one.

namespace {

constexpr std::size_t kMaxPrepared = 200;

// Binds :t0.. and :i0.. parameters of a dynamically built WHERE clause.
void bind_params(soci::statement& st, const std::vector<std::string>& text_params,
                 const std::vector<long long>& int_params) {
  for (std::size_t i = 0; i < text_params.size(); ++i) st.exchange(soci::use(text_params[i], "t" + std::to_string(i)));
  for (std::size_t i = 0; i < int_params.size(); ++i) st.exchange(soci::use(int_params[i], "i" + std::to_string(i)));
}

}  // namespace

struct SociStore::Prepared {
  explicit Prepared(soci::session& s) : st(s) {}
  virtual ~Prepared() = default;
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;
  soci::statement st;
  std::vector<std::string> texts;
  std::vector<long long> ints;
  bool busy = false;
};

template <class Cols>
struct SociStore::PreparedWith final : SociStore::Prepared {
  using Prepared::Prepared;
  Cols c{};
};

// One use of a prepared statement. On the way out SQLite's statement is reset: an unfinished
// SELECT or RETURNING would otherwise stay active, pinning a read snapshot or blocking COMMIT.
template <class Cols>
class SociStore::Reused {
 public:
  Reused(PreparedWith<Cols>* p, std::unique_ptr<PreparedWith<Cols>> owned, bool sqlite)
      : p_(p), owned_(std::move(owned)), sqlite_(sqlite) {
    p_->busy = true;
  }
  ~Reused() {
    p_->busy = false;
    if (sqlite_) {
      if (auto* be = static_cast<soci::sqlite3_statement_backend*>(p_->st.get_backend()); be && be->stmt_) {
        sqlite_api::sqlite3_reset(be->stmt_);
      }
    }
  }
  Reused(const Reused&) = delete;
  Reused& operator=(const Reused&) = delete;

  soci::statement& st() { return p_->st; }
  Cols& c() { return p_->c; }

 private:
  PreparedWith<Cols>* p_;
  std::unique_ptr<PreparedWith<Cols>> owned_;  // a private copy, when the shared one was busy
  bool sqlite_;
};

template <class Cols, class Bind>
SociStore::Reused<Cols> SociStore::reuse(const std::string& sql, const std::vector<std::string>& texts,
                                         const std::vector<long long>& ints, Bind&& bind) {
  auto make = [&] {
    auto p = std::make_unique<PreparedWith<Cols>>(sql_);
    p->texts = texts;
    p->ints = ints;
    bind(p->st, p->c);
    bind_params(p->st, p->texts, p->ints);
    p->st.alloc();
    p->st.prepare(sql);
    p->st.define_and_bind();
    return p;
  };
  const bool sqlite = backend_ == Backend::sqlite;
  reconnect_if_lost();
  auto it = prepared_.find(sql);
  if (it == prepared_.end() && prepared_.size() >= kMaxPrepared &&
      std::none_of(prepared_.begin(), prepared_.end(), [](const auto& e) { return e.second->busy; })) {
    prepared_.clear();
    it = prepared_.end();
  }
  if ((it != prepared_.end() && it->second->busy) || (it == prepared_.end() && prepared_.size() >= kMaxPrepared)) {
    auto own = make();
    auto* raw = own.get();
    return Reused<Cols>(raw, std::move(own), sqlite);
  }
  if (it == prepared_.end()) {
    it = prepared_.emplace(sql, make()).first;
  } else if (it->second->texts.size() != texts.size() || it->second->ints.size() != ints.size()) {
    throw Error(ErrorKind::internal, "a prepared statement's parameters changed shape: " + sql);
  } else {
    std::copy(texts.begin(), texts.end(), it->second->texts.begin());
    std::copy(ints.begin(), ints.end(), it->second->ints.begin());
  }
  auto* p = dynamic_cast<PreparedWith<Cols>*>(it->second.get());
  if (!p) throw Error(ErrorKind::internal, "one SQL text prepared for two row shapes: " + sql);
  return Reused<Cols>(p, nullptr, sqlite);
}

// SQLite runs a RETURNING clause through a temporary table; the rowid it just assigned is at hand.
std::string SociStore::returning(const char* column) const {
  return backend_ == Backend::sqlite ? std::string() : std::string(" RETURNING ") + column;
}

long long SociStore::inserted_id(long long returned) {
  if (backend_ != Backend::sqlite) return returned;
  return sqlite_api::sqlite3_last_insert_rowid(static_cast<soci::sqlite3_session_backend*>(sql_.get_backend())->conn_);
}

void SociStore::run(const std::string& sql) {
  struct None {};
  auto q = reuse<None>(sql, [](soci::statement&, None&) {});
  q.st().execute(true);
}

std::string_view to_string(Backend backend) {
  return backend == Backend::sqlite ? "sqlite" : "postgresql";
}

SociStore::SociStore(Backend backend, const std::string& connect_string, std::string display_address,
                     std::int64_t busy_timeout_ms)
    : backend_(backend), display_address_(std::move(display_address)), busy_timeout_ms_(busy_timeout_ms) {
  try {
    if (backend_ == Backend::sqlite) {
      sql_.open(soci::sqlite3, connect_string);
      sql_ << "PRAGMA busy_timeout = " + std::to_string(busy_timeout_ms);
      sql_ << "PRAGMA foreign_keys = ON";
      // WAL lets readers (chatd, exports) run beside a writer. Switching needs a moment with no
      // other connection in a transaction, so a busy answer here is fine: the file keeps its mode.
      try {
        std::string mode;
        sql_ << "PRAGMA journal_mode = WAL", soci::into(mode);
      } catch (const soci::sqlite3_soci_error& e) {
        if ((e.result() & 0xFF) != 5 && (e.result() & 0xFF) != 6) throw;  // busy: keep the current mode
      }
      sql_ << "PRAGMA synchronous = NORMAL";
      // Savepoints keep their undo pages in a statement journal: in memory, not a temporary file
      // written for every nested savepoint of a batch.
      sql_ << "PRAGMA temp_store = MEMORY";
    } else {
      sql_.open(soci::postgresql, connect_string);
      set_up_postgres_session();
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

void SociStore::set_up_postgres_session() {
  sql_ << "SET TIME ZONE 'UTC'";
  // 0 would mean "wait forever" to PostgreSQL; chatctl's 0 means "do not wait".
  sql_ << "SET lock_timeout = " + std::to_string(std::max<std::int64_t>(1, busy_timeout_ms_));
  sql_ << "SET client_min_messages = warning";
  PQsetNoticeProcessor(static_cast<soci::postgresql_session_backend*>(sql_.get_backend())->conn_, log_notice, nullptr);
}

// A server restart, a failover or pg_terminate_backend ends a PostgreSQL connection; libpq marks
// it bad when a statement finds it gone, and that statement fails `unavailable`. The next one
// outside a transaction connects again, so a long-running process (chatd, its follower and
// webhooks) carries on once the server is back instead of failing until restarted.
void SociStore::reconnect_if_lost() {
  if (backend_ != Backend::postgresql || depth_ > 0) return;
  const auto* be = static_cast<soci::postgresql_session_backend*>(sql_.get_backend());
  if (be && be->conn_ && PQstatus(be->conn_) == CONNECTION_OK) return;
  // A statement still being read belongs to the old connection; it is dropped with it later.
  if (std::any_of(prepared_.begin(), prepared_.end(), [](const auto& e) { return e.second->busy; })) return;
  prepared_.clear();
  try {
    sql_.reconnect();
    set_up_postgres_session();
  } catch (const soci::soci_error& e) {
    spdlog::debug("reconnecting to {}: {}", display_address_, e.what());
    throw Error(ErrorKind::unavailable, "lost the connection to database " + display_address_ + " and cannot reconnect");
  }
  spdlog::warn("reconnected to database {} after losing the connection", display_address_);
}

SociStore::~SociStore() {
  while (depth_ > 0) rollback();
}

void SociStore::begin_write() {
  if (depth_ > 0) {
    const std::string name = "chatctl_sp" + std::to_string(depth_);
    guarded("starting a savepoint", [&] { run("SAVEPOINT " + name); });
    ++depth_;
    return;
  }
  guarded("starting a transaction", [&] {
    run(backend_ == Backend::sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
  });
  depth_ = 1;
  tx_cache_.clear();
  event_log_locked_ = false;
  if (backend_ == Backend::postgresql) {
    try {
      lock_in_transaction(kWriteLock);
    } catch (...) {
      rollback();
      throw;
    }
  }
}

void SociStore::commit() {
  if (depth_ == 0) throw Error(ErrorKind::internal, "commit without a transaction");
  if (depth_ > 1) {
    const std::string name = "chatctl_sp" + std::to_string(depth_ - 1);
    try {
      guarded("releasing a savepoint", [&] { run("RELEASE SAVEPOINT " + name); });
    } catch (...) {
      rollback();
      throw;
    }
    --depth_;
    return;
  }
  try {
    guarded("committing", [&] { run("COMMIT"); });
  } catch (...) {
    rollback();
    throw;
  }
  depth_ = 0;
  tx_cache_.clear();
}

void SociStore::rollback() noexcept {
  if (depth_ == 0) return;
  tx_cache_.clear();
  if (depth_ > 1) {
    const std::string name = "chatctl_sp" + std::to_string(depth_ - 1);
    --depth_;
    try {
      run("ROLLBACK TO SAVEPOINT " + name);
      run("RELEASE SAVEPOINT " + name);
    } catch (const std::exception& e) {
      spdlog::debug("rollback to savepoint failed: {}", e.what());
    }
    return;
  }
  depth_ = 0;
  try {
    run("ROLLBACK");
  } catch (const std::exception& e) {
    spdlog::debug("rollback failed: {}", e.what());
  }
}

void SociStore::lock_in_transaction(std::int64_t key) {
  if (backend_ != Backend::postgresql) return;
  guarded("taking a lock", [&] {
    auto q = reuse<long long>("SELECT pg_advisory_xact_lock(:k)",
                              [](soci::statement& st, long long& k) { st.exchange(soci::use(k, "k")); });
    q.c() = key;
    q.st().execute(true);
  });
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

namespace {

// `PRAGMA writable_schema = ON` (true) or `= OFF` (false), in any case and spacing, as a
// migration script switches SQLite's schema editing; nullopt for any other statement.
std::optional<bool> writable_schema_switch(std::string_view statement) {
  std::string s;
  for (const char c : statement) {
    if (!std::isspace(static_cast<unsigned char>(c))) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (s == "pragmawritable_schema=on") return true;
  if (s == "pragmawritable_schema=off") return false;
  return std::nullopt;
}

}  // namespace

void refuse_newer_schema(const std::vector<MigrationState>& states) {
  for (const auto& m : states) {
    if (!m.known) {
      throw Error(ErrorKind::unavailable, "the database schema (version " + std::to_string(m.version) +
                                              ") is newer than this chatctl knows; upgrade chatctl");
    }
  }
}

int SociStore::migrate() {
  // The common case, everything applied, is a plain read: no write lock, so read-only commands
  // run beside a writer.
  const auto states = migration_status();
  refuse_newer_schema(states);
  if (std::none_of(states.begin(), states.end(), [](const auto& m) { return !m.applied_at; })) return 0;
  {
    // Under the lock: two processes migrating a fresh database must not both create the table.
    WriteTransaction tx(*this);
    lock_in_transaction(kMigrationLock);
    ensure_migrations_table();
    tx.commit();
  }
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
    try {
      apply_migration(m, what);
    } catch (const Error& e) {
      // A statement of ours failing on this database means it is not what chatctl made (a file
      // another program wrote, a hand-edited schema): unusable (69), not a bug of chatctl's.
      if (e.kind() != ErrorKind::internal) throw;
      throw Error(ErrorKind::unavailable,
                  what + ": the database holds a schema chatctl did not make (run with -vv for details)");
    }
    tx.commit();
    ++applied_count;
  }
  return applied_count;
}

void SociStore::apply_migration(const Migration& m, const std::string& what) {
  guarded(what.c_str(), [&] {
    // A SQLite script that edits sqlite_master does so between `PRAGMA writable_schema = ON`
    // and `= OFF` (those two forms); the schema is read again right after (schema_edited),
    // before any later statement is compiled against the stale one. Should the script fail in
    // between, the connection does not stay in that mode.
    bool editing = false;
    const core::OnExit stop_editing([&] {
      if (!editing) return;
      try {
        sql_ << "PRAGMA writable_schema = OFF";
      } catch (const std::exception&) {
      }
    });
    for (const auto& statement : split_sql_script(m.sql)) {
      sql_ << statement;
      if (backend_ != Backend::sqlite) continue;
      const auto on = writable_schema_switch(statement);
      if (on && *on) {
        editing = true;
      } else if (on && editing) {
        editing = false;
        schema_edited();
      }
    }
    if (editing) throw Error(ErrorKind::internal, "migration " + std::to_string(m.version) +
                                                       " leaves PRAGMA writable_schema on");
    const int version = m.version;
    const std::string name(m.name);
    const long long now = core::SystemClock{}.now();
    sql_ << "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)", soci::use(version),
        soci::use(name), soci::use(now);
  });
}

// A SQLite migration that edited table definitions in sqlite_master (PRAGMA writable_schema, for
// changes that leave the stored rows as they are): the schema version goes up by one, so every
// connection, this one too, reads the definitions again; and they are read back here, so one that
// no longer parses fails this migration's transaction instead of every later open.
void SociStore::schema_edited() {
  int version = 0;
  sql_ << "PRAGMA schema_version", soci::into(version);
  sql_ << "PRAGMA schema_version = " + std::to_string(version + 1);
  std::vector<std::string> tables;
  {
    std::string name;
    soci::statement st = (sql_.prepare << "SELECT name FROM sqlite_master WHERE type = 'table'", soci::into(name));
    st.execute();
    while (st.fetch()) tables.push_back(name);
  }
  for (const auto& t : tables) sql_ << "SELECT * FROM \"" + t + "\" LIMIT 0";
}

std::optional<std::string> SociStore::meta_get(std::string_view key) {
  if (depth_ > 0) {
    if (const auto it = tx_cache_.meta.find(std::string(key)); it != tx_cache_.meta.end()) return it->second;
  }
  auto value = guarded("reading meta", [&]() -> std::optional<std::string> {
    struct Cols {
      std::string key;
      std::string value;
      soci::indicator ind = soci::i_null;
    };
    auto q = reuse<Cols>("SELECT value FROM meta WHERE key = :k", [](soci::statement& st, Cols& c) {
      st.exchange(soci::use(c.key, "k"));
      st.exchange(soci::into(c.value, c.ind));
    });
    q.c().key = key;
    if (!q.st().execute(true) || q.c().ind != soci::i_ok) return std::nullopt;
    return q.c().value;
  });
  if (depth_ > 0) tx_cache_.meta[std::string(key)] = value;
  return value;
}

void SociStore::meta_set(std::string_view key, std::string_view value) {
  tx_cache_.meta.erase(std::string(key));
  guarded("writing meta", [&] {
    const std::string k(key);
    const std::string v(value);
    sql_ << "INSERT INTO meta (key, value) VALUES (:k, :v) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        soci::use(k), soci::use(v);
  });
}

std::vector<model::Channel> SociStore::query_channels(const std::string& where, const std::string& text_param,
                                                      long long id_param) {
  struct Cols {
    model::Channel c;
    long long id = 0;
    long long create_time = 0;
    long long change_time = 0;
    int customer = 0;
    int pub = 0;
    int valid = 0;
    std::string name_param;
    long long id_param = 0;
  };
  return guarded("reading channels", [&] {
    std::vector<model::Channel> out;
    const bool by_name = where.find(":name") != std::string::npos;
    const bool by_id = where.find(":id") != std::string::npos;
    auto q = reuse<Cols>(kChannelColumns + where + " ORDER BY id", [by_name, by_id](soci::statement& st, Cols& r) {
      st.exchange(soci::into(r.id));
      st.exchange(soci::into(r.c.name));
      st.exchange(soci::into(r.c.group));
      st.exchange(soci::into(r.customer));
      st.exchange(soci::into(r.pub));
      st.exchange(soci::into(r.valid));
      st.exchange(soci::into(r.c.comment));
      st.exchange(soci::into(r.create_time));
      st.exchange(soci::into(r.c.create_by));
      st.exchange(soci::into(r.change_time));
      st.exchange(soci::into(r.c.change_by));
      if (by_name) st.exchange(soci::use(r.name_param, "name"));
      if (by_id) st.exchange(soci::use(r.id_param, "id"));
    });
    auto& r = q.c();
    r.name_param = text_param;
    r.id_param = id_param;
    q.st().execute();
    while (q.st().fetch()) {
      r.c.id = r.id;
      r.c.customer_users = r.customer != 0;
      r.c.public_users = r.pub != 0;
      r.c.validity = static_cast<model::Validity>(r.valid);
      r.c.create_time = r.create_time;
      r.c.change_time = r.change_time;
      out.push_back(r.c);
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
  return first_row(query_channels("WHERE id = :id", {}, id));
}

std::optional<model::Channel> SociStore::find_channel_by_name(std::string_view name) {
  return first_row(query_channels("WHERE name = :name", std::string(name), 0));
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
  tx_cache_.chats.clear();  // they carry the channel's name
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

namespace {

// Builds WHERE clauses whose values are bound, never spliced into the SQL.
struct Where {
  std::string sql;
  std::vector<std::string> texts;
  std::vector<long long> ints;
  void add(const std::string& cond) { sql += (sql.empty() ? "WHERE " : " AND ") + cond; }
  std::string text(std::string v) {
    texts.push_back(std::move(v));
    return ":t" + std::to_string(texts.size() - 1);
  }
  std::string integer(long long v) {
    ints.push_back(v);
    return ":i" + std::to_string(ints.size() - 1);
  }
};

}  // namespace

std::vector<model::Agent> SociStore::query_agents(const std::string& where, const std::vector<std::string>& texts,
                                                  const std::vector<long long>& ints) {
  struct Cols {
    model::Agent a;
    long long id = 0;
    int availability = 0;
    long long last_seen = 0;
    long long create_time = 0;
    long long change_time = 0;
  };
  auto agents = guarded("reading agents", [&] {
    std::vector<model::Agent> out;
    auto q = reuse<Cols>("SELECT id, login, name, email, availability, last_seen, create_time, change_time FROM agent " +
                             where + " ORDER BY login",
                         texts, ints, [](soci::statement& st, Cols& r) {
                           st.exchange(soci::into(r.id));
                           st.exchange(soci::into(r.a.login));
                           st.exchange(soci::into(r.a.name));
                           st.exchange(soci::into(r.a.email));
                           st.exchange(soci::into(r.availability));
                           st.exchange(soci::into(r.last_seen));
                           st.exchange(soci::into(r.create_time));
                           st.exchange(soci::into(r.change_time));
                         });
    auto& r = q.c();
    q.st().execute();
    while (q.st().fetch()) {
      r.a.id = r.id;
      r.a.availability = static_cast<model::AgentAvailability>(r.availability);
      r.a.last_seen = r.last_seen;
      r.a.create_time = r.create_time;
      r.a.change_time = r.change_time;
      out.push_back(r.a);
    }
    return out;
  });
  if (agents.empty()) return agents;
  // Groups and channels in two queries for the whole result, not two per agent.
  struct Link {
    long long agent_id = 0;
    std::string group;
    long long channel_id = 0;
  };
  guarded("reading agent groups", [&] {
    std::unordered_map<long long, model::Agent*> by_id;
    for (auto& a : agents) by_id[a.id] = &a;
    {
      auto q = reuse<Link>("SELECT agent_id, group_name FROM agent_group ORDER BY group_name",
                           [](soci::statement& st, Link& r) {
                             st.exchange(soci::into(r.agent_id));
                             st.exchange(soci::into(r.group));
                           });
      q.st().execute();
      while (q.st().fetch()) {
        if (auto it = by_id.find(q.c().agent_id); it != by_id.end()) it->second->groups.push_back(q.c().group);
      }
    }
    auto q = reuse<Link>("SELECT agent_id, chat_channel_id FROM agent_channel ORDER BY chat_channel_id",
                         [](soci::statement& st, Link& r) {
                           st.exchange(soci::into(r.agent_id));
                           st.exchange(soci::into(r.channel_id));
                         });
    q.st().execute();
    while (q.st().fetch()) {
      if (auto it = by_id.find(q.c().agent_id); it != by_id.end()) it->second->channels.push_back(q.c().channel_id);
    }
    // Byte order whatever the database collation: the engine binary-searches these.
    for (auto& a : agents) std::sort(a.groups.begin(), a.groups.end());
  });
  return agents;
}

std::vector<model::Agent> SociStore::list_agents(const AgentFilter& filter) {
  Where w;
  if (filter.group) {
    w.add("id IN (SELECT agent_id FROM agent_group WHERE group_name = " + w.text(*filter.group) + ")");
  }
  if (filter.seen_since) w.add("last_seen >= " + w.integer(*filter.seen_since));
  if (filter.min_availability) w.add("availability >= " + w.integer(static_cast<int>(*filter.min_availability)));
  return query_agents(w.sql, w.texts, w.ints);
}

std::optional<model::Agent> SociStore::find_agent(std::string_view login) {
  Where w;
  w.add("login = " + w.text(std::string(login)));
  return first_row(query_agents(w.sql, w.texts, w.ints));
}

void SociStore::write_agent_sets(const model::Agent& a) {
  const long long id = a.id;
  sql_ << "DELETE FROM agent_group WHERE agent_id = :id", soci::use(id);
  sql_ << "DELETE FROM agent_channel WHERE agent_id = :id", soci::use(id);
  for (const auto& g : a.groups) {
    sql_ << "INSERT INTO agent_group (agent_id, group_name) VALUES (:id, :g)", soci::use(id), soci::use(g);
  }
  for (const auto c : a.channels) {
    const long long channel = c;
    sql_ << "INSERT INTO agent_channel (agent_id, chat_channel_id) VALUES (:id, :c)", soci::use(id), soci::use(channel);
  }
}

model::AgentId SociStore::insert_agent(const model::Agent& a) {
  return guarded("adding an agent", [&] {
    const int availability = static_cast<int>(a.availability);
    const long long last_seen = a.last_seen;
    const long long create_time = a.create_time;
    const long long change_time = a.change_time;
    long long id = 0;
    sql_ << "INSERT INTO agent (login, name, email, availability, last_seen, create_time, change_time) "
            "VALUES (:l, :n, :e, :a, :s, :ct, :mt) RETURNING id",
        soci::use(a.login), soci::use(a.name), soci::use(a.email), soci::use(availability), soci::use(last_seen),
        soci::use(create_time), soci::use(change_time), soci::into(id);
    model::Agent with_id = a;
    with_id.id = id;
    write_agent_sets(with_id);
    return static_cast<model::AgentId>(id);
  });
}

void SociStore::update_agent(const model::Agent& a) {
  guarded("updating an agent", [&] {
    const int availability = static_cast<int>(a.availability);
    const long long last_seen = a.last_seen;
    const long long change_time = a.change_time;
    const long long id = a.id;
    sql_ << "UPDATE agent SET login = :l, name = :n, email = :e, availability = :a, last_seen = :s, change_time = :mt "
            "WHERE id = :id",
        soci::use(a.login), soci::use(a.name), soci::use(a.email), soci::use(availability), soci::use(last_seen),
        soci::use(change_time), soci::use(id);
    write_agent_sets(a);
  });
}

std::vector<model::Customer> SociStore::query_customers(const std::string& where, const std::vector<std::string>& texts,
                                                        const std::vector<long long>& ints) {
  struct Cols {
    model::Customer c;
    std::string kind;
    int availability = 0;
    long long last_seen = 0;
    long long create_time = 0;
    long long change_time = 0;
    int banned = 0;
  };
  return guarded("reading customers", [&] {
    std::vector<model::Customer> out;
    auto q = reuse<Cols>("SELECT id, name, email, kind, availability, last_seen, create_time, change_time, profile, "
                         "banned FROM customer " + where + " ORDER BY id",
                         texts, ints, [](soci::statement& st, Cols& r) {
                           st.exchange(soci::into(r.c.id));
                           st.exchange(soci::into(r.c.name));
                           st.exchange(soci::into(r.c.email));
                           st.exchange(soci::into(r.kind));
                           st.exchange(soci::into(r.availability));
                           st.exchange(soci::into(r.last_seen));
                           st.exchange(soci::into(r.create_time));
                           st.exchange(soci::into(r.change_time));
                           st.exchange(soci::into(r.c.profile));
                           st.exchange(soci::into(r.banned));
                         });
    auto& r = q.c();
    q.st().execute();
    while (q.st().fetch()) {
      r.c.kind = model::parse_customer_kind(r.kind).value_or(model::CustomerKind::customer);
      r.c.availability = static_cast<model::CustomerAvailability>(r.availability);
      r.c.last_seen = r.last_seen;
      r.c.create_time = r.create_time;
      r.c.change_time = r.change_time;
      r.c.banned = r.banned != 0;
      out.push_back(r.c);
    }
    return out;
  });
}

std::vector<model::Customer> SociStore::list_customers(const CustomerFilter& filter) {
  Where w;
  if (filter.kind) w.add("kind = " + w.text(std::string(model::to_string(*filter.kind))));
  if (filter.seen_since) w.add("last_seen >= " + w.integer(*filter.seen_since));
  if (filter.min_availability) w.add("availability >= " + w.integer(static_cast<int>(*filter.min_availability)));
  return query_customers(w.sql, w.texts, w.ints);
}

std::optional<model::Customer> SociStore::find_customer(std::string_view id) {
  if (depth_ > 0) {
    if (const auto it = tx_cache_.customers.find(std::string(id)); it != tx_cache_.customers.end()) return it->second;
  }
  Where w;
  w.add("id = " + w.text(std::string(id)));
  auto customer = first_row(query_customers(w.sql, w.texts, w.ints));
  if (depth_ > 0 && customer) tx_cache_.customers.emplace(customer->id, *customer);
  return customer;
}

namespace {

// A customer's columns as insert_customer and update_customer bind them (by name).
struct CustomerCols {
  model::Customer c;
  std::string kind;
  int availability = 0;
  long long last_seen = 0;
  long long create_time = 0;
  long long change_time = 0;
  int banned = 0;

  void set(const model::Customer& from) {
    c = from;
    kind = model::to_string(from.kind);
    availability = static_cast<int>(from.availability);
    last_seen = from.last_seen;
    create_time = from.create_time;
    change_time = from.change_time;
    banned = from.banned ? 1 : 0;
  }
  static void bind(soci::statement& st, CustomerCols& r, bool with_create_time) {
    st.exchange(soci::use(r.c.id, "id"));
    st.exchange(soci::use(r.c.name, "n"));
    st.exchange(soci::use(r.c.email, "e"));
    st.exchange(soci::use(r.kind, "k"));
    st.exchange(soci::use(r.availability, "a"));
    st.exchange(soci::use(r.last_seen, "s"));
    if (with_create_time) st.exchange(soci::use(r.create_time, "ct"));
    st.exchange(soci::use(r.change_time, "mt"));
    st.exchange(soci::use(r.c.profile, "pr"));
    st.exchange(soci::use(r.banned, "b"));
  }
};

}  // namespace

void SociStore::insert_customer(const model::Customer& c) {
  tx_cache_.customers.erase(c.id);
  guarded("adding a customer", [&] {
    auto q = reuse<CustomerCols>("INSERT INTO customer (id, name, email, kind, availability, last_seen, create_time, "
                                 "change_time, profile, banned) VALUES (:id, :n, :e, :k, :a, :s, :ct, :mt, :pr, :b)",
                                 [](soci::statement& st, CustomerCols& r) { CustomerCols::bind(st, r, true); });
    q.c().set(c);
    q.st().execute(true);
  });
}

void SociStore::update_customer(const model::Customer& c) {
  tx_cache_.customers.erase(c.id);  // read again as stored
  guarded("updating a customer", [&] {
    auto q = reuse<CustomerCols>("UPDATE customer SET name = :n, email = :e, kind = :k, availability = :a, "
                                 "last_seen = :s, change_time = :mt, profile = :pr, banned = :b WHERE id = :id",
                                 [](soci::statement& st, CustomerCols& r) { CustomerCols::bind(st, r, false); });
    q.c().set(c);
    q.st().execute(true);
  });
}

std::int64_t SociStore::insert_token(const model::CustomerToken& t) {
  struct Cols {
    model::CustomerToken t;
    long long create_time = 0;
    long long expire_time = 0;
    int revoked = 0;
    long long id = 0;
  };
  return guarded("adding a token", [&] {
    auto q = reuse<Cols>("INSERT INTO customer_token (token_hash, customer_id, create_time, expire_time, revoked) "
                         "VALUES (:h, :c, :ct, :et, :r)" + returning("id"),
                         [sqlite = backend_ == Backend::sqlite](soci::statement& st, Cols& r) {
                           st.exchange(soci::use(r.t.token_hash, "h"));
                           st.exchange(soci::use(r.t.customer_id, "c"));
                           st.exchange(soci::use(r.create_time, "ct"));
                           st.exchange(soci::use(r.expire_time, "et"));
                           st.exchange(soci::use(r.revoked, "r"));
                           if (!sqlite) st.exchange(soci::into(r.id));
                         });
    auto& r = q.c();
    r.t = t;
    r.create_time = t.create_time;
    r.expire_time = t.expire_time;
    r.revoked = t.revoked ? 1 : 0;
    q.st().execute(true);
    return static_cast<std::int64_t>(inserted_id(r.id));
  });
}

std::vector<model::CustomerToken> SociStore::query_tokens(const std::string& where,
                                                          const std::vector<std::string>& texts) {
  struct Cols {
    model::CustomerToken t;
    long long id = 0;
    long long create_time = 0;
    long long expire_time = 0;
    int revoked = 0;
  };
  return guarded("reading tokens", [&] {
    std::vector<model::CustomerToken> out;
    auto q = reuse<Cols>("SELECT id, token_hash, customer_id, create_time, expire_time, revoked FROM customer_token " +
                             where + " ORDER BY id",
                         texts, {}, [](soci::statement& st, Cols& r) {
                           st.exchange(soci::into(r.id));
                           st.exchange(soci::into(r.t.token_hash));
                           st.exchange(soci::into(r.t.customer_id));
                           st.exchange(soci::into(r.create_time));
                           st.exchange(soci::into(r.expire_time));
                           st.exchange(soci::into(r.revoked));
                         });
    auto& r = q.c();
    q.st().execute();
    while (q.st().fetch()) {
      r.t.id = r.id;
      r.t.create_time = r.create_time;
      r.t.expire_time = r.expire_time;
      r.t.revoked = r.revoked != 0;
      out.push_back(r.t);
    }
    return out;
  });
}

std::optional<model::CustomerToken> SociStore::find_token(std::string_view token_hash) {
  Where w;
  w.add("token_hash = " + w.text(std::string(token_hash)));
  return first_row(query_tokens(w.sql, w.texts));
}

std::vector<model::CustomerToken> SociStore::list_tokens(const std::optional<std::string>& customer_id) {
  Where w;
  if (customer_id) w.add("customer_id = " + w.text(*customer_id));
  return query_tokens(w.sql, w.texts);
}

std::size_t SociStore::revoke_tokens(std::int64_t id, const std::optional<std::string>& customer_id) {
  return guarded("revoking tokens", [&] {
    const long long tid = id;
    const std::string customer = customer_id.value_or("");
    soci::statement st =
        id != 0 ? (sql_.prepare << "UPDATE customer_token SET revoked = 1 WHERE revoked = 0 AND id = :id", soci::use(tid))
                : (sql_.prepare << "UPDATE customer_token SET revoked = 1 WHERE revoked = 0 AND customer_id = :c",
                   soci::use(customer));
    st.execute(true);
    return static_cast<std::size_t>(st.get_affected_rows());
  });
}

std::int64_t SociStore::insert_greeting(const model::Greeting& g) {
  return guarded("adding a greeting", [&] {
    const long long greeting_id = g.greeting_id;
    const std::string state(model::to_string(g.state));
    const long long create_time = g.create_time;
    const long long change_time = g.change_time;
    long long id = 0;
    sql_ << "INSERT INTO greeting (unique_id, greeting_id, customer_id, agent_login, event, addon, state, create_time, "
            "change_time) VALUES (:u, :g, :c, :a, :e, :ad, :s, :ct, :mt) RETURNING id",
        soci::use(g.unique_id), soci::use(greeting_id), soci::use(g.customer_id), soci::use(g.agent_login),
        soci::use(g.event), soci::use(g.addon), soci::use(state), soci::use(create_time), soci::use(change_time),
        soci::into(id);
    return static_cast<std::int64_t>(id);
  });
}

std::vector<model::Greeting> SociStore::query_greetings(const std::string& where,
                                                        const std::vector<std::string>& texts) {
  struct Cols {
    model::Greeting g;
    long long id = 0;
    long long greeting_id = 0;
    std::string state;
    long long create_time = 0;
    long long change_time = 0;
  };
  return guarded("reading greetings", [&] {
    std::vector<model::Greeting> out;
    auto q = reuse<Cols>("SELECT id, unique_id, greeting_id, customer_id, agent_login, event, addon, state, "
                         "create_time, change_time FROM greeting " + where + " ORDER BY id DESC",
                         texts, {}, [](soci::statement& st, Cols& r) {
                           st.exchange(soci::into(r.id));
                           st.exchange(soci::into(r.g.unique_id));
                           st.exchange(soci::into(r.greeting_id));
                           st.exchange(soci::into(r.g.customer_id));
                           st.exchange(soci::into(r.g.agent_login));
                           st.exchange(soci::into(r.g.event));
                           st.exchange(soci::into(r.g.addon));
                           st.exchange(soci::into(r.state));
                           st.exchange(soci::into(r.create_time));
                           st.exchange(soci::into(r.change_time));
                         });
    auto& r = q.c();
    q.st().execute();
    while (q.st().fetch()) {
      r.g.id = r.id;
      r.g.greeting_id = r.greeting_id;
      r.g.state = model::parse_greeting_state(r.state).value_or(model::GreetingState::shown);
      r.g.create_time = r.create_time;
      r.g.change_time = r.change_time;
      out.push_back(r.g);
    }
    return out;
  });
}

std::optional<model::Greeting> SociStore::find_greeting(std::string_view unique_id) {
  Where w;
  w.add("unique_id = " + w.text(std::string(unique_id)));
  return first_row(query_greetings(w.sql, w.texts));
}

std::vector<model::Greeting> SociStore::list_greetings(std::string_view customer_id) {
  Where w;
  w.add("customer_id = " + w.text(std::string(customer_id)));
  return query_greetings(w.sql, w.texts);
}

void SociStore::update_greeting(const model::Greeting& g) {
  guarded("updating a greeting", [&] {
    const std::string state(model::to_string(g.state));
    const long long change_time = g.change_time;
    const long long id = g.id;
    sql_ << "UPDATE greeting SET state = :s, change_time = :mt WHERE id = :id", soci::use(state),
        soci::use(change_time), soci::use(id);
  });
}

namespace {

model::ChatterType chatter_type_of(const std::string& s) {
  return model::parse_chatter_type(s).value_or(model::ChatterType::user);
}

std::string in_list(Where& w, const std::vector<long long>& values) {
  std::string out;
  for (const auto v : values) out += (out.empty() ? "" : ", ") + w.integer(v);
  return out;
}

// A chat's columns as insert_chat and update_chat bind them.
struct ChatCols {
  model::Chat c;
  std::string status;
  std::string requester_type;
  std::string target_type;
  long long channel = 0;
  long long ticket = 0;
  long long create_time = 0;
  long long change_time = 0;
  long long id = 0;
  long long new_id = 0;

  void set(const model::Chat& from) {
    c = from;
    status = model::to_string(from.status);
    requester_type = model::to_string(from.requester_type);
    target_type = model::to_string(from.target_type);
    channel = from.channel_id;
    ticket = from.ticket_id;
    create_time = from.create_time;
    change_time = from.change_time;
    id = from.id;
  }
};

}  // namespace

model::ChatId SociStore::insert_chat(const model::Chat& c) {
  using Cols = ChatCols;
  return guarded("adding a chat", [&] {
    const bool with_id = c.id != 0;  // import gives the exported id; 0 lets the database choose
    auto q = reuse<Cols>(std::string("INSERT INTO chat (") + (with_id ? "id, " : "") +
                             "status, requester_id, requester_name, requester_type, target_type, chat_channel_id, "
                             "ticket_id, create_time, change_time, properties) VALUES (" +
                             (with_id ? ":id, " : "") + ":s, :ri, :rn, :rt, :tt, :ch, :tk, :ct, :mt, :pr)" +
                             returning("id"),
                         [with_id, sqlite = backend_ == Backend::sqlite](soci::statement& st, Cols& r) {
                           if (with_id) st.exchange(soci::use(r.id, "id"));
                           st.exchange(soci::use(r.status, "s"));
                           st.exchange(soci::use(r.c.requester_id, "ri"));
                           st.exchange(soci::use(r.c.requester_name, "rn"));
                           st.exchange(soci::use(r.requester_type, "rt"));
                           st.exchange(soci::use(r.target_type, "tt"));
                           st.exchange(soci::use(r.channel, "ch"));
                           st.exchange(soci::use(r.ticket, "tk"));
                           st.exchange(soci::use(r.create_time, "ct"));
                           st.exchange(soci::use(r.change_time, "mt"));
                           st.exchange(soci::use(r.c.properties, "pr"));
                           if (!sqlite) st.exchange(soci::into(r.new_id));
                         });
    auto& r = q.c();
    r.set(c);
    q.st().execute(true);
    return static_cast<model::ChatId>(inserted_id(r.new_id));
  });
}

namespace {

// "a = :a, c = :c" of the columns whose bit is set in `mask`.
std::string set_list(std::initializer_list<const char*> assignments, unsigned mask) {
  std::string out;
  unsigned bit = 1;
  for (const char* a : assignments) {
    if (mask & bit) out += (out.empty() ? "" : ", ") + std::string(a);
    bit <<= 1;
  }
  return out;
}

// The bits of the columns that differ from what is known of the row (all when nothing is).
template <std::size_t N>
unsigned changed_columns(bool known, const std::array<bool, N>& differs) {
  unsigned mask = 0;
  for (std::size_t i = 0; i < N; ++i) {
    if (!known || differs[i]) mask |= 1u << i;
  }
  return mask;
}

}  // namespace

// Updates write only the columns that differ from what this transaction knows of the row: SQLite
// then leaves alone the indexes and the CHECK constraints of the others (touching a chat rewrites
// change_time alone, not four indexes).
void SociStore::update_chat(const model::Chat& c) {
  const auto cached = tx_cache_.chats.find(c.id);
  const model::Chat* was = cached == tx_cache_.chats.end() ? nullptr : &cached->second;
  const unsigned mask = changed_columns<9>(
      was != nullptr,
      {was && was->status != c.status, was && was->requester_id != c.requester_id,
       was && was->requester_name != c.requester_name, was && was->requester_type != c.requester_type,
       was && was->target_type != c.target_type, was && was->channel_id != c.channel_id,
       was && was->ticket_id != c.ticket_id, was && was->change_time != c.change_time,
       was && was->properties != c.properties});
  if (mask == 0) return;
  using Cols = ChatCols;
  guarded("updating a chat", [&] {
    auto q = reuse<Cols>("UPDATE chat SET " +
                             set_list({"status = :s", "requester_id = :ri", "requester_name = :rn",
                                       "requester_type = :rt", "target_type = :tt", "chat_channel_id = :ch",
                                       "ticket_id = :tk", "change_time = :mt", "properties = :pr"},
                                      mask) +
                             " WHERE id = :id",
                         [mask](soci::statement& st, Cols& r) {
                           if (mask & 1u) st.exchange(soci::use(r.status, "s"));
                           if (mask & 2u) st.exchange(soci::use(r.c.requester_id, "ri"));
                           if (mask & 4u) st.exchange(soci::use(r.c.requester_name, "rn"));
                           if (mask & 8u) st.exchange(soci::use(r.requester_type, "rt"));
                           if (mask & 16u) st.exchange(soci::use(r.target_type, "tt"));
                           if (mask & 32u) st.exchange(soci::use(r.channel, "ch"));
                           if (mask & 64u) st.exchange(soci::use(r.ticket, "tk"));
                           if (mask & 128u) st.exchange(soci::use(r.change_time, "mt"));
                           if (mask & 256u) st.exchange(soci::use(r.c.properties, "pr"));
                           st.exchange(soci::use(r.id, "id"));
                         });
    q.c().set(c);
    q.st().execute(true);
  });
  if (was) {
    if (was->channel_id == c.channel_id) {
      std::string channel_name = std::move(cached->second.channel_name);
      cached->second = c;
      cached->second.channel_name = std::move(channel_name);
    } else {
      tx_cache_.chats.erase(cached);
    }
  }
}

std::vector<model::Chat> SociStore::query_chats(const std::string& where, const std::vector<std::string>& texts,
                                                const std::vector<long long>& ints, std::size_t limit) {
  struct Cols {
    model::Chat c;
    long long id = 0;
    std::string status;
    std::string requester_type;
    std::string target_type;
    long long channel = 0;
    long long ticket = 0;
    long long create_time = 0;
    long long change_time = 0;
  };
  return guarded("reading chats", [&] {
    std::vector<model::Chat> out;
    auto q = reuse<Cols>(
        "SELECT c.id, c.status, c.requester_id, c.requester_name, c.requester_type, c.target_type, "
        "c.chat_channel_id, ch.name, c.ticket_id, c.create_time, c.change_time, c.properties FROM chat c "
        "JOIN chat_channel ch ON ch.id = c.chat_channel_id " +
            where + " ORDER BY c.id" + (limit ? " LIMIT " + std::to_string(limit) : std::string()),
        texts, ints, [](soci::statement& st, Cols& r) {
          st.exchange(soci::into(r.id));
          st.exchange(soci::into(r.status));
          st.exchange(soci::into(r.c.requester_id));
          st.exchange(soci::into(r.c.requester_name));
          st.exchange(soci::into(r.requester_type));
          st.exchange(soci::into(r.target_type));
          st.exchange(soci::into(r.channel));
          st.exchange(soci::into(r.c.channel_name));
          st.exchange(soci::into(r.ticket));
          st.exchange(soci::into(r.create_time));
          st.exchange(soci::into(r.change_time));
          st.exchange(soci::into(r.c.properties));
        });
    auto& r = q.c();
    q.st().execute();
    while (q.st().fetch()) {
      r.c.id = r.id;
      r.c.status = model::parse_chat_status(r.status).value_or(model::ChatStatus::request);
      r.c.requester_type = chatter_type_of(r.requester_type);
      r.c.target_type = chatter_type_of(r.target_type);
      r.c.channel_id = r.channel;
      r.c.ticket_id = r.ticket;
      r.c.create_time = r.create_time;
      r.c.change_time = r.change_time;
      out.push_back(r.c);
    }
    return out;
  });
}

std::optional<model::Chat> SociStore::find_chat(model::ChatId id) {
  if (depth_ > 0) {
    if (const auto it = tx_cache_.chats.find(id); it != tx_cache_.chats.end()) return it->second;
  }
  Where w;
  w.add("c.id = " + w.integer(id));
  auto chat = first_row(query_chats(w.sql, w.texts, w.ints, 0));
  if (depth_ > 0 && chat) tx_cache_.chats[id] = *chat;
  return chat;
}

namespace {

Where chat_where(const ChatFilter& f) {
  Where w;
  if (f.status) w.add("c.status = " + w.text(std::string(model::to_string(*f.status))));
  if (!f.requester_types.empty()) {
    std::string list;
    for (const auto t : f.requester_types) list += (list.empty() ? "" : ", ") + w.text(std::string(model::to_string(t)));
    w.add("c.requester_type IN (" + list + ")");
  }
  if (f.target_type) w.add("c.target_type = " + w.text(std::string(model::to_string(*f.target_type))));
  if (!f.channel_ids.empty()) {
    std::vector<long long> ids(f.channel_ids.begin(), f.channel_ids.end());
    w.add("c.chat_channel_id IN (" + in_list(w, ids) + ")");
  }
  if (f.changed_before) w.add("c.change_time < " + w.integer(*f.changed_before));
  if (f.chatter_id && f.chatter_type) {
    std::string sub = "SELECT p.chat_id FROM chat_participant p WHERE p.chatter_type = " +
                      w.text(std::string(model::to_string(*f.chatter_type))) + " AND p.chatter_id = " +
                      w.text(*f.chatter_id);
    if (f.chatter_active) sub += " AND p.chatter_active = " + w.integer(static_cast<int>(*f.chatter_active));
    if (f.invitation_pending) sub += " AND p.invitation = 1 AND p.chatter_active = 0";
    w.add("c.id IN (" + sub + ")");
  }
  if (!f.ids.empty()) {
    std::vector<long long> ids(f.ids.begin(), f.ids.end());
    w.add("c.id IN (" + in_list(w, ids) + ")");
  }
  if (f.after_id) w.add("c.id > " + w.integer(*f.after_id));
  if (f.created_since) w.add("c.create_time >= " + w.integer(*f.created_since));
  if (f.created_before) w.add("c.create_time < " + w.integer(*f.created_before));
  return w;
}

// "1, 2, 3": integers are spliced into the SQL (they cannot inject anything), which keeps batch
// statements short and lets the database plan them once per shape.
std::string id_list(const std::vector<model::ChatId>& ids) {
  std::string out;
  out.reserve(ids.size() * 8);
  for (const auto id : ids) {
    if (!out.empty()) out += ", ";
    out += std::to_string(id);
  }
  return out;
}

}  // namespace

std::vector<model::Chat> SociStore::list_chats(const ChatFilter& f) {
  const Where w = chat_where(f);
  return query_chats(w.sql, w.texts, w.ints, f.limit);
}

std::vector<model::ChatId> SociStore::list_chat_ids(const ChatFilter& f) {
  const Where w = chat_where(f);
  return guarded("reading chats", [&] {
    std::vector<model::ChatId> out;
    auto q = reuse<long long>("SELECT c.id FROM chat c " + w.sql + " ORDER BY c.id" +
                                  (f.limit ? " LIMIT " + std::to_string(f.limit) : std::string()),
                              w.texts, w.ints, [](soci::statement& st, long long& id) { st.exchange(soci::into(id)); });
    q.st().execute();
    while (q.st().fetch()) out.push_back(q.c());
    return out;
  });
}

std::vector<ChatterChat> SociStore::chatter_chats(model::ChatterType type, const std::string& chatter_id) {
  struct Cols {
    long long id = 0;
    std::string status;
    long long threads = 0;
    long long last_thread_time = 0;
    soci::indicator last_thread_ind = soci::i_null;
    int unread = 0;
  };
  return guarded("reading a chatter's chats", [&] {
    std::vector<ChatterChat> out;
    auto q = reuse<Cols>(
        "SELECT c.id, c.status, (SELECT COUNT(*) FROM chat_thread t WHERE t.chat_id = c.id), "
        "(SELECT t.create_time FROM chat_thread t WHERE t.chat_id = c.id ORDER BY t.id DESC LIMIT 1), "
        "CASE WHEN EXISTS (SELECT 1 FROM chat_message m JOIN chat_participant a ON a.id = m.chat_participant_id "
        "WHERE m.chat_id = c.id AND m.internal <> 1 AND m.create_time > p.seen_up_to "
        "AND a.chatter_id <> p.chatter_id) THEN 1 ELSE 0 END "
        "FROM chat_participant p JOIN chat c ON c.id = p.chat_id "
        "WHERE p.chatter_type = :t0 AND p.chatter_id = :t1 ORDER BY c.id",
        {std::string(model::to_string(type)), chatter_id}, {}, [](soci::statement& st, Cols& r) {
          st.exchange(soci::into(r.id));
          st.exchange(soci::into(r.status));
          st.exchange(soci::into(r.threads));
          st.exchange(soci::into(r.last_thread_time, r.last_thread_ind));
          st.exchange(soci::into(r.unread));
        });
    q.st().execute();
    while (q.st().fetch()) {
      const auto& r = q.c();
      out.push_back({r.id, r.status != model::to_string(model::ChatStatus::closed),
                     static_cast<std::size_t>(r.threads),
                     r.last_thread_ind == soci::i_ok ? r.last_thread_time : 0, r.unread != 0});
    }
    return out;
  });
}

bool SociStore::delete_chat(model::ChatId id) { return delete_chats({id}).chats > 0; }

DeleteCounts SociStore::delete_chats(const std::vector<model::ChatId>& ids) {
  tx_cache_.clear();
  DeleteCounts n;
  if (ids.empty()) return n;
  const std::string in = " IN (" + id_list(ids) + ")";
  return guarded("deleting chats", [&] {
    // Children first, each table in one statement: the schema cascades too, but explicit deletes
    // count what went and keep PostgreSQL and SQLite (whose foreign_keys pragma a foreign tool
    // may have off) alike.
    const auto run = [&](const std::string& sql) {
      soci::statement st = (sql_.prepare << sql);
      st.execute(true);
      return static_cast<std::size_t>(st.get_affected_rows());
    };
    n.flags = run("DELETE FROM chat_flag WHERE chat_id" + in);
    n.invites = run("DELETE FROM chat_invite WHERE chat_id" + in);
    n.messages = run("DELETE FROM chat_message WHERE chat_id" + in);
    n.threads = run("DELETE FROM chat_thread WHERE chat_id" + in);
    n.participants = run("DELETE FROM chat_participant WHERE chat_id" + in);
    n.chats = run("DELETE FROM chat WHERE id" + in);
    return n;
  });
}

model::ThreadId SociStore::insert_thread(const model::Thread& t) {
  tx_cache_.threads.erase(t.chat_id);
  struct Cols {
    model::Thread t;
    long long id = 0;
    long long chat = 0;
    int active = 0;
    long long create_time = 0;
    long long close_time = 0;
    soci::indicator close_ind = soci::i_null;
    long long new_id = 0;
  };
  return guarded("adding a thread", [&] {
    const bool with_id = t.id != 0;  // import gives the exported id; 0 lets the database choose
    auto q = reuse<Cols>(std::string("INSERT INTO chat_thread (") + (with_id ? "id, " : "") +
                             "chat_id, active, properties, create_time, close_time) VALUES (" +
                             (with_id ? ":id, " : "") + ":c, :a, :p, :ct, :cl)" + returning("id"),
                         [with_id, sqlite = backend_ == Backend::sqlite](soci::statement& st, Cols& r) {
                           if (with_id) st.exchange(soci::use(r.id, "id"));
                           st.exchange(soci::use(r.chat, "c"));
                           st.exchange(soci::use(r.active, "a"));
                           st.exchange(soci::use(r.t.properties, "p"));
                           st.exchange(soci::use(r.create_time, "ct"));
                           st.exchange(soci::use(r.close_time, r.close_ind, "cl"));
                           if (!sqlite) st.exchange(soci::into(r.new_id));
                         });
    auto& r = q.c();
    r.t = t;
    r.id = t.id;
    r.chat = t.chat_id;
    r.active = t.active ? 1 : 0;
    r.create_time = t.create_time;
    r.close_time = t.close_time.value_or(0);
    r.close_ind = t.close_time ? soci::i_ok : soci::i_null;
    q.st().execute(true);
    return static_cast<model::ThreadId>(inserted_id(r.new_id));
  });
}

void SociStore::update_thread(const model::Thread& t) {
  tx_cache_.threads.erase(t.chat_id);
  guarded("updating a thread", [&] {
    const long long id = t.id;
    const int active = t.active ? 1 : 0;
    long long close_time = t.close_time.value_or(0);
    soci::indicator close_ind = t.close_time ? soci::i_ok : soci::i_null;
    sql_ << "UPDATE chat_thread SET active = :a, properties = :p, close_time = :cl WHERE id = :id", soci::use(active),
        soci::use(t.properties), soci::use(close_time, close_ind), soci::use(id);
  });
}

std::vector<model::Thread> SociStore::query_threads(const std::string& where, const std::vector<long long>& ints) {
  struct Cols {
    model::Thread t;
    long long id = 0;
    long long chat = 0;
    int active = 0;
    long long create_time = 0;
    long long close_time = 0;
    soci::indicator close_ind = soci::i_null;
  };
  return guarded("reading threads", [&] {
    std::vector<model::Thread> out;
    auto q = reuse<Cols>("SELECT id, chat_id, active, properties, create_time, close_time FROM chat_thread " + where +
                             " ORDER BY chat_id, id",
                         {}, ints, [](soci::statement& st, Cols& r) {
                           st.exchange(soci::into(r.id));
                           st.exchange(soci::into(r.chat));
                           st.exchange(soci::into(r.active));
                           st.exchange(soci::into(r.t.properties));
                           st.exchange(soci::into(r.create_time));
                           st.exchange(soci::into(r.close_time, r.close_ind));
                         });
    auto& r = q.c();
    q.st().execute();
    while (q.st().fetch()) {
      r.t.id = r.id;
      r.t.chat_id = r.chat;
      r.t.active = r.active != 0;
      r.t.create_time = r.create_time;
      r.t.close_time = r.close_ind == soci::i_ok ? std::optional<core::Micros>(r.close_time) : std::nullopt;
      out.push_back(r.t);
    }
    return out;
  });
}

std::vector<model::Thread> SociStore::list_threads(model::ChatId chat) {
  if (depth_ > 0) {
    if (const auto it = tx_cache_.threads.find(chat); it != tx_cache_.threads.end()) return it->second;
  }
  Where w;
  w.add("chat_id = " + w.integer(chat));
  auto threads = query_threads(w.sql, w.ints);
  if (depth_ > 0) tx_cache_.threads[chat] = threads;
  return threads;
}

std::vector<Transcript> SociStore::read_transcripts(const ChatFilter& filter, bool include_internal) {
  std::vector<Transcript> out;
  for (auto& c : list_chats(filter)) out.push_back(Transcript{std::move(c), {}, {}, {}, {}, {}});
  if (out.empty()) return out;
  std::vector<model::ChatId> ids;
  std::unordered_map<model::ChatId, std::size_t> index;
  for (std::size_t i = 0; i < out.size(); ++i) {
    ids.push_back(out[i].chat.id);
    index.emplace(out[i].chat.id, i);
  }
  const std::string in = "IN (" + id_list(ids) + ")";
  for (auto& t : query_threads("WHERE chat_id " + in, {})) out[index.at(t.chat_id)].threads.push_back(std::move(t));
  for (auto& p : query_participants("WHERE chat_id " + in, {}, {})) {
    out[index.at(p.chat_id)].participants.push_back(std::move(p));
  }
  // Authors come from the participants just read: joining chat_participant here would let
  // PostgreSQL hash the whole table for every page.
  std::unordered_map<model::ParticipantId, const model::Participant*> authors;
  for (const auto& t : out) {
    for (const auto& p : t.participants) authors.emplace(p.id, &p);
  }
  for (auto& m : query_messages("WHERE m.chat_id " + in + (include_internal ? "" : " AND m.internal <> 1"), {}, {},
                                " ORDER BY m.chat_id, m.id", false)) {
    if (const auto a = authors.find(m.participant_id); a != authors.end()) {
      m.chatter_id = a->second->chatter_id;
      m.chatter_name = a->second->chatter_name;
      m.chatter_type = a->second->chatter_type;
    }
    out[index.at(m.chat_id)].messages.push_back(std::move(m));
  }
  for (auto& f : query_flags("WHERE chat_id " + in, {}, {}, " ORDER BY chat_id, flag_key, create_by")) {
    out[index.at(f.chat_id)].flags.push_back(std::move(f));
  }
  for (auto& i : query_invites("WHERE chat_id " + in, {}, {})) out[index.at(i.chat_id)].invites.push_back(std::move(i));
  return out;
}

void SociStore::insert_rows(const std::string& table, const std::vector<std::string>& columns,
                            const std::vector<std::vector<Cell>>& rows) {
  if (rows.empty()) return;
  if (backend_ == Backend::sqlite) {
    // In process there is no round trip to save: one statement prepared once, run per row.
    std::vector<bool> text_column(columns.size(), false);
    for (std::size_t c = 0; c < columns.size(); ++c) {
      for (const auto& row : rows) {
        if (std::holds_alternative<std::nullptr_t>(row[c])) continue;
        text_column[c] = std::holds_alternative<std::string>(row[c]);
        break;
      }
    }
    guarded(("writing " + table).c_str(), [&] {
      std::vector<long long> ints(columns.size());
      std::vector<std::string> texts(columns.size());
      std::vector<soci::indicator> inds(columns.size(), soci::i_ok);
      std::string sql = "INSERT INTO " + table + " (";
      for (std::size_t c = 0; c < columns.size(); ++c) sql += (c ? ", " : "") + columns[c];
      sql += ") VALUES (";
      for (std::size_t c = 0; c < columns.size(); ++c) sql += (c ? ", :v" : ":v") + std::to_string(c);
      sql += ")";
      soci::statement st(sql_);
      for (std::size_t c = 0; c < columns.size(); ++c) {
        if (text_column[c]) {
          st.exchange(soci::use(texts[c], inds[c]));
        } else {
          st.exchange(soci::use(ints[c], inds[c]));
        }
      }
      st.alloc();
      st.prepare(sql);
      st.define_and_bind();
      for (const auto& row : rows) {
        for (std::size_t c = 0; c < columns.size(); ++c) {
          inds[c] = soci::i_ok;
          if (const auto* i = std::get_if<long long>(&row[c])) {
            ints[c] = *i;
          } else if (const auto* t = std::get_if<std::string>(&row[c])) {
            texts[c] = *t;
          } else {
            inds[c] = soci::i_null;
          }
        }
        st.execute(true);
      }
    });
    return;
  }
  // PostgreSQL: many rows per statement, one round trip each. At most ~4000 values per statement:
  // under the protocol's limits, and long statements cost more to plan than they save.
  const std::size_t per_statement = std::max<std::size_t>(1, 4000 / columns.size());
  std::string head = "INSERT INTO " + table + " (";
  for (std::size_t c = 0; c < columns.size(); ++c) head += (c ? ", " : "") + columns[c];
  head += ") VALUES ";
  for (std::size_t from = 0; from < rows.size(); from += per_statement) {
    const std::size_t to = std::min(rows.size(), from + per_statement);
    guarded(("writing " + table).c_str(), [&] {
      std::deque<long long> ints;
      std::deque<std::string> texts;
      std::deque<soci::indicator> inds;
      soci::statement st(sql_);
      std::string sql = head;
      std::size_t n = 0;
      for (std::size_t r = from; r < to; ++r) {
        sql += r > from ? ", (" : "(";
        for (std::size_t c = 0; c < columns.size(); ++c) {
          sql += (c ? ", :v" : ":v") + std::to_string(n++);
          const Cell& cell = rows[r][c];
          if (const auto* i = std::get_if<long long>(&cell)) {
            ints.push_back(*i);
            inds.push_back(soci::i_ok);
            st.exchange(soci::use(ints.back(), inds.back()));
          } else if (const auto* t = std::get_if<std::string>(&cell)) {
            texts.push_back(*t);
            inds.push_back(soci::i_ok);
            st.exchange(soci::use(texts.back(), inds.back()));
          } else {
            ints.push_back(0);
            inds.push_back(soci::i_null);
            st.exchange(soci::use(ints.back(), inds.back()));
          }
        }
        sql += ")";
      }
      st.alloc();
      st.prepare(sql);
      st.define_and_bind();
      st.execute(true);
    });
  }
}

void SociStore::insert_transcripts(const std::vector<Transcript>& transcripts) {
  tx_cache_.clear();
  if (depth_ == 0) throw Error(ErrorKind::internal, "insert_transcripts outside a write transaction");
  if (transcripts.empty()) return;
  // Participants get ids here, after the highest in use: the write transaction holds the write
  // lock on both backends, so nobody else takes them meanwhile (sync_id_sequences moves
  // PostgreSQL's sequence past them afterwards).
  long long next_participant = guarded("reading participant ids", [&] {
    long long max_id = 0;
    soci::indicator ind = soci::i_null;
    sql_ << "SELECT max(id) FROM chat_participant", soci::into(max_id, ind);
    return (ind == soci::i_ok ? max_id : 0) + 1;
  });
  std::vector<std::vector<Cell>> chats, threads, participants, messages, flags, invites;
  for (const auto& t : transcripts) {
    const auto& c = t.chat;
    chats.push_back({c.id, std::string(model::to_string(c.status)), c.requester_id, c.requester_name,
                     std::string(model::to_string(c.requester_type)), std::string(model::to_string(c.target_type)),
                     c.channel_id, c.ticket_id, c.create_time, c.change_time, c.properties});
    for (const auto& th : t.threads) {
      threads.push_back({th.id, c.id, th.active ? 1LL : 0LL, th.properties, th.create_time,
                         th.close_time ? Cell(static_cast<long long>(*th.close_time)) : Cell(nullptr)});
    }
    std::map<std::pair<model::ChatterType, std::string>, long long> authors;
    for (const auto& p : t.participants) {
      const long long id = next_participant++;
      authors[{p.chatter_type, p.chatter_id}] = id;
      participants.push_back({id, c.id, p.chatter_id, p.chatter_name, std::string(model::to_string(p.chatter_type)),
                              static_cast<long long>(p.active), p.invitation ? 1LL : 0LL,
                              static_cast<long long>(p.monitoring), std::string(model::to_string(p.permission)),
                              p.create_time});
    }
    for (const auto& m : t.messages) {
      const auto author = authors.find({m.chatter_type, m.chatter_id});
      if (author == authors.end()) {
        throw Error(ErrorKind::data, "message " + std::to_string(m.id) + " of chat " + std::to_string(c.id) +
                                         " is by " + core::quoted(m.chatter_id) + ", who is not a participant");
      }
      messages.push_back({m.id, c.id, author->second,
                          m.thread_id ? Cell(static_cast<long long>(m.thread_id)) : Cell(nullptr), m.text,
                          m.system_generated ? 1LL : 0LL, static_cast<long long>(m.audience), m.create_time,
                          std::string(model::to_string(m.type)), m.custom_id, m.properties, m.payload});
    }
    for (const auto& f : t.flags) flags.push_back({c.id, f.key, f.value, f.user, f.create_time});
    for (const auto& i : t.invites) {
      invites.push_back({c.id, i.chatter_id, i.inviter_id, i.invitation_chat_id, i.create_time});
    }
  }
  insert_rows("chat",
              {"id", "status", "requester_id", "requester_name", "requester_type", "target_type", "chat_channel_id",
               "ticket_id", "create_time", "change_time", "properties"},
              chats);
  insert_rows("chat_thread", {"id", "chat_id", "active", "properties", "create_time", "close_time"}, threads);
  insert_rows("chat_participant",
              {"id", "chat_id", "chatter_id", "chatter_name", "chatter_type", "chatter_active", "invitation",
               "monitoring", "permission_level", "create_time"},
              participants);
  insert_rows("chat_message",
              {"id", "chat_id", "chat_participant_id", "thread_id", "message_text", "system_generated", "internal",
               "create_time", "event_type", "custom_id", "properties", "payload"},
              messages);
  insert_rows("chat_flag", {"chat_id", "flag_key", "flag_value", "create_by", "create_time"}, flags);
  insert_rows("chat_invite", {"chat_id", "chatter_id", "inviter_id", "invitation_chat_id", "create_time"}, invites);
}

void SociStore::sync_id_sequences() {
  if (backend_ != Backend::postgresql) return;  // SQLite's AUTOINCREMENT follows explicit ids itself
  guarded("moving id sequences", [&] {
    for (const char* table : {"chat", "chat_thread", "chat_participant", "chat_message", "chat_invite"}) {
      const std::string t(table);
      sql_ << "SELECT setval(pg_get_serial_sequence('" + t + "', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM " + t +
                  "), false)";
    }
  });
}

namespace {

// flock(2) on a file beside the database: released by the kernel when the process dies.
class FileLock final : public ProcessLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {}
  ~FileLock() override { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

// A session-level advisory lock: released on unlock or when the connection ends.
class AdvisoryLock final : public ProcessLock {
 public:
  AdvisoryLock(soci::session& sql, long long key) : sql_(sql), key_(key) {}
  ~AdvisoryLock() override {
    try {
      sql_ << "SELECT pg_advisory_unlock(:k)", soci::use(key_);
    } catch (const std::exception& e) {
      spdlog::debug("releasing an advisory lock: {}", e.what());  // the session's end releases it
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  soci::session& sql_;
  long long key_;
};

// FNV-1a: a stable advisory lock key per name.
long long lock_key(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : std::string("chatctl:") + std::string(name)) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return static_cast<long long>(h >> 1);
}

constexpr long long kWalFrameHeader = 24;

}  // namespace

void SociStore::bulk_mode(bool on) {
  if (backend_ != Backend::sqlite) return;
  guarded("setting WAL checkpoints", [&] {
    sql_ << (on ? "PRAGMA wal_autocheckpoint = 0" : "PRAGMA wal_autocheckpoint = 1000");
    if (page_size_ == 0) sql_ << "PRAGMA page_size", soci::into(page_size_);
  });
  wal_frames_ = 0;
  if (on) {
    // wal_autocheckpoint = 0 took SQLite's hook off; ours only counts.
    sqlite_api::sqlite3_wal_hook(
        static_cast<soci::sqlite3_session_backend*>(sql_.get_backend())->conn_,
        [](void* self, sqlite_api::sqlite3*, const char* db, int frames) {
          if (std::string_view(db) == "main") static_cast<SociStore*>(self)->wal_frames_ = frames;
          return 0;  // SQLITE_OK
        },
        this);
  }
  if (!on) {
    last_checkpoint_ = {};
    checkpoint();
  }
}

void SociStore::checkpoint() {
  if (backend_ != Backend::sqlite || depth_ > 0) return;
  // Each checkpoint ends in an fsync; a few per second bound the WAL's growth well enough.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_checkpoint_ < std::chrono::milliseconds(250)) return;
  last_checkpoint_ = now;
  checkpoint_wal();
}

bool SociStore::checkpoint_wal() {
  if (backend_ != Backend::sqlite) return true;
  if (depth_ > 0) throw Error(ErrorKind::internal, "checkpoint_wal inside a transaction");
  return guarded("checkpointing the WAL", [&] {
    int busy = 0;
    long long log = 0;
    long long done = 0;
    sql_ << "PRAGMA wal_checkpoint(PASSIVE)", soci::into(busy), soci::into(log), soci::into(done);
    return busy == 0 && done >= log;
  });
}

std::int64_t SociStore::wal_bytes() const { return wal_frames_ * (page_size_ + kWalFrameHeader); }

void SociStore::scratch_mode() {
  if (backend_ != Backend::sqlite) return;
  guarded("setting up a scratch database", [&] {
    // main only: an attached template database stays shared with other sessions.
    sql_ << "PRAGMA main.locking_mode = EXCLUSIVE";
    // Savepoints and rollbacks still work; a crash may leave the file corrupt, which is fine for
    // a file nobody keeps. A commit writes each changed page once, not a WAL frame and a checkpoint.
    std::string mode;
    sql_ << "PRAGMA main.journal_mode = MEMORY", soci::into(mode);
    if (mode != "memory") spdlog::debug("scratch database stays in journal mode {}", mode);
    sql_ << "PRAGMA main.synchronous = OFF";
  });
}

void SociStore::restore_rows(const std::string& template_path) {
  if (backend_ != Backend::sqlite) throw Error(ErrorKind::internal, "restore_rows needs a SQLite database");
  if (depth_ > 0) throw Error(ErrorKind::internal, "restore_rows inside a transaction");
  if (attached_template_ != template_path) {
    guarded("attaching the template database", [&] {
      if (!attached_template_.empty()) sql_ << "DETACH DATABASE chatctl_template";
      attached_template_.clear();
      sql_ << "ATTACH DATABASE :path AS chatctl_template", soci::use(template_path);
      // Known as attached only once all below is read: a half-read template is detached again.
      bool template_read = false;
      const core::OnExit detach([&] {
        if (template_read) return;
        try {
          sql_ << "DETACH DATABASE chatctl_template";
        } catch (...) {
        }
      });
      // Parents before children, so rows go in (and, reversed, out) without breaking a foreign
      // key. (PRAGMA defer_foreign_keys would do instead, but setting it expires every prepared
      // statement of the connection.)
      std::map<std::string, std::set<std::string>> parents;
      std::string name;
      soci::statement st = (sql_.prepare << "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT "
                                            "LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                            soci::into(name));
      st.execute();
      while (st.fetch()) parents[name];
      for (auto& [table, refs] : parents) {
        std::string parent;
        soci::statement fk = (sql_.prepare << "SELECT \"table\" FROM pragma_foreign_key_list(:t)", soci::use(table),
                              soci::into(parent));
        fk.execute();
        while (fk.fetch()) {
          if (parent != table) refs.insert(parent);
        }
      }
      restore_order_.clear();
      while (restore_order_.size() < parents.size()) {
        const std::size_t before = restore_order_.size();
        for (const auto& [table, refs] : parents) {
          if (std::find(restore_order_.begin(), restore_order_.end(), table) != restore_order_.end()) continue;
          const bool ready = std::all_of(refs.begin(), refs.end(), [&](const std::string& r) {
            return !parents.contains(r) ||
                   std::find(restore_order_.begin(), restore_order_.end(), r) != restore_order_.end();
          });
          if (ready) restore_order_.push_back(table);
        }
        if (restore_order_.size() == before) throw Error(ErrorKind::internal, "foreign keys in a cycle");
      }
      // One query names the tables that hold rows (sqlite_sequence last), here and in the
      // template: a table left empty is not written to at all (emptying it would still rewrite
      // its pages and its indexes' roots). Names from sqlite_master: no double quote in them.
      auto filled = [&](const std::string& db) {
        std::string q;
        for (const auto& t : restore_order_) {
          q += (q.empty() ? "" : " UNION ALL ") + std::string("SELECT '") + t + "' WHERE EXISTS (SELECT 1 FROM " + db +
               ".\"" + t + "\")";
        }
        return q + " UNION ALL SELECT 'sqlite_sequence' WHERE EXISTS (SELECT 1 FROM " + db + ".sqlite_sequence)";
      };
      filled_tables_sql_ = filled("main");
      template_filled_.clear();
      soci::statement tf = (sql_.prepare << filled("chatctl_template"), soci::into(name));
      tf.execute();
      while (tf.fetch()) template_filled_.push_back(name);
      template_read = true;
      attached_template_ = template_path;
    });
  }
  WriteTransaction tx(*this);
  guarded("restoring the database", [&] {
    std::vector<std::string> filled;
    {
      auto q = reuse<std::string>(filled_tables_sql_,
                                  [](soci::statement& st, std::string& name) { st.exchange(soci::into(name)); });
      q.st().execute();
      while (q.st().fetch()) filled.push_back(q.c());
    }
    auto in = [](const std::vector<std::string>& names, const std::string& t) {
      return std::find(names.begin(), names.end(), t) != names.end();
    };
    // Children before parents out, parents before children in.
    for (auto t = restore_order_.rbegin(); t != restore_order_.rend(); ++t) {
      if (in(filled, *t)) run("DELETE FROM main.\"" + *t + "\"");
    }
    for (const auto& t : restore_order_) {
      if (in(template_filled_, t)) run("INSERT INTO main.\"" + t + "\" SELECT * FROM chatctl_template.\"" + t + "\"");
    }
    if (in(filled, "sqlite_sequence")) run("DELETE FROM main.sqlite_sequence");
    if (in(template_filled_, "sqlite_sequence")) {
      run("INSERT INTO main.sqlite_sequence SELECT * FROM chatctl_template.sqlite_sequence");
    }
  });
  tx.commit();
}

std::unique_ptr<ProcessLock> SociStore::try_process_lock(std::string_view name) {
  if (backend_ == Backend::postgresql) {
    const long long key = lock_key(name);
    const bool got = guarded("taking a lock", [&] {
      int ok = 0;
      sql_ << "SELECT CASE WHEN pg_try_advisory_lock(:k) THEN 1 ELSE 0 END", soci::use(key), soci::into(ok);
      return ok != 0;
    });
    if (!got) return nullptr;
    return std::make_unique<AdvisoryLock>(sql_, key);
  }
  if (display_address_ == ":memory:") return std::make_unique<ProcessLock>();  // no other process can see it
  // Beside the file itself, whatever link named it: two names of one database take one lock.
  std::error_code ec;
  const auto file = std::filesystem::canonical(display_address_, ec);
  const std::string path = (ec ? display_address_ : file.string()) + "." + std::string(name) + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw Error(ErrorKind::cant_create, "cannot open lock file " + path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return nullptr;
    throw Error(ErrorKind::io, "cannot lock " + path + ": " + std::strerror(err));
  }
  return std::make_unique<FileLock>(fd);
}

model::ParticipantId SociStore::insert_participant(const model::Participant& p) {
  tx_cache_.participants.erase(p.chat_id);
  struct Cols {
    model::Participant p;
    long long chat = 0;
    std::string type;
    int active = 0;
    int invitation = 0;
    int monitoring = 0;
    std::string permission;
    long long create_time = 0;
    long long seen = 0;
    long long id = 0;
  };
  return guarded("adding a participant", [&] {
    auto q = reuse<Cols>("INSERT INTO chat_participant (chat_id, chatter_id, chatter_name, chatter_type, "
                         "chatter_active, invitation, monitoring, permission_level, create_time, seen_up_to) VALUES "
                         "(:c, :i, :n, :t, :a, :inv, :m, :p, :ct, :su)" + returning("id"),
                         [sqlite = backend_ == Backend::sqlite](soci::statement& st, Cols& r) {
                           st.exchange(soci::use(r.chat, "c"));
                           st.exchange(soci::use(r.p.chatter_id, "i"));
                           st.exchange(soci::use(r.p.chatter_name, "n"));
                           st.exchange(soci::use(r.type, "t"));
                           st.exchange(soci::use(r.active, "a"));
                           st.exchange(soci::use(r.invitation, "inv"));
                           st.exchange(soci::use(r.monitoring, "m"));
                           st.exchange(soci::use(r.permission, "p"));
                           st.exchange(soci::use(r.create_time, "ct"));
                           st.exchange(soci::use(r.seen, "su"));
                           if (!sqlite) st.exchange(soci::into(r.id));
                         });
    auto& r = q.c();
    r.p = p;
    r.chat = p.chat_id;
    r.type = model::to_string(p.chatter_type);
    r.active = static_cast<int>(p.active);
    r.invitation = p.invitation ? 1 : 0;
    r.monitoring = static_cast<int>(p.monitoring);
    r.permission = model::to_string(p.permission);
    r.create_time = p.create_time;
    r.seen = p.seen_up_to;
    q.st().execute(true);
    return static_cast<model::ParticipantId>(inserted_id(r.id));
  });
}

void SociStore::update_participant(const model::Participant& p) {
  model::Participant* was = nullptr;
  if (const auto it = tx_cache_.participants.find(p.chat_id); it != tx_cache_.participants.end()) {
    for (auto& known : it->second) {
      if (known.id == p.id) was = &known;
    }
    if (!was) tx_cache_.participants.erase(it);
  }
  const unsigned mask = changed_columns<6>(
      was != nullptr, {was && was->chatter_name != p.chatter_name, was && was->active != p.active,
                       was && was->invitation != p.invitation, was && was->monitoring != p.monitoring,
                       was && was->permission != p.permission, was && was->seen_up_to != p.seen_up_to});
  if (mask == 0) return;
  struct Cols {
    std::string name;
    int active = 0;
    int invitation = 0;
    int monitoring = 0;
    std::string permission;
    long long seen = 0;
    long long id = 0;
  };
  guarded("updating a participant", [&] {
    auto q = reuse<Cols>("UPDATE chat_participant SET " +
                             set_list({"chatter_name = :n", "chatter_active = :a", "invitation = :inv",
                                       "monitoring = :m", "permission_level = :p", "seen_up_to = :su"},
                                      mask) +
                             " WHERE id = :id",
                         [mask](soci::statement& st, Cols& r) {
                           if (mask & 1u) st.exchange(soci::use(r.name, "n"));
                           if (mask & 2u) st.exchange(soci::use(r.active, "a"));
                           if (mask & 4u) st.exchange(soci::use(r.invitation, "inv"));
                           if (mask & 8u) st.exchange(soci::use(r.monitoring, "m"));
                           if (mask & 16u) st.exchange(soci::use(r.permission, "p"));
                           if (mask & 32u) st.exchange(soci::use(r.seen, "su"));
                           st.exchange(soci::use(r.id, "id"));
                         });
    auto& r = q.c();
    r.name = p.chatter_name;
    r.active = static_cast<int>(p.active);
    r.invitation = p.invitation ? 1 : 0;
    r.monitoring = static_cast<int>(p.monitoring);
    r.permission = model::to_string(p.permission);
    r.seen = p.seen_up_to;
    r.id = p.id;
    q.st().execute(true);
  });
  if (was) *was = p;
}

std::vector<model::Participant> SociStore::query_participants(const std::string& where,
                                                              const std::vector<std::string>& texts,
                                                              const std::vector<long long>& ints) {
  struct Cols {
    model::Participant p;
    long long id = 0;
    long long chat = 0;
    std::string type;
    int active = 0;
    int invitation = 0;
    int monitoring = 0;
    std::string permission;
    long long create_time = 0;
    long long seen = 0;
  };
  return guarded("reading participants", [&] {
    std::vector<model::Participant> out;
    auto q = reuse<Cols>("SELECT id, chat_id, chatter_id, chatter_name, chatter_type, chatter_active, invitation, "
                         "monitoring, permission_level, create_time, seen_up_to FROM chat_participant " +
                             where + " ORDER BY id",
                         texts, ints, [](soci::statement& st, Cols& r) {
                           st.exchange(soci::into(r.id));
                           st.exchange(soci::into(r.chat));
                           st.exchange(soci::into(r.p.chatter_id));
                           st.exchange(soci::into(r.p.chatter_name));
                           st.exchange(soci::into(r.type));
                           st.exchange(soci::into(r.active));
                           st.exchange(soci::into(r.invitation));
                           st.exchange(soci::into(r.monitoring));
                           st.exchange(soci::into(r.permission));
                           st.exchange(soci::into(r.create_time));
                           st.exchange(soci::into(r.seen));
                         });
    auto& r = q.c();
    q.st().execute();
    while (q.st().fetch()) {
      r.p.id = r.id;
      r.p.chat_id = r.chat;
      r.p.chatter_type = chatter_type_of(r.type);
      r.p.active = static_cast<model::ChatterActive>(r.active);
      r.p.invitation = r.invitation != 0;
      r.p.monitoring = static_cast<model::Monitoring>(r.monitoring);
      r.p.permission = model::parse_permission_level(r.permission).value_or(model::PermissionLevel::none);
      r.p.create_time = r.create_time;
      r.p.seen_up_to = r.seen;
      out.push_back(r.p);
    }
    return out;
  });
}

std::optional<model::Participant> SociStore::find_participant(model::ChatId chat, model::ChatterType type,
                                                              std::string_view chatter_id) {
  if (depth_ > 0) {
    if (const auto it = tx_cache_.participants.find(chat); it != tx_cache_.participants.end()) {
      for (const auto& p : it->second) {
        if (p.chatter_type == type && p.chatter_id == chatter_id) return p;
      }
      return std::nullopt;
    }
  }
  Where w;
  w.add("chat_id = " + w.integer(chat));
  w.add("chatter_type = " + w.text(std::string(model::to_string(type))));
  w.add("chatter_id = " + w.text(std::string(chatter_id)));
  return first_row(query_participants(w.sql, w.texts, w.ints));
}

std::vector<model::Participant> SociStore::list_participants(model::ChatId chat) {
  if (depth_ > 0) {
    if (const auto it = tx_cache_.participants.find(chat); it != tx_cache_.participants.end()) return it->second;
  }
  Where w;
  w.add("chat_id = " + w.integer(chat));
  auto participants = query_participants(w.sql, w.texts, w.ints);
  if (depth_ > 0) tx_cache_.participants[chat] = participants;
  return participants;
}

std::size_t SociStore::delete_participants(model::ChatId chat) {
  tx_cache_.participants.erase(chat);
  return guarded("removing participants", [&] {
    const long long cid = chat;
    sql_ << "DELETE FROM chat_message WHERE chat_id = :id", soci::use(cid);
    sql_ << "DELETE FROM chat_invite WHERE chat_id = :id", soci::use(cid);
    soci::statement st = (sql_.prepare << "DELETE FROM chat_participant WHERE chat_id = :id", soci::use(cid));
    st.execute(true);
    return static_cast<std::size_t>(st.get_affected_rows());
  });
}

model::MessageId SociStore::insert_message(const model::Message& m) {
  struct Cols {
    model::Message m;
    long long id = 0;
    long long chat = 0;
    long long participant = 0;
    long long thread = 0;
    soci::indicator thread_ind = soci::i_null;
    int system = 0;
    int internal = 0;
    long long create_time = 0;
    std::string type;
    long long new_id = 0;
  };
  return guarded("adding a message", [&] {
    const bool with_id = m.id != 0;
    auto q = reuse<Cols>(std::string("INSERT INTO chat_message (") + (with_id ? "id, " : "") +
                             "chat_id, chat_participant_id, thread_id, message_text, system_generated, internal, "
                             "create_time, event_type, custom_id, properties, payload) VALUES (" +
                             (with_id ? ":id, " : "") + ":c, :p, :th, :t, :s, :i, :ct, :ty, :cu, :pr, :pl)" +
                             returning("id"),
                         [with_id, sqlite = backend_ == Backend::sqlite](soci::statement& st, Cols& r) {
                           if (with_id) st.exchange(soci::use(r.id, "id"));
                           st.exchange(soci::use(r.chat, "c"));
                           st.exchange(soci::use(r.participant, "p"));
                           st.exchange(soci::use(r.thread, r.thread_ind, "th"));
                           st.exchange(soci::use(r.m.text, "t"));
                           st.exchange(soci::use(r.system, "s"));
                           st.exchange(soci::use(r.internal, "i"));
                           st.exchange(soci::use(r.create_time, "ct"));
                           st.exchange(soci::use(r.type, "ty"));
                           st.exchange(soci::use(r.m.custom_id, "cu"));
                           st.exchange(soci::use(r.m.properties, "pr"));
                           st.exchange(soci::use(r.m.payload, "pl"));
                           if (!sqlite) st.exchange(soci::into(r.new_id));
                         });
    auto& r = q.c();
    r.m.text = m.text;
    r.m.custom_id = m.custom_id;
    r.m.properties = m.properties;
    r.m.payload = m.payload;
    r.id = m.id;
    r.chat = m.chat_id;
    r.participant = m.participant_id;
    r.thread = m.thread_id;
    r.thread_ind = m.thread_id ? soci::i_ok : soci::i_null;
    r.system = m.system_generated ? 1 : 0;
    r.internal = static_cast<int>(m.audience);
    r.create_time = m.create_time;
    r.type = model::to_string(m.type);
    q.st().execute(true);
    return static_cast<model::MessageId>(inserted_id(r.new_id));
  });
}

namespace {

constexpr const char* kMessageColumns =
    "SELECT m.id, m.chat_id, m.chat_participant_id, p.chatter_id, p.chatter_name, p.chatter_type, m.message_text, "
    "m.system_generated, m.internal, m.create_time, m.thread_id, m.event_type, m.custom_id, m.properties, m.payload "
    "FROM chat_message m JOIN chat_participant p ON p.id = m.chat_participant_id ";
// The same shape without the author's fields (the caller fills them).
constexpr const char* kMessageColumnsNoAuthor =
    "SELECT m.id, m.chat_id, m.chat_participant_id, '', '', '', m.message_text, "
    "m.system_generated, m.internal, m.create_time, m.thread_id, m.event_type, m.custom_id, m.properties, m.payload "
    "FROM chat_message m ";

}  // namespace

std::vector<model::Message> SociStore::query_messages(const std::string& where, const std::vector<std::string>& texts,
                                                      const std::vector<long long>& ints, const std::string& order,
                                                      bool with_author) {
  struct Cols {
    model::Message m;
    long long id = 0;
    long long chat = 0;
    long long participant = 0;
    std::string type;
    int system = 0;
    int internal = 0;
    long long create_time = 0;
    long long thread = 0;
    soci::indicator thread_ind = soci::i_null;
    std::string event_type;
  };
  return guarded("reading messages", [&] {
    std::vector<model::Message> out;
    auto q = reuse<Cols>((with_author ? kMessageColumns : kMessageColumnsNoAuthor) + where + order, texts, ints,
                         [](soci::statement& st, Cols& r) {
                           st.exchange(soci::into(r.id));
                           st.exchange(soci::into(r.chat));
                           st.exchange(soci::into(r.participant));
                           st.exchange(soci::into(r.m.chatter_id));
                           st.exchange(soci::into(r.m.chatter_name));
                           st.exchange(soci::into(r.type));
                           st.exchange(soci::into(r.m.text));
                           st.exchange(soci::into(r.system));
                           st.exchange(soci::into(r.internal));
                           st.exchange(soci::into(r.create_time));
                           st.exchange(soci::into(r.thread, r.thread_ind));
                           st.exchange(soci::into(r.event_type));
                           st.exchange(soci::into(r.m.custom_id));
                           st.exchange(soci::into(r.m.properties));
                           st.exchange(soci::into(r.m.payload));
                         });
    auto& r = q.c();
    q.st().execute();
    while (q.st().fetch()) {
      r.m.id = r.id;
      r.m.chat_id = r.chat;
      r.m.participant_id = r.participant;
      r.m.chatter_type = chatter_type_of(r.type);
      r.m.system_generated = r.system != 0;
      r.m.audience = static_cast<model::Audience>(r.internal);
      r.m.create_time = r.create_time;
      r.m.thread_id = r.thread_ind == soci::i_ok ? r.thread : 0;
      r.m.type = model::parse_event_type(r.event_type).value_or(model::EventType::message);
      out.push_back(r.m);
    }
    return out;
  });
}

std::vector<model::Message> SociStore::list_messages(const MessageFilter& f) {
  Where w;
  w.add("m.chat_id = " + w.integer(f.chat_id));
  if (f.after) w.add("m.id > " + w.integer(*f.after));
  if (f.exclude_internal) w.add("m.internal <> 1");
  if (f.exclude_customer) w.add("m.internal <> 2");
  if (f.text_only) w.add("m.system_generated = 0");
  std::string order = " ORDER BY m.id";
  if (f.first) order += " LIMIT 1";
  if (f.last) order = " ORDER BY m.id DESC LIMIT 1";
  return query_messages(w.sql, w.texts, w.ints, order);
}

void SociStore::update_message(const model::Message& m) {
  guarded("updating a message", [&] {
    const long long id = m.id;
    sql_ << "UPDATE chat_message SET properties = :pr, payload = :pl WHERE id = :id", soci::use(m.properties),
        soci::use(m.payload), soci::use(id);
  });
}

std::optional<model::Message> SociStore::find_message(model::MessageId id) {
  Where w;
  w.add("m.id = " + w.integer(id));
  return first_row(query_messages(w.sql, w.texts, w.ints, ""));
}

void SociStore::set_flag(const model::Flag& f) {
  guarded("setting a flag", [&] {
    const long long chat = f.chat_id;
    const long long create_time = f.create_time;
    sql_ << "INSERT INTO chat_flag (chat_id, flag_key, flag_value, create_by, create_time) VALUES (:c, :k, :v, :u, :t) "
            "ON CONFLICT (chat_id, flag_key, create_by) DO UPDATE SET flag_value = excluded.flag_value, "
            "create_time = excluded.create_time",
        soci::use(chat), soci::use(f.key), soci::use(f.value), soci::use(f.user), soci::use(create_time);
  });
}

std::size_t SociStore::delete_flags(model::ChatId chat, std::string_view key, const std::optional<std::string>& user) {
  return guarded("deleting flags", [&] {
    Where w;
    w.add("chat_id = " + w.integer(chat));
    w.add("flag_key = " + w.text(std::string(key)));
    if (user) w.add("create_by = " + w.text(*user));
    soci::statement st(sql_);
    bind_params(st, w.texts, w.ints);
    st.alloc();
    st.prepare("DELETE FROM chat_flag " + w.sql);
    st.define_and_bind();
    st.execute(true);
    return static_cast<std::size_t>(st.get_affected_rows());
  });
}

std::vector<model::Flag> SociStore::list_flags(const FlagFilter& f) {
  Where w;
  if (f.chat_id) w.add("chat_id = " + w.integer(*f.chat_id));
  if (f.key) w.add("flag_key = " + w.text(*f.key));
  if (f.key_not) w.add("flag_key <> " + w.text(*f.key_not));
  if (f.user) w.add("create_by = " + w.text(*f.user));
  if (f.value) w.add("flag_value = " + w.text(*f.value));
  if (f.value_not) w.add("flag_value <> " + w.text(*f.value_not));
  std::string tail = " ORDER BY chat_id, flag_key, create_by";
  if (f.limit) {
    tail += " LIMIT " + std::to_string(f.limit);
  } else if (f.offset) {
    tail += backend_ == Backend::sqlite ? " LIMIT -1" : "";  // SQLite needs a LIMIT before OFFSET
  }
  if (f.offset) tail += " OFFSET " + std::to_string(f.offset);
  return query_flags(w.sql, w.texts, w.ints, tail);
}

std::vector<model::Flag> SociStore::query_flags(const std::string& where, const std::vector<std::string>& texts,
                                                const std::vector<long long>& ints, const std::string& tail) {
  return guarded("reading flags", [&] {
    std::vector<model::Flag> out;
    model::Flag flag;
    long long chat = 0;
    long long create_time = 0;
    soci::statement st(sql_);
    st.exchange(soci::into(chat));
    st.exchange(soci::into(flag.key));
    st.exchange(soci::into(flag.value));
    st.exchange(soci::into(flag.user));
    st.exchange(soci::into(create_time));
    bind_params(st, texts, ints);
    st.alloc();
    st.prepare("SELECT chat_id, flag_key, flag_value, create_by, create_time FROM chat_flag " + where + tail);
    st.define_and_bind();
    st.execute();
    while (st.fetch()) {
      flag.chat_id = chat;
      flag.create_time = create_time;
      out.push_back(flag);
    }
    return out;
  });
}

void SociStore::insert_invite(const model::Invite& i) {
  guarded("adding an invite", [&] {
    const long long chat = i.chat_id;
    const long long via = i.invitation_chat_id;
    const long long create_time = i.create_time;
    sql_ << "INSERT INTO chat_invite (chat_id, chatter_id, inviter_id, invitation_chat_id, create_time) "
            "VALUES (:c, :w, :by, :via, :t) ON CONFLICT (chat_id, chatter_id) DO UPDATE SET inviter_id = "
            "excluded.inviter_id, invitation_chat_id = excluded.invitation_chat_id, create_time = excluded.create_time",
        soci::use(chat), soci::use(i.chatter_id), soci::use(i.inviter_id), soci::use(via), soci::use(create_time);
  });
}

namespace {

Where invite_where(std::string_view chatter_id, std::optional<model::ChatId> chat,
                   std::optional<model::ChatId> invitation_chat) {
  Where w;
  w.add("chatter_id = " + w.text(std::string(chatter_id)));
  if (chat) w.add("chat_id = " + w.integer(*chat));
  if (invitation_chat) w.add("invitation_chat_id = " + w.integer(*invitation_chat));
  return w;
}

}  // namespace

std::vector<model::Invite> SociStore::list_invites(std::string_view chatter_id, std::optional<model::ChatId> chat,
                                                   std::optional<model::ChatId> invitation_chat) {
  const Where w = invite_where(chatter_id, chat, invitation_chat);
  return query_invites(w.sql, w.texts, w.ints);
}

std::vector<model::Invite> SociStore::query_invites(const std::string& where, const std::vector<std::string>& texts,
                                                    const std::vector<long long>& ints) {
  return guarded("reading invites", [&] {
    std::vector<model::Invite> out;
    model::Invite i;
    long long id = 0;
    long long chat_id = 0;
    long long via = 0;
    long long create_time = 0;
    soci::statement st(sql_);
    st.exchange(soci::into(id));
    st.exchange(soci::into(chat_id));
    st.exchange(soci::into(i.chatter_id));
    st.exchange(soci::into(i.inviter_id));
    st.exchange(soci::into(via));
    st.exchange(soci::into(create_time));
    bind_params(st, texts, ints);
    st.alloc();
    st.prepare("SELECT id, chat_id, chatter_id, inviter_id, invitation_chat_id, create_time FROM chat_invite " + where +
               " ORDER BY id");
    st.define_and_bind();
    st.execute();
    while (st.fetch()) {
      i.id = id;
      i.chat_id = chat_id;
      i.invitation_chat_id = via;
      i.create_time = create_time;
      out.push_back(i);
    }
    return out;
  });
}

std::size_t SociStore::delete_invites(std::string_view chatter_id, std::optional<model::ChatId> chat,
                                      std::optional<model::ChatId> invitation_chat) {
  const Where w = invite_where(chatter_id, chat, invitation_chat);
  return guarded("removing invites", [&] {
    soci::statement st(sql_);
    bind_params(st, w.texts, w.ints);
    st.alloc();
    st.prepare("DELETE FROM chat_invite " + w.sql);
    st.define_and_bind();
    st.execute(true);
    return static_cast<std::size_t>(st.get_affected_rows());
  });
}

std::int64_t SociStore::append_event(const EventRecord& e) {
  if (depth_ == 0) throw Error(ErrorKind::internal, "append_event outside a write transaction");
  if (!event_log_locked_) {  // held until the transaction ends: once is enough
    lock_in_transaction(kEventLogLock);
    event_log_locked_ = true;
  }
  struct Cols {
    EventRecord e;
    long long chat = 0;
    long long channel = 0;
    soci::indicator chat_ind = soci::i_null;
    soci::indicator channel_ind = soci::i_null;
    long long time = 0;
    long long seq = 0;
  };
  return guarded("writing the event log", [&] {
    auto q = reuse<Cols>("INSERT INTO event_log (type, time, actor, chat_id, channel_id, payload) VALUES (:ty, :ti, :a, "
                         ":c, :ch, :p)" + returning("seq"),
                         [sqlite = backend_ == Backend::sqlite](soci::statement& st, Cols& r) {
                           st.exchange(soci::use(r.e.type, "ty"));
                           st.exchange(soci::use(r.time, "ti"));
                           st.exchange(soci::use(r.e.actor, "a"));
                           st.exchange(soci::use(r.chat, r.chat_ind, "c"));
                           st.exchange(soci::use(r.channel, r.channel_ind, "ch"));
                           st.exchange(soci::use(r.e.payload, "p"));
                           if (!sqlite) st.exchange(soci::into(r.seq));
                         });
    auto& r = q.c();
    r.e.type = e.type;
    r.e.actor = e.actor;
    r.e.payload = e.payload;
    r.time = e.time;
    r.chat = e.chat_id.value_or(0);
    r.channel = e.channel_id.value_or(0);
    r.chat_ind = e.chat_id ? soci::i_ok : soci::i_null;
    r.channel_ind = e.channel_id ? soci::i_ok : soci::i_null;
    q.st().execute(true);
    return static_cast<std::int64_t>(inserted_id(r.seq));
  });
}

namespace {

std::string join_events(const std::vector<std::string>& events) {
  std::string out;
  for (const auto& e : events) out += (out.empty() ? "" : ",") + e;
  return out;
}

std::vector<std::string> split_events(const std::string& s) {
  std::vector<std::string> out;
  std::size_t from = 0;
  while (from <= s.size() && !s.empty()) {
    const auto comma = s.find(',', from);
    out.push_back(s.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return out;
}

}  // namespace

std::vector<model::Webhook> SociStore::query_webhooks(const std::string& where, const std::vector<std::string>& texts) {
  return guarded("reading webhooks", [&] {
    std::vector<model::Webhook> out;
    model::Webhook w;
    long long id = 0;
    std::string events;
    std::string state;
    long long cursor = 0;
    long long failures = 0;
    long long last_attempt = 0;
    soci::indicator last_ind = soci::i_null;
    long long create_time = 0;
    long long change_time = 0;
    soci::statement st(sql_);
    st.exchange(soci::into(id));
    st.exchange(soci::into(w.name));
    st.exchange(soci::into(w.url));
    st.exchange(soci::into(events));
    st.exchange(soci::into(w.secret));
    st.exchange(soci::into(state));
    st.exchange(soci::into(cursor));
    st.exchange(soci::into(failures));
    st.exchange(soci::into(w.last_error));
    st.exchange(soci::into(last_attempt, last_ind));
    st.exchange(soci::into(create_time));
    st.exchange(soci::into(change_time));
    bind_params(st, texts, {});
    st.alloc();
    st.prepare("SELECT id, name, url, events, secret, state, cursor, failures, last_error, last_attempt_time, "
               "create_time, change_time FROM webhook " +
               where + " ORDER BY name");
    st.define_and_bind();
    st.execute();
    while (st.fetch()) {
      w.id = id;
      w.events = split_events(events);
      w.state = model::parse_webhook_state(state).value_or(model::WebhookState::stopped);
      w.cursor = cursor;
      w.failures = failures;
      w.last_attempt_time = last_ind == soci::i_ok ? std::optional<core::Micros>(last_attempt) : std::nullopt;
      w.create_time = create_time;
      w.change_time = change_time;
      out.push_back(w);
    }
    return out;
  });
}

std::vector<model::Webhook> SociStore::list_webhooks() { return query_webhooks("", {}); }

std::optional<model::Webhook> SociStore::find_webhook(std::string_view name) {
  Where w;
  w.add("name = " + w.text(std::string(name)));
  return first_row(query_webhooks(w.sql, w.texts));
}

model::WebhookId SociStore::insert_webhook(const model::Webhook& w) {
  return guarded("adding a webhook", [&] {
    const std::string events = join_events(w.events);
    const std::string state(model::to_string(w.state));
    const long long cursor = w.cursor;
    const long long create_time = w.create_time;
    const long long change_time = w.change_time;
    long long id = 0;
    sql_ << "INSERT INTO webhook (name, url, events, secret, state, cursor, create_time, change_time) "
            "VALUES (:n, :u, :e, :s, :st, :c, :ct, :mt) RETURNING id",
        soci::use(w.name), soci::use(w.url), soci::use(events), soci::use(w.secret), soci::use(state),
        soci::use(cursor), soci::use(create_time), soci::use(change_time), soci::into(id);
    return static_cast<model::WebhookId>(id);
  });
}

void SociStore::update_webhook(const model::Webhook& w) {
  guarded("updating a webhook", [&] {
    const std::string events = join_events(w.events);
    const std::string state(model::to_string(w.state));
    const long long cursor = w.cursor;
    const long long failures = w.failures;
    long long last_attempt = w.last_attempt_time.value_or(0);
    soci::indicator last_ind = w.last_attempt_time ? soci::i_ok : soci::i_null;
    const long long change_time = w.change_time;
    const long long id = w.id;
    sql_ << "UPDATE webhook SET name = :n, url = :u, events = :e, secret = :s, state = :st, cursor = :c, "
            "failures = :f, last_error = :le, last_attempt_time = :la, change_time = :mt WHERE id = :id",
        soci::use(w.name), soci::use(w.url), soci::use(events), soci::use(w.secret), soci::use(state),
        soci::use(cursor), soci::use(failures), soci::use(w.last_error), soci::use(last_attempt, last_ind),
        soci::use(change_time), soci::use(id);
  });
}

bool SociStore::delete_webhook(model::WebhookId id) {
  return guarded("removing a webhook", [&] {
    const long long wid = id;
    sql_ << "DELETE FROM webhook_queue WHERE webhook_id = :id", soci::use(wid);
    soci::statement st = (sql_.prepare << "DELETE FROM webhook WHERE id = :id", soci::use(wid));
    st.execute(true);
    return st.get_affected_rows() > 0;
  });
}

void SociStore::enqueue_deliveries(const std::vector<model::WebhookDelivery>& deliveries) {
  guarded("queueing webhook deliveries", [&] {
    for (const auto& d : deliveries) {
      const long long webhook = d.webhook_id;
      const long long seq = d.seq;
      const long long chat = d.chat_id;
      const long long attempts = d.attempts;
      const long long next = d.next_attempt_time;
      sql_ << "INSERT INTO webhook_queue (webhook_id, seq, event_id, event, chat_id, body, attempts, "
              "next_attempt_time) VALUES (:w, :s, :id, :e, :c, :b, :a, :n) ON CONFLICT (webhook_id, seq) DO NOTHING",
          soci::use(webhook), soci::use(seq), soci::use(d.event_id), soci::use(d.event), soci::use(chat),
          soci::use(d.body), soci::use(attempts), soci::use(next);
    }
  });
}

std::vector<model::WebhookDelivery> SociStore::list_deliveries(model::WebhookId id, std::size_t limit,
                                                               bool heads_only) {
  return guarded("reading webhook deliveries", [&] {
    std::vector<model::WebhookDelivery> out;
    model::WebhookDelivery d;
    long long webhook = id;
    long long seq = 0;
    long long chat = 0;
    long long attempts = 0;
    long long next = 0;
    long long lim = static_cast<long long>(limit ? limit : 1000000);
    // Each chat's oldest: its (webhook_id, chat_id, seq) index answers MIN(seq) per chat.
    const std::string sql =
        heads_only ? "SELECT q.seq, q.event_id, q.event, q.chat_id, q.body, q.attempts, q.next_attempt_time "
                     "FROM webhook_queue q JOIN (SELECT chat_id, MIN(seq) AS head FROM webhook_queue "
                     "WHERE webhook_id = :w GROUP BY chat_id) h ON q.seq = h.head "
                     "WHERE q.webhook_id = :w2 ORDER BY q.seq LIMIT :l"
                   : "SELECT seq, event_id, event, chat_id, body, attempts, next_attempt_time "
                     "FROM webhook_queue WHERE webhook_id = :w ORDER BY seq LIMIT :l";
    soci::statement st(sql_);
    st.exchange(soci::use(webhook, "w"));
    if (heads_only) st.exchange(soci::use(webhook, "w2"));
    st.exchange(soci::use(lim, "l"));
    st.exchange(soci::into(seq));
    st.exchange(soci::into(d.event_id));
    st.exchange(soci::into(d.event));
    st.exchange(soci::into(chat));
    st.exchange(soci::into(d.body));
    st.exchange(soci::into(attempts));
    st.exchange(soci::into(next));
    st.alloc();
    st.prepare(sql);
    st.define_and_bind();
    st.execute();
    while (st.fetch()) {
      d.webhook_id = id;
      d.seq = seq;
      d.chat_id = chat;
      d.attempts = attempts;
      d.next_attempt_time = next;
      out.push_back(d);
    }
    return out;
  });
}

void SociStore::update_delivery(const model::WebhookDelivery& d) {
  guarded("recording a webhook attempt", [&] {
    const long long webhook = d.webhook_id;
    const long long seq = d.seq;
    const long long attempts = d.attempts;
    const long long next = d.next_attempt_time;
    sql_ << "UPDATE webhook_queue SET attempts = :a, next_attempt_time = :n WHERE webhook_id = :w AND seq = :s",
        soci::use(attempts), soci::use(next), soci::use(webhook), soci::use(seq);
  });
}

void SociStore::delete_delivery(model::WebhookId id, std::int64_t seq) {
  guarded("removing a webhook delivery", [&] {
    const long long webhook = id;
    const long long s = seq;
    sql_ << "DELETE FROM webhook_queue WHERE webhook_id = :w AND seq = :s", soci::use(webhook), soci::use(s);
  });
}

void SociStore::append_events(const std::vector<EventRecord>& events) {
  if (depth_ == 0) throw Error(ErrorKind::internal, "append_events outside a write transaction");
  if (events.empty()) return;
  if (backend_ == Backend::sqlite) {
    // In process, one short statement per event beats preparing one long statement.
    for (const auto& e : events) append_event(e);
    return;
  }
  // PostgreSQL: one round trip for many rows.
  if (!event_log_locked_) {
    lock_in_transaction(kEventLogLock);
    event_log_locked_ = true;
  }
  // Rows of at most 1000 events: 6 bound values each stays under every backend's limit.
  constexpr std::size_t kRows = 1000;
  for (std::size_t from = 0; from < events.size(); from += kRows) {
    const std::size_t to = std::min(events.size(), from + kRows);
    guarded("writing the event log", [&] {
      std::vector<long long> times;
      std::vector<long long> chats;
      std::vector<long long> channels;
      std::vector<soci::indicator> chat_inds;
      std::vector<soci::indicator> channel_inds;
      times.reserve(to - from);
      chats.reserve(to - from);
      channels.reserve(to - from);
      chat_inds.reserve(to - from);
      channel_inds.reserve(to - from);
      std::string sql = "INSERT INTO event_log (type, time, actor, chat_id, channel_id, payload) VALUES ";
      soci::statement st(sql_);
      for (std::size_t i = from; i < to; ++i) {
        const auto& e = events[i];
        const std::string n = std::to_string(i - from);
        sql += (i > from ? ", (" : "(") + (":ty" + n) + ", :ti" + n + ", :a" + n + ", :c" + n + ", :ch" + n + ", :p" + n + ")";
        times.push_back(e.time);
        chats.push_back(e.chat_id.value_or(0));
        channels.push_back(e.channel_id.value_or(0));
        chat_inds.push_back(e.chat_id ? soci::i_ok : soci::i_null);
        channel_inds.push_back(e.channel_id ? soci::i_ok : soci::i_null);
      }
      for (std::size_t i = from; i < to; ++i) {
        const auto& e = events[i];
        const std::size_t k = i - from;
        // Bound by position (in the order of the placeholders): by-name binding is a linear
        // search per value, quadratic over a statement this long.
        st.exchange(soci::use(e.type));
        st.exchange(soci::use(times[k]));
        st.exchange(soci::use(e.actor));
        st.exchange(soci::use(chats[k], chat_inds[k]));
        st.exchange(soci::use(channels[k], channel_inds[k]));
        st.exchange(soci::use(e.payload));
      }
      st.alloc();
      st.prepare(sql);
      st.define_and_bind();
      st.execute(true);
    });
  }
}

std::vector<EventRecord> SociStore::list_events(const EventFilter& filter) {
  struct Cols {
    EventRecord e;
    long long seq = 0;
    long long time = 0;
    long long chat = 0;
    long long channel = 0;
    soci::indicator chat_ind = soci::i_null;
    soci::indicator channel_ind = soci::i_null;
    long long after = 0;
    long long limit = 0;
    std::string type;
    long long chat_filter = 0;
    long long channel_filter = 0;
  };
  return guarded("reading the event log", [&] {
    std::vector<EventRecord> out;
    std::string query = "SELECT seq, type, time, actor, chat_id, channel_id, payload FROM event_log WHERE seq > :after";
    if (filter.type) query += " AND type = :type";
    if (filter.chat_id) query += " AND chat_id = :chat";
    if (filter.channel_id) query += " AND channel_id = :channel";
    query += " ORDER BY seq LIMIT :limit";
    auto q = reuse<Cols>(query, [&filter](soci::statement& st, Cols& r) {
      st.exchange(soci::into(r.seq));
      st.exchange(soci::into(r.e.type));
      st.exchange(soci::into(r.time));
      st.exchange(soci::into(r.e.actor));
      st.exchange(soci::into(r.chat, r.chat_ind));
      st.exchange(soci::into(r.channel, r.channel_ind));
      st.exchange(soci::into(r.e.payload));
      st.exchange(soci::use(r.after, "after"));
      if (filter.type) st.exchange(soci::use(r.type, "type"));
      if (filter.chat_id) st.exchange(soci::use(r.chat_filter, "chat"));
      if (filter.channel_id) st.exchange(soci::use(r.channel_filter, "channel"));
      st.exchange(soci::use(r.limit, "limit"));
    });
    auto& r = q.c();
    r.after = filter.after;
    r.limit = static_cast<long long>(filter.limit);
    r.type = filter.type.value_or("");
    r.chat_filter = filter.chat_id.value_or(0);
    r.channel_filter = filter.channel_id.value_or(0);
    q.st().execute();
    while (q.st().fetch()) {
      r.e.seq = r.seq;
      r.e.time = r.time;
      r.e.chat_id = r.chat_ind == soci::i_ok ? std::optional<std::int64_t>(r.chat) : std::nullopt;
      r.e.channel_id = r.channel_ind == soci::i_ok ? std::optional<std::int64_t>(r.channel) : std::nullopt;
      out.push_back(r.e);
    }
    return out;
  });
}

std::int64_t SociStore::last_event_seq() {
  struct Cols {
    long long seq = 0;
    soci::indicator ind = soci::i_null;
  };
  return guarded("reading the event log", [&] {
    auto q = reuse<Cols>("SELECT max(seq) FROM event_log",
                         [](soci::statement& st, Cols& r) { st.exchange(soci::into(r.seq, r.ind)); });
    q.st().execute(true);
    return static_cast<std::int64_t>(q.c().ind == soci::i_ok ? q.c().seq : 0);
  });
}

}  // namespace chatctl::store
