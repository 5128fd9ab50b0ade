// Benchmark: `chat list` and `flag get` with filters on a large SQLite database, next to the same
// SQL run by the sqlite3 command line tool on the same file in the same run.
//
//   bench_engine_queries [--chats N] [--messages M] [--db PATH] [--runs R]
//
// Builds (or reuses) a database of N chats (default 1,000,000) with M messages each (default 10),
// two participants per chat and one flag per chat, then times each query R times through the
// engine in process and through `sqlite3` and prints a table: best time, and the ratio.
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/settings.hpp"
#include "engine/channels.hpp"
#include "engine/chats.hpp"
#include "engine/engine.hpp"

using namespace chatctl;
using Clock = std::chrono::steady_clock;

namespace {

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::cerr << "bench: " << err << "\n";
    std::exit(1);
  }
}

long long scalar(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  return v;
}

void populate(const std::string& path, long long chats, long long messages) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  if (scalar(db, "SELECT count(*) FROM chat") >= chats) {
    sqlite3_close(db);
    return;
  }
  std::cerr << "bench: building " << chats << " chats, " << chats * messages << " messages in " << path << "\n";
  const auto t0 = Clock::now();
  exec(db, "PRAGMA synchronous = OFF; PRAGMA journal_mode = WAL; BEGIN");
  const std::string n = std::to_string(chats);
  exec(db, "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < " + n +
               ") INSERT INTO chat (id, status, requester_id, requester_name, requester_type, target_type, "
               "chat_channel_id, ticket_id, create_time, change_time) SELECT n, "
               "CASE n % 3 WHEN 0 THEN 'request' WHEN 1 THEN 'active' ELSE 'closed' END, 'c' || n, 'Customer ' || n, "
               "CASE n % 10 WHEN 0 THEN 'Public' WHEN 1 THEN 'User' ELSE 'Customer' END, 'User', 1 + n % 10, 0, "
               "1700000000000000 + n * 1000000, 1700000000000000 + n * 1000000 FROM s");
  exec(db, "INSERT INTO chat_participant (id, chat_id, chatter_id, chatter_name, chatter_type, chatter_active, "
           "invitation, monitoring, permission_level, create_time) "
           "SELECT 2 * id - 1, id, requester_id, requester_name, 'Customer', 1, 0, 0, '', create_time FROM chat");
  exec(db, "INSERT INTO chat_participant (id, chat_id, chatter_id, chatter_name, chatter_type, chatter_active, "
           "invitation, monitoring, permission_level, create_time) "
           "SELECT 2 * id, id, 'agent' || (id % 500), 'Agent ' || (id % 500), 'User', 1, 0, 2, 'Owner', create_time "
           "FROM chat");
  exec(db, "WITH RECURSIVE m(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM m WHERE k < " + std::to_string(messages) +
               ") INSERT INTO chat_message (chat_id, chat_participant_id, message_text, system_generated, internal, "
               "create_time) SELECT c.id, 2 * c.id - (m.k % 2), 'Message number ' || m.k || ' of chat ' || c.id, 0, "
               "CASE WHEN m.k % 7 = 0 THEN 1 ELSE 0 END, c.create_time + m.k FROM chat c, m");
  exec(db, "INSERT INTO chat_flag (chat_id, flag_key, flag_value, create_by, create_time) "
           "SELECT id, 'NotificationChatUpdateSeen', CASE id % 4 WHEN 0 THEN '0' ELSE '1' END, 'agent' || (id % 500), "
           "create_time FROM chat");
  exec(db, "COMMIT; ANALYZE");
  sqlite3_close(db);
  std::cerr << "bench: built in "
            << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t0).count() << " s\n";
}

template <class F>
double best_ms(int runs, F&& f) {
  double best = 1e18;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return best;
}

