// Benchmark: `chatctl cleanup` and `chatctl export` on a large database, next to the plain tool doing
// the same work on the same data in the same run (`sqlite3`, or `psql` for PostgreSQL).
//
//   bench_batch_jobs [--chats N] [--messages M] [--chatctl PATH] [--keep]
//
// Builds a database of N chats (default 100,000), every one closed long ago, each with one thread,
// two participants, one flag and M messages (default 20): `chatctl db migrate` makes the schema,
// then INSERT ... SELECT over a recursive CTE (SQLite, through the C API) or generate_series
// (PostgreSQL, through libpq) fills it. SQLite always, in a temporary folder (kept with --keep);
// PostgreSQL too when CHATCTL_TEST_PG names a server where we may CREATE DATABASE (the databases
// chatctl_bench_<pid> and chatctl_bench_<pid>_ref are dropped at the end, kept with --keep).
//
// Then, per backend, each chatctl run as a subprocess:
//   export   chatctl --db DB export -o jsonl --file OUT: MB/s (output bytes / wall time) and peak
//            memory (ru_maxrss of the child); reference: sqlite3 -json (psql COPY of row_to_json)
//            writing every message of every chat with its author and thread to a file.
//   cleanup  chatctl --db DB cleanup --closed --older-than 1s -o json: rows/s (its summary's rows /
//            wall time) and its summary's max_transaction_ms; reference: one cascading
//            DELETE FROM chat by sqlite3 (psql) on a copy of the database made before the run.
// and prints one table with the targets beside the figures. Timings are measured and
// printed, never asserted: the exit status is 0 unless the benchmark itself could not run.
#include <fcntl.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common.hpp"

#ifndef CHATCTL_BENCH_CHATCTL
#define CHATCTL_BENCH_CHATCTL ""
#endif

extern char** environ;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Issue targets.
constexpr double kCleanupRowsPerSecond = 400'000;  // SQLite
constexpr double kCleanupRatio = 0.50;
constexpr double kCleanupMaxTransactionMs = 50;
constexpr double kExportMBPerSecond = 150;
constexpr double kExportRatio = 0.75;
constexpr double kExportPeakMiB = 64;

// Chats were created from 2017-01-01 on, one a second, and closed ten minutes later.
constexpr long long kEpochUs = 1'483'228'800'000'000LL;

volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) {
  g_signal = sig;
}

void check_interrupt() {
  if (g_signal != 0) throw std::runtime_error("interrupted");
}

struct Options {
  long long chats = 100'000;
  long long messages = 20;
  std::string chatctl = CHATCTL_BENCH_CHATCTL;
  bool keep = false;
};

// ---- subprocesses ------------------------------------------------------------------------------

struct Run {
  int exit_code = -1;   // -signal when killed
  double seconds = 0;   // wall time from fork to exit
  long maxrss_kib = 0;  // the child's peak resident set
  std::string stderr_path;

  bool ok() const { return exit_code == 0; }
  std::string failure() const {
    std::string what = exit_code < 0 ? "signal " + std::to_string(-exit_code) : "exit " + std::to_string(exit_code);
    std::ifstream in(stderr_path);
    std::string line;
    if (std::getline(in, line) && !line.empty()) what += ": " + line;
    return what;
  }
};

// Runs argv with stdin from /dev/null and stdout and stderr into files. With scrub, the child gets
// no CHATCTL_* variables and a private XDG_CONFIG_HOME, so a user's configuration cannot change
// what chatctl does.
Run run_process(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
                const std::string& config_home = "") {
  std::vector<std::string> argv_strings = argv;
  std::vector<char*> args = chatctl::bench::c_strings(argv_strings);
  std::vector<std::string> env_strings = chatctl::bench::child_environment(config_home);
  std::vector<char*> env = chatctl::bench::c_strings(env_strings);

  Run run;
  run.stderr_path = err_path;
  const auto t0 = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    close(in);
    close(out);
    close(err);
    execvpe(args[0], args.data(), env.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("wait4: ") + std::strerror(errno));
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  run.maxrss_kib = usage.ru_maxrss;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  check_interrupt();
  return run;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

long long count_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  long long n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

// ---- databases ---------------------------------------------------------------------------------

class SqliteDb {
 public:
  explicit SqliteDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("cannot open " + path + ": " + msg);
    }
  }
  ~SqliteDb() { sqlite3_close(db_); }
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error("sqlite: " + msg + "\n  in: " + sql.substr(0, 200));
    }
  }
  long long scalar(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_) + "\n  in: " + sql);
    }
    const long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return v;
  }

 private:
  sqlite3* db_ = nullptr;
};

class PgDb {
 public:
  explicit PgDb(const std::string& uri) : conn_(PQconnectdb(uri.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      const std::string msg = PQerrorMessage(conn_);
      PQfinish(conn_);
      throw std::runtime_error("cannot connect to PostgreSQL: " + msg);
    }
    exec("SET client_min_messages = warning");
  }
  ~PgDb() { PQfinish(conn_); }
  PgDb(const PgDb&) = delete;
  PgDb& operator=(const PgDb&) = delete;

  void exec(const std::string& sql) {
    PGresult* res = PQexec(conn_, sql.c_str());
    const auto st = PQresultStatus(res);
    const std::string msg = PQresultErrorMessage(res);
    PQclear(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      throw std::runtime_error("postgresql: " + msg + "  in: " + sql.substr(0, 200));
    }
  }
  long long scalar(const std::string& sql) {
    PGresult* res = PQexec(conn_, sql.c_str());
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      const std::string msg = PQresultErrorMessage(res);
      PQclear(res);
      throw std::runtime_error("postgresql: " + msg + "  in: " + sql);
    }
    const long long v = PQntuples(res) > 0 ? std::atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return v;
  }

 private:
  PGconn* conn_;
};

// postgresql://u@h/admin?x=y -> postgresql://u@h/<name>?x=y
std::string with_dbname(const std::string& uri, const std::string& name) {
  const auto scheme = uri.find("://");
  if (scheme == std::string::npos) throw std::runtime_error("CHATCTL_TEST_PG is not a postgresql:// URI");
  const auto slash = uri.find('/', scheme + 3);
  const auto query = uri.find('?', scheme + 3);
  const std::string head = uri.substr(0, slash == std::string::npos ? query : std::min(slash, query));
  const std::string tail = query == std::string::npos ? "" : uri.substr(query);
  return head + "/" + name + tail;
}

// ---- the data ----------------------------------------------------------------------------------

enum class Dialect { sqlite, postgresql };

struct Counts {
  long long chats = 0;
  long long messages = 0;
  long long rows = 0;  // what deleting every chat removes: chats, threads, messages, participants, invites, flags
};

constexpr const char* kCountRows =
    "SELECT (SELECT count(*) FROM chat) + (SELECT count(*) FROM chat_thread) + (SELECT count(*) FROM chat_message) + "
    "(SELECT count(*) FROM chat_participant) + (SELECT count(*) FROM chat_invite) + (SELECT count(*) FROM chat_flag)";