double sqlite3_tool_ms(const std::string& path, const std::string& sql, int runs) {
  const std::string cmd = "sqlite3 '" + path + "' \"" + sql + "\" > /dev/null";
  const double with_query = best_ms(runs, [&] { (void)std::system(cmd.c_str()); });
  const std::string empty = "sqlite3 '" + path + "' 'SELECT 1' > /dev/null";
  const double startup = best_ms(runs, [&] { (void)std::system(empty.c_str()); });
  return std::max(0.0, with_query - startup);  // the query, without process start-up
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  long long chats = 1'000'000;
  long long messages = 10;
  int runs = 5;
  std::string path = (std::filesystem::temp_directory_path() / "chatctl-bench-engine.db").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--chats") chats = std::atoll(argv[i + 1]);
    if (a == "--messages") messages = std::atoll(argv[i + 1]);
    if (a == "--db") path = argv[i + 1];
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
  }
  core::ManualClock clock{1700000000000000LL + chats * 1000000LL};
  const auto settings = core::Settings::defaults({{"database", path}, {"ChatEngine::ChatDecayTime", "30"}});
  auto store = engine::open_database(settings, clock);
  engine::ChannelAdmin admin(*store, clock, "bench");
  for (int c = static_cast<int>(admin.list({}).size()); c < 10; ++c) {
    engine::ChannelFields f;
    f.name = "Channel " + std::to_string(c + 1);
    f.group = "users";
    admin.add(f, false);
  }
  populate(path, chats, messages);
  store = engine::open_database(settings, clock);
  engine::ChatEngine chats_engine(*store, settings, clock, "bench");

  struct Query {
    std::string name;
    std::function<std::size_t()> engine;
    std::string sql;
  };
  const std::vector<Query> queries = {
      {"chat list --status request --channel 3 --limit 100",
       [&] {
         engine::ChatQuery q;
         q.filter.status = model::ChatStatus::request;
         q.filter.channel_ids = {3};
         q.filter.limit = 100;
         return chats_engine.chats(q).size();
       },
       "SELECT c.id, c.status, c.requester_id, ch.name FROM chat c JOIN chat_channel ch ON ch.id = c.chat_channel_id "
       "WHERE c.status = 'request' AND c.chat_channel_id IN (3) ORDER BY c.id LIMIT 100"},
      {"chat list --chatter-id agent7 --chatter-type User --status active",
       [&] {
         engine::ChatQuery q;
         q.filter.status = model::ChatStatus::active;
         q.filter.chatter_id = "agent7";
         q.filter.chatter_type = model::ChatterType::user;
         return chats_engine.chats(q).size();
       },
       "SELECT c.id FROM chat c JOIN chat_channel ch ON ch.id = c.chat_channel_id WHERE c.status = 'active' AND c.id IN "
       "(SELECT p.chat_id FROM chat_participant p WHERE p.chatter_type = 'User' AND p.chatter_id = 'agent7') ORDER BY "
       "c.id"},
      {"flag get --user agent8 --key NotificationChatUpdateSeen --value-not 1",
       [&] {
         store::FlagFilter f;
         f.user = "agent8";
         f.key = "NotificationChatUpdateSeen";
         f.value_not = "1";
         return chats_engine.flags(f).size();
       },
       "SELECT chat_id, flag_key, flag_value, create_by FROM chat_flag WHERE flag_key = 'NotificationChatUpdateSeen' "
       "AND create_by = 'agent8' AND flag_value <> '1' ORDER BY chat_id, flag_key, create_by"},
      {"flag get --chat 4242",
       [&] {
         store::FlagFilter f;
         f.chat_id = 4242;
         return chats_engine.flags(f).size();
       },
       "SELECT chat_id, flag_key, flag_value, create_by FROM chat_flag WHERE chat_id = 4242 ORDER BY chat_id, "
       "flag_key, create_by"},
      {"message list 4242 --exclude-internal",
       [&] {
         engine::MessageQuery q;
         q.filter.exclude_internal = true;
         return chats_engine.messages(4242, q).size();
       },
       "SELECT m.id, m.message_text, p.chatter_name FROM chat_message m JOIN chat_participant p ON p.id = "
       "m.chat_participant_id WHERE m.chat_id = 4242 AND m.internal <> 1 ORDER BY m.id"},
  };

  std::printf("%-70s %8s %12s %12s %8s\n", "query", "rows", "chatctl ms", "sqlite3 ms", "ratio");
  for (const auto& q : queries) {
    std::size_t rows = 0;
    const double engine_ms = best_ms(runs, [&] { rows = q.engine(); });
    const double tool_ms = sqlite3_tool_ms(path, q.sql, runs);
    std::printf("%-70s %8zu %12.3f %12.3f %8.2f\n", q.name.c_str(), rows, engine_ms, tool_ms,
                tool_ms > 0 ? engine_ms / tool_ms : 0.0);
  }
  std::printf("(%lld chats, %lld messages; best of %d runs; sqlite3 time is its run minus its start-up)\n", chats,
              chats * messages, runs);
  return 0;
}