// The statements that fill a freshly migrated database (whose default channel chatctl made).
std::vector<std::string> populate_sql(Dialect d, long long chats, long long messages) {
  const bool lite = d == Dialect::sqlite;
  const std::string n = std::to_string(chats);
  const std::string m = std::to_string(messages);
  const std::string t0 = std::to_string(kEpochUs);
  // a series 1..count as s(n), and what goes before INSERT for it
  const auto with = [&](const std::string& name, const std::string& col, const std::string& count) {
    return lite ? "WITH RECURSIVE " + name + "(" + col + ") AS (SELECT 1 UNION ALL SELECT " + col + " + 1 FROM " +
                      name + " WHERE " + col + " < " + count + ") "
                : std::string();
  };
  const auto from = [&](const std::string& name, const std::string& col, const std::string& count) {
    return lite ? name : "generate_series(1::bigint, " + count + "::bigint) AS " + name + "(" + col + ")";
  };
  std::vector<std::string> sql;
  // Ten channels in all: the default one and nine more.
  sql.push_back(with("g", "k", "9") +
                "INSERT INTO chat_channel (name, group_name, customer_users, public_users, valid_id, comments, "
                "create_time, create_by, change_time, change_by) SELECT 'Bench channel ' || k, 'users', 1, 0, 1, '', " +
                t0 + ", 'bench', " + t0 + ", 'bench' FROM " + from("g", "k", "9"));
  sql.push_back(with("s", "n", n) +
                "INSERT INTO chat (id, status, requester_id, requester_name, requester_type, target_type, "
                "chat_channel_id, ticket_id, create_time, change_time, properties) SELECT n, 'closed', "
                "'customer' || n, 'Customer ' || n, 'Customer', 'User', "
                "(SELECT min(id) FROM chat_channel) + n % (SELECT count(*) FROM chat_channel), 0, " +
                t0 + " + n * 1000000, " + t0 + " + n * 1000000 + 600000000, '{}' FROM " + from("s", "n", n));
  sql.push_back(
      "INSERT INTO chat_thread (id, chat_id, active, properties, create_time, close_time) "
      "SELECT id, id, 0, '{}', create_time, change_time FROM chat");
  sql.push_back(
      "INSERT INTO chat_participant (id, chat_id, chatter_id, chatter_name, chatter_type, chatter_active, "
      "invitation, monitoring, permission_level, create_time) "
      "SELECT 2 * id - 1, id, requester_id, requester_name, 'Customer', 0, 0, 0, '', create_time FROM chat");
  sql.push_back(
      "INSERT INTO chat_participant (id, chat_id, chatter_id, chatter_name, chatter_type, chatter_active, "
      "invitation, monitoring, permission_level, create_time) "
      "SELECT 2 * id, id, 'agent' || (id % 500), 'Agent ' || (id % 500), 'User', 0, 0, 0, 'Owner', "
      "create_time + 1000000 FROM chat");
  // Odd messages from the customer, even ones from the agent; 60 to 140 characters of text.
  sql.push_back(
      with("m", "k", m) +
      "INSERT INTO chat_message (chat_id, thread_id, chat_participant_id, message_text, system_generated, "
      "internal, event_type, custom_id, properties, payload, create_time) "
      "SELECT c.id, c.id, 2 * c.id - (m.k % 2), 'Message ' || m.k || ' of chat ' || c.id || ': ' || "
      "substr('Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
      "ut labore et dolore magna aliqua. Ut enim ad minim veniam.', 1, CAST(40 + (c.id * 7 + m.k * 13) % 80 "
      "AS INTEGER)), 0, 0, 'message', '', '{}', '{}', c.create_time + m.k * 10000000 FROM chat c CROSS JOIN " +
      from("m", "k", m) + (lite ? "" : " ORDER BY c.id, m.k"));
  sql.push_back(
      "INSERT INTO chat_flag (chat_id, flag_key, flag_value, create_by, create_time) "
      "SELECT id, 'NotificationChatUpdateSeen', '1', 'agent' || (id % 500), change_time FROM chat");
  if (!lite) {
    for (const char* t : {"chat", "chat_thread", "chat_participant", "chat_message"}) {
      sql.push_back(std::string("SELECT setval(pg_get_serial_sequence('") + t + "', 'id'), (SELECT max(id) FROM " + t +
                    "))");
    }
  }
  return sql;
}

// Every (not internal) message of every chat with its author and thread: what the export reference
// tools write.
constexpr const char* kExportSelect =
    "SELECT m.chat_id, m.thread_id, t.active AS thread_active, m.id, m.create_time, m.event_type, m.message_text AS "
    "text, p.chatter_id AS author_id, p.chatter_name AS author_name, p.chatter_type AS author_type "
    "FROM chat_message m JOIN chat_participant p ON p.id = m.chat_participant_id "
    "JOIN chat_thread t ON t.id = m.thread_id WHERE m.internal = 0 ORDER BY m.chat_id, m.id";

// ---- the table ---------------------------------------------------------------------------------

struct Row {
  std::string job, backend, chatctl, reference, ratio, target, met;
};

using chatctl::bench::fmt;
using chatctl::bench::fmt_int;

void print_table(const std::vector<Row>& rows) {
  const std::vector<std::string> head = {"job", "backend", "chatctl", "reference", "ratio", "target", "met"};
  std::vector<std::size_t> w(head.size());
  const auto cells = [](const Row& r) {
    return std::vector<std::string>{r.job, r.backend, r.chatctl, r.reference, r.ratio, r.target, r.met};
  };
  for (std::size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
  for (const auto& r : rows) {
    const auto c = cells(r);
    for (std::size_t i = 0; i < c.size(); ++i) w[i] = std::max(w[i], c[i].size());
  }
  const auto line = [&](const std::vector<std::string>& c) {
    std::string s = "|";
    for (std::size_t i = 0; i < c.size(); ++i) s += " " + c[i] + std::string(w[i] - c[i].size(), ' ') + " |";
    std::printf("%s\n", s.c_str());
  };
  line(head);
  std::string sep = "|";
  for (const auto n : w) sep += std::string(n + 2, '-') + "|";
  std::printf("%s\n", sep.c_str());
  for (const auto& r : rows) line(cells(r));
}

// ---- one backend -------------------------------------------------------------------------------

// What the jobs need of a built database.
struct Target {
  std::string backend;  // "sqlite" | "postgresql"
  std::string address;  // chatctl --db
  Counts counts;
  std::function<long long(const std::string&)> scalar;  // on the database chatctl works on
  std::function<std::string()> copy;                    // a copy for the reference cleanup; its address
  std::function<std::vector<std::string>(const std::string& address, const std::string& sql)> tool;  // sqlite3/psql
  std::vector<std::string> export_reference;  // argv writing the reference export to stdout
};

class Bench {
 public:
  Bench(Options opt, fs::path dir) : opt_(std::move(opt)), dir_(std::move(dir)) {
    fs::create_directories(dir_ / "config");
  }

  std::vector<Row> rows;
  std::vector<std::string> notes;

  Run chatctl(const std::string& name, std::vector<std::string> args, const std::string& out = "") {
    args.insert(args.begin(), opt_.chatctl);
    const std::string stdout_path = out.empty() ? path(name + ".out") : out;
    return run_process(args, stdout_path, path(name + ".err"), path("config"));
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // chatctl db migrate and a channel list, so that the schema and the default channel are chatctl's own.
  void migrate(const std::string& address, const std::string& label) {
    for (const auto& args : {std::vector<std::string>{"db", "migrate", "--db", address},
                             std::vector<std::string>{"--db", address, "channel", "list"}}) {
      const Run r = chatctl(label + "-setup", args);
      if (!r.ok()) throw std::runtime_error("chatctl " + args[0] + " " + args[1] + " on " + label + ": " + r.failure());
    }
  }

  void run_jobs(const Target& t) {
    std::cerr << "bench: " << t.backend << ": export\n";
    run_export(t);
    std::cerr << "bench: " << t.backend << ": cleanup\n";
    run_cleanup(t);
  }

 private:
  void run_export(const Target& t) {
    const std::string out = path(t.backend + "-export.jsonl");
    const Run r = chatctl(t.backend + "-export", {"--db", t.address, "export", "-o", "jsonl", "--file", out});
    const std::string ref_out = path(t.backend + "-export-reference.json");
    const Run ref = run_process(t.export_reference, ref_out, path(t.backend + "-export-reference.err"));

    const auto size = [](const std::string& p) {
      std::error_code ec;
      const auto s = fs::file_size(p, ec);
      return ec ? 0.0 : static_cast<double>(s);
    };
    const double mb = size(out) / 1e6;
    const double ref_mb = size(ref_out) / 1e6;
    const double rate = r.ok() && r.seconds > 0 ? mb / r.seconds : 0;
    const double ref_rate = ref.ok() && ref.seconds > 0 ? ref_mb / ref.seconds : 0;
    const double mib = static_cast<double>(r.maxrss_kib) / 1024.0;
    const double ref_mib = static_cast<double>(ref.maxrss_kib) / 1024.0;

    Row speed{"export MB/s",
              t.backend,
              r.ok() ? fmt(rate, 1) : "failed",
              ref.ok() ? fmt(ref_rate, 1) : "failed",
              "",
              ">= " + fmt(kExportMBPerSecond, 0) + ", ratio >= " + fmt(kExportRatio, 2),
              ""};
    Row memory{"export peak memory MiB",
               t.backend,
               r.ok() ? fmt(mib, 1) : "failed",
               ref.ok() ? fmt(ref_mib, 1) : "failed",
               "",
               "< " + fmt(kExportPeakMiB, 0),
               ""};
    if (r.ok() && ref.ok() && ref_rate > 0) {
      const double ratio = rate / ref_rate;
      speed.ratio = fmt(ratio, 2);
      speed.met = rate >= kExportMBPerSecond && ratio >= kExportRatio ? "yes" : "no";
    }
    if (r.ok()) memory.met = mib < kExportPeakMiB ? "yes" : "no";
    rows.push_back(speed);
    rows.push_back(memory);

    if (r.ok()) {
      const long long lines = count_lines(out);
      notes.push_back(t.backend + " export: chatctl wrote " + fmt(mb, 1) + " MB (" +
                      fmt_int(static_cast<double>(lines)) + " chats) in " + fmt(r.seconds, 2) + " s");
      if (lines != t.counts.chats) {
        notes.push_back("  ! expected " + fmt_int(static_cast<double>(t.counts.chats)) + " lines, one per chat");
      }
    } else {
      notes.push_back(t.backend + " export: chatctl failed: " + r.failure());
    }
    if (ref.ok()) {
      notes.push_back(t.backend + " export: reference (" + t.export_reference[0] + ") wrote " + fmt(ref_mb, 1) +
                      " MB (" + fmt_int(static_cast<double>(t.counts.messages)) + " messages) in " +
                      fmt(ref.seconds, 2) + " s");
    } else {
      notes.push_back(t.backend + " export: reference failed: " + ref.failure());
    }
    if (!opt_.keep) {
      std::error_code ec;
      fs::remove(out, ec);
      fs::remove(ref_out, ec);
    }
  }

  void run_cleanup(const Target& t) {
    const std::string copy = t.copy();
    // All chats were closed years ago; the reference deletes what `--closed --older-than 1s` selects.
    const auto now_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const std::string cutoff = std::to_string(now_us - 1'000'000);

    const std::string summary_path = path(t.backend + "-cleanup.json");
    const Run r = chatctl(t.backend + "-cleanup",
                          {"--db", t.address, "cleanup", "--closed", "--older-than", "1s", "-o", "json"}, summary_path);
    const Run ref = run_process(t.tool(copy, "DELETE FROM chat WHERE status = 'closed' AND change_time < " + cutoff),
                                path(t.backend + "-cleanup-reference.out"), path(t.backend + "-cleanup-reference.err"));

    std::optional<nlohmann::json> summary;
    if (r.ok()) {
      try {
        summary = nlohmann::json::parse(read_file(summary_path));
      } catch (const std::exception& e) {
        notes.push_back(t.backend + " cleanup: cannot read chatctl's summary: " + e.what());
      }
    }
    const auto number = [&](const char* key) -> std::optional<double> {
      if (!summary || !summary->contains(key) || !(*summary)[key].is_number()) return std::nullopt;
      return (*summary)[key].get<double>();
    };
    const auto rows_done = number("rows");
    const auto max_tx = number("max_transaction_ms");
    const double rate = rows_done && r.seconds > 0 ? *rows_done / r.seconds : 0;
    const double ref_rate = ref.ok() && ref.seconds > 0 ? static_cast<double>(t.counts.rows) / ref.seconds : 0;
    const bool sqlite = t.backend == "sqlite";

    Row speed{
        "cleanup rows/s",
        t.backend,
        !r.ok()     ? "failed"
        : rows_done ? fmt_int(rate)
                    : "no summary",
        ref.ok() ? fmt_int(ref_rate) : "failed",
        "",
        (sqlite ? ">= " + fmt_int(kCleanupRowsPerSecond) + ", " : std::string()) + "ratio >= " + fmt(kCleanupRatio, 2),
        ""};
    if (rows_done && ref_rate > 0) {
      const double ratio = rate / ref_rate;
      speed.ratio = fmt(ratio, 2);
      speed.met = (!sqlite || rate >= kCleanupRowsPerSecond) && ratio >= kCleanupRatio ? "yes" : "no";
    }
    Row tx{"cleanup max transaction ms",
           t.backend,
           !r.ok()  ? "failed"
           : max_tx ? fmt(*max_tx, 1)
                    : "no summary",
           "",
           "",
           "<= " + fmt(kCleanupMaxTransactionMs, 0),
           max_tx ? (*max_tx <= kCleanupMaxTransactionMs ? "yes" : "no") : ""};
    if (ref.ok()) tx.reference = fmt(ref.seconds * 1000, 0) + " (1 tx)";
    rows.push_back(speed);
    rows.push_back(tx);

    if (!r.ok()) {
      notes.push_back(t.backend + " cleanup: chatctl failed: " + r.failure());
    } else if (summary) {
      const auto n = [&](const char* key) { return number(key) ? fmt_int(*number(key)) : std::string("?"); };
      notes.push_back(t.backend + " cleanup: chatctl deleted " + n("rows") + " rows (" + n("chats") + " chats, " +
                      n("messages") + " messages) in " + n("batches") + " batches, " + fmt(r.seconds, 2) +
                      " s wall, elapsed_ms " + (number("elapsed_ms") ? fmt(*number("elapsed_ms"), 0) : "?"));
      if (rows_done && static_cast<long long>(*rows_done) != t.counts.rows) {
        notes.push_back("  ! expected " + fmt_int(static_cast<double>(t.counts.rows)) + " rows");
      }
      try {
        if (const long long left = t.scalar("SELECT count(*) FROM chat"); left != 0) {
          notes.push_back("  ! " + fmt_int(static_cast<double>(left)) + " chats left in the database");
        }
      } catch (const std::exception& e) {
        notes.push_back(std::string("  ! cannot count what is left: ") + e.what());
      }
    }
    if (ref.ok()) {
      notes.push_back(t.backend + " cleanup: reference (" + t.tool(copy, "")[0] + ", one cascading DELETE) deleted " +
                      fmt_int(static_cast<double>(t.counts.rows)) + " rows in " + fmt(ref.seconds, 2) + " s");
    } else {
      notes.push_back(t.backend + " cleanup: reference failed: " + ref.failure());
    }
  }

  Options opt_;
  fs::path dir_;
};

// ---- SQLite ------------------------------------------------------------------------------------

void bench_sqlite(Bench& bench, const Options& opt) {
  const std::string db = bench.path("bench.db");
  bench.migrate(db, "sqlite");
  Counts counts;
  {
    std::cerr << "bench: sqlite: building " << opt.chats << " chats, " << opt.chats * opt.messages << " messages in "
              << db << "\n";
    const auto t0 = Clock::now();
    SqliteDb conn(db);
    // Faster without a journal while building; chatctl's WAL mode comes back at the end.
    conn.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = ON; BEGIN");
    for (const auto& sql : populate_sql(Dialect::sqlite, opt.chats, opt.messages)) {
      conn.exec(sql);
      check_interrupt();
    }
    conn.exec("COMMIT; ANALYZE; PRAGMA journal_mode = WAL");
    counts = {conn.scalar("SELECT count(*) FROM chat"), conn.scalar("SELECT count(*) FROM chat_message"),
              conn.scalar(kCountRows)};
    std::cerr << "bench: sqlite: built in " << fmt(std::chrono::duration<double>(Clock::now() - t0).count(), 1)
              << " s, " << fmt(static_cast<double>(fs::file_size(db)) / 1e6, 0) << " MB\n";
  }
  const auto tool = [](const std::string& address, const std::string& sql) {
    return std::vector<std::string>{"sqlite3",   "-batch", "-init",
                                    "/dev/null", address,  "PRAGMA foreign_keys = ON; " + sql + ";"};
  };
  Target t;
  t.backend = "sqlite";
  t.address = db;
  t.counts = counts;
  t.scalar = [db](const std::string& sql) { return SqliteDb(db).scalar(sql); };
  t.copy = [&bench, db] {
    const std::string copy = bench.path("reference.db");
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ec;
      fs::remove(copy + suffix, ec);
      if (fs::exists(db + suffix)) fs::copy_file(db + suffix, copy + suffix);
    }
    return copy;
  };
  t.tool = tool;
  t.export_reference = {"sqlite3", "-batch", "-init", "/dev/null", "-json", db, kExportSelect};
  bench.run_jobs(t);
}

// ---- PostgreSQL --------------------------------------------------------------------------------

// The two databases, dropped by the destructor (unless kept).
class PgDatabases {
 public:
  PgDatabases(std::string admin, bool keep)
      : admin_(std::move(admin)), keep_(keep), name_("chatctl_bench_" + std::to_string(getpid())) {}
  ~PgDatabases() {
    if (keep_) {
      if (created_) std::cerr << "bench: kept the PostgreSQL databases " << name_ << " and " << name_ << "_ref\n";
      return;
    }
    try {
      PgDb admin(admin_);
      admin.exec("DROP DATABASE IF EXISTS " + name_ + "_ref WITH (FORCE)");
      admin.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::cerr << "bench: could not drop " << name_ << ": " << e.what() << "\n";
    }
  }
  PgDatabases(const PgDatabases&) = delete;
  PgDatabases& operator=(const PgDatabases&) = delete;

  std::string create() {
    PgDb admin(admin_);
    admin.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    created_ = true;
    admin.exec("CREATE DATABASE " + name_);
    return with_dbname(admin_, name_);
  }
  std::string copy() {
    PgDb admin(admin_);
    admin.exec("DROP DATABASE IF EXISTS " + name_ + "_ref WITH (FORCE)");
    admin.exec("CREATE DATABASE " + name_ + "_ref TEMPLATE " + name_);
    return with_dbname(admin_, name_ + "_ref");
  }

 private:
  std::string admin_;
  bool keep_;
  std::string name_;
  bool created_ = false;
};

void bench_postgresql(Bench& bench, const Options& opt, const std::string& admin) {
  PgDatabases dbs(admin, opt.keep);
  const std::string uri = dbs.create();
  bench.migrate(uri, "postgresql");
  Counts counts;
  {
    std::cerr << "bench: postgresql: building " << opt.chats << " chats, " << opt.chats * opt.messages << " messages\n";
    const auto t0 = Clock::now();
    PgDb conn(uri);
    conn.exec("BEGIN");
    for (const auto& sql : populate_sql(Dialect::postgresql, opt.chats, opt.messages)) {
      conn.exec(sql);
      check_interrupt();
    }
    conn.exec("COMMIT");
    conn.exec("VACUUM ANALYZE");
    counts = {conn.scalar("SELECT count(*) FROM chat"), conn.scalar("SELECT count(*) FROM chat_message"),
              conn.scalar(kCountRows)};
    std::cerr << "bench: postgresql: built in " << fmt(std::chrono::duration<double>(Clock::now() - t0).count(), 1)
              << " s, " << fmt(static_cast<double>(conn.scalar("SELECT pg_database_size(current_database())")) / 1e6, 0)
              << " MB\n";
  }
  const auto tool = [](const std::string& address, const std::string& sql) {
    return std::vector<std::string>{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", address, "-c", sql};
  };
  Target t;
  t.backend = "postgresql";
  t.address = uri;
  t.counts = counts;
  t.scalar = [uri](const std::string& sql) { return PgDb(uri).scalar(sql); };
  t.copy = [&dbs] { return dbs.copy(); };
  t.tool = tool;
  t.export_reference = tool(uri, std::string("COPY (SELECT row_to_json(r) FROM (") + kExportSelect + ") r) TO STDOUT");
  bench.run_jobs(t);
}

void usage(std::ostream& out) {
  out << "usage: bench_batch_jobs [--chats N] [--messages M] [--chatctl PATH] [--keep]\n"
         "  Times `chatctl cleanup` and `chatctl export` on SQLite, and on PostgreSQL too when\n"
         "  CHATCTL_TEST_PG is set (a postgresql:// URI of a server where we may CREATE DATABASE).\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "bench: " << a << " needs a value\n";
        std::exit(64);
      }
      return argv[++i];
    };
    if (a == "--chats") {
      opt.chats = std::atoll(value().c_str());
    } else if (a == "--messages") {
      opt.messages = std::atoll(value().c_str());
    } else if (a == "--chatctl") {
      opt.chatctl = value();
    } else if (a == "--keep") {
      opt.keep = true;
    } else if (a == "-h" || a == "--help") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "bench: unknown argument " << a << "\n";
      usage(std::cerr);
      return 64;
    }
  }
  if (opt.chats < 1 || opt.messages < 1) {
    std::cerr << "bench: --chats and --messages must be at least 1\n";
    return 64;
  }
  if (opt.chatctl.empty() || access(opt.chatctl.c_str(), X_OK) != 0) {
    std::cerr << "bench: no chatctl binary at '" << opt.chatctl
              << "': build the chatctl target or give --chatctl PATH\n";
    return 69;
  }
  opt.chatctl = fs::absolute(opt.chatctl).string();

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::string dir = (fs::temp_directory_path() / "chatctl-bench-batch-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    std::cerr << "bench: mkdtemp: " << std::strerror(errno) << "\n";
    return 1;
  }
  int status = 0;
  Bench bench(opt, dir);
  try {
    bench_sqlite(bench, opt);
    if (const char* pg = std::getenv("CHATCTL_TEST_PG"); pg != nullptr && *pg != '\0') {
      bench_postgresql(bench, opt, pg);
    } else {
      bench.notes.push_back("postgresql: skipped (CHATCTL_TEST_PG is not set)");
    }
  } catch (const std::exception& e) {
    std::cerr << "bench: " << e.what() << "\n";
    status = g_signal != 0 ? 128 + g_signal : 1;
  }

  if (!bench.rows.empty()) {
    print_table(bench.rows);
    std::printf("(%lld chats x %lld messages, all closed; chatctl %s; MB = 10^6 bytes; peak memory = ru_maxrss)\n",
                opt.chats, opt.messages, opt.chatctl.c_str());
    for (const auto& n : bench.notes) std::printf("%s\n", n.c_str());
  }
  if (opt.keep) {
    std::cerr << "bench: kept " << dir << "\n";
  } else {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return status;
}
